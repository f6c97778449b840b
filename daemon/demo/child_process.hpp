// A helper process the demo starts (a broker, a device simulator): in its own process group so
// Ctrl-C on the terminal reaches only estate-edge, which then drains before its helpers go;
// terminated with us (PR_SET_PDEATHSIG) if we die first. Its stdout and stderr go through one
// pipe: start-up waits for a line that says it is ready, then everything it says is copied to
// its log file by a thread of its own. Thread-safety: one owner.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace estate::demo {

class ChildProcess {
 public:
  // Runs argv[0] (a path) with argv. `ready` is asked about each line of output until it answers
  // true; that line is returned by ready_line(). Throws std::runtime_error naming the program and
  // what it said when it exits or stays silent for `timeout`.
  static std::unique_ptr<ChildProcess> start(const std::vector<std::string>& argv,
                                             const std::filesystem::path& log_file,
                                             const std::function<bool(std::string_view)>& ready,
                                             std::chrono::milliseconds timeout);
  ~ChildProcess();  // SIGTERM to its group, then waits for it
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  const std::string& ready_line() const { return ready_line_; }
  const std::filesystem::path& log_file() const { return log_; }
  int pid() const { return pid_; }

 private:
  ChildProcess() = default;
  int pid_ = -1;
  std::string ready_line_;
  std::filesystem::path log_;
  std::thread drain_;
};

// An executable named `name`: PATH first, then `extra_dirs`; empty if none.
std::filesystem::path find_program(std::string_view name,
                                   const std::vector<std::filesystem::path>& extra_dirs = {});

// A TCP port on 127.0.0.1 that the kernel just handed out (for a program that cannot listen on
// port 0 and tell us which it got).
int ephemeral_port();

}  // namespace estate::demo
