#include "daemon/backup/seq_highwater.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace estate::backup {

namespace fs = std::filesystem;

fs::path highwater_file(const fs::path& state_dir) { return state_dir / "outbox-seq.highwater"; }

void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + dir.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("fsync " + dir.string() + ": " + std::strerror(err));
}

void write_file_atomically(const fs::path& file, const std::string& content) {
  fs::path tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw std::runtime_error("write " + tmp.string() + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error("fsync " + tmp.string() + ": " + std::strerror(err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    throw std::runtime_error("rename " + tmp.string() + ": " + std::strerror(errno));
  }
  sync_directory(file.parent_path().empty() ? fs::path(".") : file.parent_path());
}

fs::path payment_highwater_file(const fs::path& state_dir) {
  return state_dir / "payment-seq.highwater";
}

std::optional<std::int64_t> read_number_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot read " + file.string() + ": " + std::strerror(errno));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0) {
    throw std::runtime_error(file.string() + " does not hold a seq number: '" +
                             text.substr(0, 40) + "'");
  }
  return v;
}

std::int64_t raise_number_file(const fs::path& file, std::int64_t value) {
  auto current = read_number_file(file);
  if (current && *current >= value) return *current;
  write_file_atomically(file, std::to_string(value) + "\n");
  return value;
}

std::optional<std::int64_t> read_highwater(const fs::path& state_dir) {
  return read_number_file(highwater_file(state_dir));
}

std::int64_t raise_highwater(const fs::path& state_dir, std::int64_t value) {
  return raise_number_file(highwater_file(state_dir), value);
}

}  // namespace estate::backup
