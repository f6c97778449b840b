// The state directory's lock: an exclusive flock(2) on <state_dir>/estate-edge.lock, held by the
// running daemon for its whole life and by `estate-edge restore` while it replaces the store, so
// a restore never swaps the database under a running daemon (and two restores never race).
// The kernel drops the lock when the holder dies, so a crashed daemon leaves nothing stale.
// Within one process the lock is shared: acquiring it again for the same directory returns the
// same holder (flock would otherwise refuse the second open file description).
// Thread-safety: acquire_state_lock may be called from any thread.
// Errors: StateLockError when another process holds the lock or the file cannot be opened.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>

namespace estate::backup {

class StateLockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateLock {
 public:
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  const std::filesystem::path& file() const { return file_; }

 private:
  friend std::shared_ptr<StateLock> acquire_state_lock(const std::filesystem::path& state_dir);
  StateLock(std::filesystem::path file, int fd) : file_(std::move(file)), fd_(fd) {}
  std::filesystem::path file_;
  int fd_;
};

std::filesystem::path state_lock_file(const std::filesystem::path& state_dir);

// Takes the lock without waiting (creating the directory and the lock file if needed).
std::shared_ptr<StateLock> acquire_state_lock(const std::filesystem::path& state_dir);

// True when some other process holds the lock (a daemon is running on the directory).
bool state_locked_elsewhere(const std::filesystem::path& state_dir);

}  // namespace estate::backup
