#include <spdlog/spdlog.h>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/http/server.hpp"
#include "daemon/runtime/daemon.hpp"
#include "daemon/runtime/logging.hpp"

namespace estate::cli {

void add_run_command(CLI::App& app) {
  struct Options {
    std::string config;
    std::string state_dir;
    int threads = 0;
    std::string log_level;
    std::string http;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "Run the gateway daemon (as systemd does)");
  cmd->add_option("--config,-c", o->config, "Site config file (YAML)")->required();
  cmd->add_option("--state-dir", o->state_dir, "State directory (overrides storage.state_dir)");
  cmd->add_option("--threads", o->threads, "Worker threads (default: hardware threads)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--http", o->http, "Local HTTP listener HOST:PORT (overrides http.listen)");
  cmd->add_option("--log-level", o->log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd->callback([o] {
    config::Diagnostics diag;
    auto cfg = config::load_site_config(o->config, diag);
    if (!cfg) {
      std::cerr << diag.to_string();
      fail(exit_usage, "invalid configuration, not starting");
    }
    if (!o->http.empty()) {
      if (!http::parse_listen(o->http)) {
        fail(exit_usage, "--http: expected HOST:PORT such as 127.0.0.1:8080, got '" + o->http + "'");
      }
      cfg->http.listen = o->http;
    }
    runtime::setup_logging(o->log_level.empty() ? cfg->logging.level : o->log_level);
    for (const auto& w : diag.warnings()) spdlog::warn("config: {}", w.to_string());
    runtime::DaemonOptions opts;
    opts.config_file = o->config;
    if (!o->state_dir.empty()) opts.state_dir = o->state_dir;
    opts.threads = o->threads;
    opts.http_listen = o->http;
    int rc = runtime::run_daemon(std::make_shared<const config::SiteConfig>(std::move(*cfg)), opts);
    if (rc != 0) fail(rc);
  });
}

}  // namespace estate::cli
