// `estate-edge demo`: the demo site (embedded config) on a state directory, publishing to
// --mqtt-url or to a mosquitto the demo starts for itself.
#include <charconv>
#include <filesystem>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/demo/demo_site.hpp"
#include "daemon/demo/mosquitto.hpp"
#include "daemon/demo/simulated_site.hpp"
#include "daemon/http/router.hpp"
#include "daemon/runtime/daemon.hpp"
#include "daemon/runtime/logging.hpp"

namespace estate::cli {

namespace {

// A token for the demo's kiosk and technician: 16 random bytes as hex, new at every start.
std::string random_token() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", rd());
  return out;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  struct Options {
    std::string state_dir;
    std::string mqtt_url;
    std::string http;
    std::string sim_dir;
    bool no_sim = false;
    bool print_config = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Run the demo site: simulated meters, car park, POS and printer wired to the gateway, "
      "records published to --mqtt-url or to a mosquitto the demo starts itself");
  auto* sd = cmd->add_option("--state-dir", o->state_dir, "State directory (created if needed)");
  cmd->add_option("--mqtt-url", o->mqtt_url, "Broker, e.g. mqtt://127.0.0.1:1883 (default: own)");
  cmd->add_option("--http", o->http,
                  "Local HTTP listener HOST:PORT (default: 127.0.0.1 on a free port)");
  cmd->add_option("--sim-dir", o->sim_dir,
                  "Where the device simulators are (default: $ESTATE_EDGE_SIM_DIR, else the "
                  "source tree's tests/sim)");
  cmd->add_flag("--no-sim", o->no_sim, "No simulated devices: the gateway heartbeat only");
  cmd->add_flag("--print-config", o->print_config,
                "Print the embedded site config (without the simulated devices) and exit");
  cmd->callback([o, sd] {
    if (o->print_config) {
      std::cout << demo::demo_site_yaml();
      return;
    }
    if (o->state_dir.empty()) fail(exit_usage, std::string(sd->get_name()) + " is required");
    if (!o->mqtt_url.empty() && o->mqtt_url.rfind("mqtt://", 0) != 0 &&
        o->mqtt_url.rfind("mqtts://", 0) != 0) {
      fail(exit_usage, "--mqtt-url: expected mqtt://host:port or mqtts://host:port, got '" +
                           o->mqtt_url + "'");
    }
    std::string http_host = "127.0.0.1";
    int http_port = 0;
    if (!o->http.empty()) {
      auto colon = o->http.rfind(':');
      int port = 0;
      if (colon != std::string::npos && colon > 0) {
        auto tail = std::string_view(o->http).substr(colon + 1);
        auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), port);
        if (ec != std::errc() || end != tail.data() + tail.size()) port = 0;
      }
      if (port <= 0 || port > 65535) {
        fail(exit_usage, "--http: expected HOST:PORT such as 127.0.0.1:8080, got '" + o->http + "'");
      }
      http_host = o->http.substr(0, colon);
      http_port = port;
    }
    std::string yaml(demo::demo_site_yaml());
    std::unique_ptr<demo::SimulatedSite> sim;
    const std::string kiosk_token = random_token(), tech_token = random_token();
    std::filesystem::path sim_dir =
        o->sim_dir.empty() ? demo::default_sim_dir() : std::filesystem::path(o->sim_dir);
    if (!o->no_sim && sim_dir.empty()) {
      std::cerr << "demo: device simulators not found (give --sim-dir or ESTATE_EDGE_SIM_DIR, "
                   "the source tree's tests/sim); running the gateway heartbeat only\n";
    }
    if (!o->no_sim && !sim_dir.empty()) {
      try {
        if (http_port == 0) http_port = demo::ephemeral_port();
        demo::SimulatedSiteOptions so;
        so.sim_dir = sim_dir;
        so.state_dir = o->state_dir;
        so.http_port = http_port;
        so.kiosk_token_sha256 = http::sha256_hex(kiosk_token);
        so.technician_token_sha256 = http::sha256_hex(tech_token);
        so.camera_secret = random_token();
        sim = demo::SimulatedSite::start(so);
      } catch (const std::exception& e) {
        fail(exit_runtime, e.what());
      }
      yaml += sim->config_yaml();
    } else if (http_port != 0) {
      yaml += "http:\n  listen: " + http_host + ":" + std::to_string(http_port) + "\n";
    }
    config::Diagnostics diag;
    auto cfg = config::load_site_config_text(yaml, "<demo site>", diag);
    if (!cfg) {
      std::cerr << diag.to_string();
      fail(exit_runtime, "the embedded demo config is invalid");
    }
    if (sim) cfg->http.listen = http_host + ":" + std::to_string(http_port);
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
    if (sim) {
      for (const auto& line : sim->summary()) std::cerr << "demo: simulator " << line << "\n";
      const std::string base = "http://" + http_host + ":" + std::to_string(http_port);
      std::cerr << "demo: kiosk page  " << base << "/kiosk/?token=" << kiosk_token
                << "&room=1-1-101  (room 1-1-101 is prepaid and empty: its water valve closes "
                   "at the first charge; a top-up opens it)\n"
                << "demo: dashboard   " << base << "/dashboard/?token=" << tech_token
                << "  (buses, meters, gates, uplink, charts)\n"
                << "demo: technician token " << tech_token << "  e.g. curl -H 'Authorization: "
                << "Bearer " << tech_token << "' " << base << "/api/payments\n"
                << "demo: status         estate-edge status --state-dir " << o->state_dir << "\n";
    }
    cfg->storage.state_dir = o->state_dir;
    runtime::DaemonOptions opts;
    opts.state_dir = o->state_dir;
    int rc = runtime::run_daemon(std::make_shared<const config::SiteConfig>(std::move(*cfg)), opts);
    sim.reset();     // the devices go after the gateway stopped using them
    broker.reset();  // after the gateway drained
    if (rc != 0) fail(rc);
  });
}

}  // namespace estate::cli
