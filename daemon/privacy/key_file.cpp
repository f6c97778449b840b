#include "daemon/privacy/key_file.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace estate::privacy {

namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

void check_key_file_mode(const std::filesystem::path& file) {
  const std::string name = file.string();
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw KeyFileError("key file " + name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw KeyFileError("key file " + name + " is not a regular file");
  if ((st.st_mode & 0077) != 0) {
    const auto mode = std::to_string((st.st_mode >> 6) & 7) +
                      std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7);
    throw KeyFileError("key file " + name + " is accessible by " +
                       ((st.st_mode & 0007) != 0 ? "other users" : "its group") + " (mode " +
                       mode + "): chmod 600 " + name);
  }
}

Key read_key_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  check_key_file_mode(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw KeyFileError("key file " + name + ": " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Key key{};
  if (bytes.size() == key.size()) {
    std::memcpy(key.data(), bytes.data(), key.size());
  } else {
    std::size_t b = 0, e = bytes.size();
    while (b < e && is_space(bytes[b])) ++b;
    while (e > b && is_space(bytes[e - 1])) --e;
    if (e - b != 2 * key.size()) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      throw KeyFileError("key file " + name + " holds " + std::to_string(bytes.size()) +
                         " bytes: expected 32 raw bytes or 64 hex digits "
                         "(head -c32 /dev/urandom > key)");
    }
    for (std::size_t i = 0; i < key.size(); ++i) {
      int hi = nibble(bytes[b + 2 * i]), lo = nibble(bytes[b + 2 * i + 1]);
      if (hi < 0 || lo < 0) {
        OPENSSL_cleanse(bytes.data(), bytes.size());
        OPENSSL_cleanse(key.data(), key.size());
        throw KeyFileError("key file " + name +
                           " is 64 characters but not hex: expected 64 hex digits or 32 raw bytes");
      }
      key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  bool all_zero = true;
  for (auto v : key) all_zero = all_zero && v == 0;
  if (all_zero) throw KeyFileError("key file " + name + " is all zero bytes: generate a random key");
  return key;
}

Key load_or_create_key_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return read_key_file(file);
  const std::string name = file.string();
  Key key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw KeyFileError("key file " + name + ": OpenSSL RAND_bytes failed");
  }
  const auto tmp = std::filesystem::path(name + ".tmp");
  auto fail = [&](const char* what) {
    const int err = errno;
    OPENSSL_cleanse(key.data(), key.size());
    ::unlink(tmp.c_str());
    throw KeyFileError("key file " + name + ": " + what + ": " + std::strerror(err));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("create");
  std::size_t done = 0;
  while (done < key.size()) {
    const auto n = ::write(fd, key.data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) fail("rename");
  const int dir = ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return key;
}

std::string key_id(const Key& key, const std::string& purpose) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(), md, &len)) {
    throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 8 && i < len; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0xF]);
  }
  return out;
}

}  // namespace estate::privacy
