#include "daemon/backup/state_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

namespace estate::backup {

namespace fs = std::filesystem;

namespace {

std::mutex registry_mutex;
std::map<fs::path, std::weak_ptr<StateLock>>& registry() {
  static std::map<fs::path, std::weak_ptr<StateLock>> r;
  return r;
}

fs::path key_of(const fs::path& state_dir) {
  std::error_code ec;
  auto p = fs::weakly_canonical(state_dir, ec);
  return ec ? fs::absolute(state_dir) : p;
}

}  // namespace

fs::path state_lock_file(const fs::path& state_dir) { return state_dir / "estate-edge.lock"; }

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

std::shared_ptr<StateLock> acquire_state_lock(const fs::path& state_dir) {
  std::lock_guard lock(registry_mutex);
  const fs::path key = key_of(state_dir);
  if (auto held = registry()[key].lock()) return held;

  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) {
    throw StateLockError("cannot create state directory " + state_dir.string() + ": " +
                         ec.message());
  }
  const fs::path file = state_lock_file(state_dir);
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw StateLockError("cannot open lock file " + file.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      throw StateLockError("state directory " + state_dir.string() +
                           " is in use by another process (a running estate-edge daemon or "
                           "restore holds " + file.string() + "); stop it first");
    }
    throw StateLockError("cannot lock " + file.string() + ": " + std::strerror(err));
  }
  std::shared_ptr<StateLock> held(new StateLock(file, fd));
  registry()[key] = held;
  return held;
}

bool state_locked_elsewhere(const fs::path& state_dir) {
  {
    std::lock_guard lock(registry_mutex);
    if (auto held = registry()[key_of(state_dir)].lock()) return false;
  }
  int fd = ::open(state_lock_file(state_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

}  // namespace estate::backup
