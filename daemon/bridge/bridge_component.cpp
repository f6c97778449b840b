#include "daemon/bridge/bridge_component.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace estate::cloud {

namespace {

void require_readable(const std::string& key, const std::string& file) {
  if (file.empty()) return;
  std::ifstream f(file);
  if (!f) throw std::runtime_error("mqtt." + key + ": cannot read " + file);
}

}  // namespace

bridge::BridgeOptions bridge_options(const config::SiteConfig& cfg) {
  const auto& m = cfg.mqtt;
  bridge::BridgeOptions o;
  o.url = m.url;
  o.site = cfg.site.id;
  o.gateway = cfg.gateway.id;
  o.version = ESTATE_EDGE_VERSION;
  o.username = m.username;
  o.password = m.password;
  if (!m.password_file.empty()) {
    std::ifstream f(m.password_file);
    if (!f) throw std::runtime_error("mqtt.password_file: cannot read " + m.password_file);
    std::stringstream ss;
    ss << f.rdbuf();
    o.password = ss.str();
    while (!o.password.empty() && (o.password.back() == '\n' || o.password.back() == '\r')) {
      o.password.pop_back();
    }
  }
  require_readable("ca_file", m.ca_file);
  require_readable("cert_file", m.cert_file);
  require_readable("key_file", m.key_file);
  o.ca_file = m.ca_file;
  o.cert_file = m.cert_file;
  o.key_file = m.key_file;
  o.keepalive = m.keepalive;
  o.inflight = m.inflight;
  o.batch = m.batch;
  o.drain_timeout = m.drain_timeout;
  o.max_command_bytes = max_command_bytes;
  int offset = cfg.site.utc_offset_minutes;
  o.timestamp = [offset] { return store::iso8601_now(offset); };
  return o;
}

BridgeComponent::BridgeComponent(runtime::Services& services)
    : services_(services),
      config_(services.config()),
      outbox_(services.store),
      started_at_(std::chrono::steady_clock::now()) {
  const int offset = config_->site.utc_offset_minutes;
  auto timestamp = [offset] { return store::iso8601_now(offset); };
  registry_.add("ping", [this, timestamp](Command cmd, CommandReply reply) {
    bridge::CommandAck ack;
    ack.id = cmd.id;
    ack.command = cmd.name;
    ack.ok = true;
    std::int64_t backlog = -1;
    try {
      backlog = outbox_.backlog();
    } catch (const std::exception& e) {
      spdlog::warn("ping: cannot count the backlog: {}", e.what());
    }
    ack.result = {{"pong", true},
                  {"version", ESTATE_EDGE_VERSION},
                  {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now() - started_at_)
                                   .count()},
                  {"backlog", backlog}};
    reply(std::move(ack));
  });
  for (auto& spec : default_list_specs()) {
    auto name = spec.name;
    registry_.add(name, make_list_handler(services_.store, std::move(spec), timestamp));
  }
}

BridgeComponent::~BridgeComponent() = default;

void BridgeComponent::set_list(ListSpec spec) {
  bool known = false;
  for (const auto& s : default_list_specs()) known |= s.name == spec.name;
  if (!known) throw std::logic_error("'" + spec.name + "' is not a list the cloud bridge handles");
  const int offset = config_->site.utc_offset_minutes;
  auto name = spec.name;
  registry_.replace(name, make_list_handler(services_.store, std::move(spec),
                                            [offset] { return store::iso8601_now(offset); }));
}

void BridgeComponent::start() {
  auto options = bridge_options(*config_);
  spdlog::info("cloud bridge: {} as client '{}', in flight {}, batch {}", options.url,
               options.gateway, options.inflight, options.batch);
  bridge_ = std::make_unique<bridge::Bridge>(
      services_.io, std::move(options), outbox_, static_cast<bridge::CommandSink&>(*this),
      [this](bridge::BrokerState s, const std::string& detail) { record_state(s, detail); });
  bridge_->start();
}

void BridgeComponent::stop(std::function<void()> done) {
  if (!bridge_) {
    done();
    return;
  }
  bridge_->stop([this, done = std::move(done)] {
    // The store runs jobs in order: once this empty job is through, every list command queued
    // before it has committed and published to its domain.
    services_.store.write([](store::Database&) {}, [done](std::exception_ptr) { done(); });
  });
}

void BridgeComponent::on_command(const std::string& name, std::string payload, Reply reply) {
  auto parsed = parse_command(name, payload);
  if (!parsed.command) {
    spdlog::warn("cmd/{} refused: {}", name, parsed.refusal.error);
    reply(std::move(parsed.refusal));
    return;
  }
  registry_.dispatch(std::move(*parsed.command), std::move(reply));
}

void BridgeComponent::record_state(bridge::BrokerState state, const std::string&) {
  std::string s = bridge::to_string(state);
  if (s == recorded_state_) return;  // reconnect attempts during an outage change nothing
  recorded_state_ = s;
  auto since = store::iso8601_now(config_->site.utc_offset_minutes);
  services_.store.write([s, since](store::Database& db) {
    auto up = db.prepare(
        "INSERT INTO meta(key, value) VALUES(?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    up.bind(1, "broker_state").bind(2, s).run();
    up.bind(1, "broker_state_since").bind(2, since).run();
  });
}

}  // namespace estate::cloud
