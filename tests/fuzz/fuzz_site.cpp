#include "tests/fuzz/fuzz_site.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>

#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "daemon/config/site_config.hpp"
#include "daemon/http/router.hpp"

namespace estate::fuzz {

std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::filesystem::path base = "/tmp";
  if (const char* t = std::getenv("TMPDIR"); t && *t) {
    base = t;
  } else if (std::filesystem::is_directory("/dev/shm")) {
    base = "/dev/shm";  // the store fsyncs: a RAM file system keeps the runs fast
  }
  std::string pattern = (base / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  return pattern;
}

std::string site_yaml(const std::filesystem::path& state_dir) {
  using http::sha256_hex;
  // Port 1 on the loopback: nothing listens, a connect is refused at once.
  return std::string(R"(site:
  id: )") + kSiteId + R"(
  name: "朝阳花园"
  utc_offset: "+08:00"
gateway:
  id: )" + kGatewayId + R"(
storage:
  state_dir: )" + state_dir.string() + R"(
mqtt:
  url: mqtt://127.0.0.1:1
http:
  listen: 127.0.0.1:1
  tokens:
    - { name: kiosk-lobby, role: kiosk, sha256: )" + sha256_hex(kKioskToken) + R"( }
    - { name: technician, role: technician, sha256: )" + sha256_hex(kTechnicianToken) + R"( }
    - { name: admin, role: admin, sha256: )" + sha256_hex(kAdminToken) + R"( }
buses:
  - { id: water-line-1, kind: tcp, protocol: cjt188, host: 127.0.0.1, port: 1, timeout_ms: 100 }
  - { id: gate-io, kind: tcp, protocol: modbus, host: 127.0.0.1, port: 1, timeout_ms: 100 }
  - { id: pos-link, kind: tcp, protocol: pos, host: 127.0.0.1, port: 1, timeout_ms: 200 }
devices:
  - { id: 1-1-101-water, kind: meter, bus: water-line-1, address: "00000000002101", medium: water, poll_interval_s: 3600, valve_policy: close_on_zero }
  - { id: 1-1-102-water, kind: meter, bus: water-line-1, address: "00000000002102", medium: water, poll_interval_s: 3600 }
  - { id: gate-io-1, kind: io_module, bus: gate-io, address: "1" }
  - id: gate-in
    kind: gate
    lane: entry
    relay: gate-io-1:0
    loop_input: gate-io-1:0
    options: { loop_poll_ms: 1000, open_timeout_s: 5 }
  - id: gate-out
    kind: gate
    lane: exit
    relay: gate-io-1:1
    options: { open_timeout_s: 5 }
  - { id: cam-in, kind: camera, model: vzenith, gate: gate-in, lane: entry, secret: )" + kCameraSecret + R"( }
  - { id: cam-out, kind: camera, model: vzenith, gate: gate-out, lane: exit, secret: )" + kCameraSecret + R"( }
  - { id: kiosk-lobby, kind: kiosk }
  - id: pos-1
    kind: pos
    bus: pos-link
    model: transbank-integrado
    options: { response_timeout_ms: 200, unknown_retry_ms: 3600000 }
tariffs:
  - { id: water-res, quantity: water, unit: m3, price: "3.45" }
accounts:
  - room: "1-1-101"
    area_m2: "89.50"
    headcount: 3
    prepaid: { low_balance_fen: [2000, 500], credit_limit_fen: 0, grace_minutes: 0 }
    meters:
      - { meter: 1-1-101-water, tariff: water-res }
  - room: "1-1-102"
    meters:
      - { meter: 1-1-102-water, tariff: water-res }
parking_rules:
  - { id: visitor, free_minutes: 30, unit_minutes: 60, unit_price_fen: 500, daily_cap_fen: 2000 }
)";
}

namespace {

Site* the_site = nullptr;

// Stops the components in reverse order, each once the previous one has drained (as the daemon
// does on SIGTERM), then the store and the pool. A stop that hangs is reported, and the process
// leaves without waiting further.
void teardown() {
  Site* s = the_site;
  if (!s) return;
  std::thread watchdog([] {
    std::this_thread::sleep_for(std::chrono::seconds(60));
    std::fprintf(stderr, "fuzz site: stopping the components took over 60 s\n");
    std::_Exit(1);
  });
  watchdog.detach();
  for (auto it = s->components.rbegin(); it != s->components.rend(); ++it) {
    std::promise<void> drained;
    auto f = drained.get_future();
    (*it)->stop([&drained] { drained.set_value(); });
    f.wait();
  }
  s->components.clear();
  s->store->stop();
  s->work.reset();
  s->io.stop();
  for (auto& t : s->threads) t.join();
  s->threads.clear();
}

Site* build() {
  // Log calls still format their arguments (a bug there is found too), into a null sink.
  auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);

  auto* s = new Site;
  s->dir = make_temp_dir("estate-edge-fuzz");
  s->config_file = s->dir / "site.yaml";
  {
    std::ofstream f(s->config_file);
    f << site_yaml(s->dir / "state");
  }
  config::Diagnostics diag;
  auto cfg = config::load_site_config(s->config_file, diag);
  if (!cfg) {
    std::fprintf(stderr, "fuzz site: invalid config:\n%s\n", diag.to_string().c_str());
    std::abort();
  }
  auto shared = std::make_shared<const config::SiteConfig>(std::move(*cfg));
  s->store = std::make_unique<store::Store>(shared->storage.state_dir, shared->storage.commit_batch);
  // As the daemon does first: the store belongs to this gateway.
  s->store->write_sync([](store::Database& db) {
    db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('gateway_id', ?1)")
        .bind(1, kGatewayId)
        .run();
  });
  s->services = std::make_unique<runtime::Services>(s->io, *s->store, shared);
  // cmd/config and the tariffs list validate the drop-in with the whole config, as the daemon
  // does; a valid one is not written or swapped in, so every input meets the same site.
  s->services->config_file = s->config_file;
  s->services->apply_dropin = [s](const config::DropIn& dropin) -> std::string {
    config::Diagnostics d;
    auto fresh = config::load_site_config(s->config_file, dropin, d);
    if (!fresh) {
      std::string why;
      for (const auto& e : d.errors()) why += (why.empty() ? "" : "; ") + e.to_string();
      return why.empty() ? std::string("invalid configuration") : why;
    }
    if (fresh->gateway.id != kGatewayId) return "gateway.id cannot change on reload";
    return {};
  };
  s->components = runtime::make_components(*s->services);
  for (auto& c : s->components) {
    if (auto* h = dynamic_cast<http::HttpComponent*>(c.get())) {
      s->http = h;
      // What start() does before it binds: the tokens of the config.
      h->reload(shared);
      continue;
    }
    if (auto* b = dynamic_cast<bridge::BridgeComponent*>(c.get())) {
      s->bridge = b;
      // The seeds' commands are issued at kCommandTime - 30 s and valid for a day: every input
      // meets the same clock, and a seed never goes stale.
      b->set_clock([] { return kCommandTime; });
      continue;
    }
    c->start();
  }
  if (!s->http || !s->bridge) {
    std::fprintf(stderr, "fuzz site: the HTTP and bridge components are missing\n");
    std::abort();
  }
  // The daemon's pool: handlers post work to the io_context.
  s->work = std::make_unique<Site::Work>(s->io.get_executor());
  for (int i = 0; i < 2; ++i) s->threads.emplace_back([s] { s->io.run(); });
  // libFuzzer ends with exit(): stop the site as the daemon stops, before the statics its
  // threads use (the logger) are destroyed. Registered after them, so it runs first.
  std::atexit([] { teardown(); });
  return s;
}

}  // namespace

Site& site() {
  static Site* s = the_site = build();
  return *s;
}

}  // namespace estate::fuzz
