// The running daemon: one io_context on a small thread pool, the store, the components, and
// the process signals (SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the config into a copy
// and swaps it only when valid). Reports READY/RELOADING/STOPPING/WATCHDOG to systemd.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config/site_config.hpp"

namespace estate::runtime {

struct DaemonOptions {
  std::filesystem::path config_file;                // re-read on SIGHUP; empty: embedded config
  std::optional<std::filesystem::path> state_dir;   // overrides storage.state_dir
  std::string http_listen;                          // `--http`: overrides http.listen, on reload too
  int threads = 0;                                  // 0: hardware threads (at least 2)
};

// Runs until SIGTERM/SIGINT. Returns the process exit code.
int run_daemon(std::shared_ptr<const config::SiteConfig> cfg, const DaemonOptions& options);

}  // namespace estate::runtime
