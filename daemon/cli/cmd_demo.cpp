// `estate-edge demo`: the demo site (embedded config) on a state directory, publishing to
// --mqtt-url or to a mosquitto the demo starts for itself.
#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/demo/demo_site.hpp"
#include "daemon/demo/mosquitto.hpp"
#include "daemon/runtime/daemon.hpp"
#include "daemon/runtime/logging.hpp"

namespace estate::cli {

void add_demo_command(CLI::App& app) {
  struct Options {
    std::string state_dir;
    std::string mqtt_url;
    std::string http;
    bool print_config = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Run the demo site: simulated records published to --mqtt-url, or to a mosquitto the demo "
      "starts itself on a free loopback port");
  auto* sd = cmd->add_option("--state-dir", o->state_dir, "State directory (created if needed)");
  cmd->add_option("--mqtt-url", o->mqtt_url, "Broker, e.g. mqtt://127.0.0.1:1883 (default: own)");
  cmd->add_option("--http", o->http, "Local HTTP listener HOST:PORT");
  cmd->add_flag("--print-config", o->print_config, "Print the embedded site config and exit");
  cmd->callback([o, sd] {
    if (o->print_config) {
      std::cout << demo::demo_site_yaml();
      return;
    }
    if (o->state_dir.empty()) fail(exit_usage, std::string(sd->get_name()) + " is required");
    config::Diagnostics diag;
    auto cfg = config::load_site_config_text(std::string(demo::demo_site_yaml()), "<demo site>", diag);
    if (!cfg) {
      std::cerr << diag.to_string();
      fail(exit_runtime, "the embedded demo config is invalid");
    }
    if (!o->mqtt_url.empty() && o->mqtt_url.rfind("mqtt://", 0) != 0 &&
        o->mqtt_url.rfind("mqtts://", 0) != 0) {
      fail(exit_usage, "--mqtt-url: expected mqtt://host:port or mqtts://host:port, got '" +
                           o->mqtt_url + "'");
    }
    if (!o->http.empty()) {
      auto colon = o->http.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == o->http.size()) {
        fail(exit_usage, "--http: expected HOST:PORT such as 127.0.0.1:8080, got '" + o->http + "'");
      }
      cfg->http.listen = o->http;
    }
    runtime::setup_logging(cfg->logging.level);
    std::unique_ptr<demo::MosquittoProcess> broker;
    if (o->mqtt_url.empty()) {
      try {
        broker = demo::MosquittoProcess::start(o->state_dir);
      } catch (const std::exception& e) {
        fail(exit_runtime, e.what());
      }
      cfg->mqtt.url = broker->url();
      std::cerr << "demo: started mosquitto on " << broker->url() << " (log "
                << broker->log_file().string() << ")\n";
    } else {
      cfg->mqtt.url = o->mqtt_url;
    }
    auto port_pos = cfg->mqtt.url.rfind(':');
    std::cerr << "demo: site " << cfg->site.id << ", gateway " << cfg->gateway.id
              << "; watch with: mosquitto_sub -v -t 'estate/" << cfg->site.id << "/"
              << cfg->gateway.id << "/#' -p " << cfg->mqtt.url.substr(port_pos + 1) << "\n";
    cfg->storage.state_dir = o->state_dir;
    runtime::DaemonOptions opts;
    opts.state_dir = o->state_dir;
    int rc = runtime::run_daemon(std::make_shared<const config::SiteConfig>(std::move(*cfg)), opts);
    broker.reset();  // after the gateway drained
    if (rc != 0) fail(rc);
  });
}

}  // namespace estate::cli
