// A mosquitto broker the demo (and the bridge benchmark) starts for itself: found on PATH (or
// Debian's /usr/sbin), listening on 127.0.0.1 at a port the kernel hands out, config and
// persistence in a directory of ours, a ChildProcess (its own process group, so the gateway
// drains before the broker goes; terminated with us). Thread-safety: one owner.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "daemon/demo/child_process.hpp"

namespace estate::demo {

class MosquittoProcess {
 public:
  // Throws std::runtime_error with a clear message: mosquitto not installed, not starting.
  static std::unique_ptr<MosquittoProcess> start(const std::filesystem::path& dir,
                                                 std::chrono::seconds timeout = std::chrono::seconds(15));

  int port() const { return port_; }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path log_file() const { return process_->log_file(); }

 private:
  MosquittoProcess() = default;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// The broker executable: PATH first, then /usr/sbin and /usr/local/sbin; empty if none.
std::filesystem::path find_mosquitto();

}  // namespace estate::demo
