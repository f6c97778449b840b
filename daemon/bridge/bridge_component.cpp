#include "daemon/bridge/bridge_component.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "daemon/audit/audit.hpp"

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
    if (name == "tariffs" && services_.apply_dropin) spec = tariffs_list_spec();
    registry_.add(name, make_list_handler(services_.store, std::move(spec), timestamp));
  }
  if (services_.apply_dropin) {
    registry_.add("config", [this](Command cmd, CommandReply reply) {
      on_config_command(std::move(cmd), std::move(reply));
    });
  }
  // The local admin API's lists take the platform's code path (same handlers, same checks).
  services_.apply_list = [this](const std::string& name, nlohmann::json body, std::string source,
                                runtime::Services::ListDone done) {
    if (!registry_.has(name)) return done(false, "no list '" + name + "' on this site", {});
    Command cmd;
    cmd.name = name;
    cmd.id = body.value("id", std::string());
    cmd.body = std::move(body);
    cmd.source = std::move(source);
    registry_.dispatch(std::move(cmd), [done = std::move(done)](bridge::CommandAck ack) {
      done(ack.ok, ack.error, nlohmann::json::parse(ack.result.dump()));
    });
  };
}

// cmd/config: {"v":1,"id":..,"yaml":"<a conf.d drop-in>"} replaces conf.d/90-platform.yaml
// ("" removes it). Validated with the rest of the site config first; refused with the
// config's own file:line:column errors, and then nothing is written.
void BridgeComponent::on_config_command(Command cmd, CommandReply reply) {
  bridge::CommandAck ack;
  ack.id = cmd.id;
  ack.command = cmd.name;
  for (auto& [k, v] : cmd.body.items()) {
    if (k != "v" && k != "id" && k != "yaml") {
      ack.error = "unknown field '" + k.substr(0, 64) + "'";
      reply(std::move(ack));
      return;
    }
  }
  auto y = cmd.body.find("yaml");
  if (y == cmd.body.end() || !y->is_string()) {
    ack.error = "yaml: expected a string (the drop-in's YAML text; \"\" removes it)";
    reply(std::move(ack));
    return;
  }
  config::DropIn dropin{kPlatformDropIn, y->get<std::string>()};
  // Validation, the write and the components' reload are file work: off the bridge's strand.
  boost::asio::post(services_.io, [this, dropin = std::move(dropin), ack = std::move(ack),
                            reply = std::move(reply)]() mutable {
    auto why = services_.apply_dropin(dropin);
    ack.ok = why.empty();
    if (ack.ok) {
      // A file and a reload cannot share the store's transaction: the entry is made durable
      // before the platform hears "ok", so an acknowledged change is always audited.
      audit::Entry e{"", "config.change", "platform:" + ack.id.value_or(""),
                     "file:conf.d/" + dropin.name, "",
                     nlohmann::json{{"removed", dropin.text.empty()}, {"bytes", dropin.text.size()}}
                         .dump()};
      try {
        services_.store.write_sync([&e](store::Database& db) { audit::append(db, e); });
      } catch (const std::exception& x) {
        spdlog::error("cmd/config id {}: applied, but its audit entry failed: {}",
                      ack.id.value_or(""), x.what());
      }
      ack.result = {{"file", "conf.d/" + dropin.name}, {"removed", dropin.text.empty()}};
    } else {
      ack.error = why;
    }
    reply(std::move(ack));
  });
}

// The tariffs list: each item is a tariff as in the `tariffs:` config section, its id the
// item's key. A complete version becomes conf.d/80-platform-tariffs.yaml; it is validated with
// the whole site config inside the list's transaction (an invalid one is refused and nothing of
// it is kept), then written and reloaded once committed.
ListSpec BridgeComponent::tariffs_list_spec() {
  ListSpec spec;
  spec.name = "tariffs";
  spec.max_items = 1000;
  spec.validate_item = [](const nlohmann::json& item) -> std::string {
    if (item.contains("id")) return "id: give the tariff's id as its key";
    return {};
  };
  spec.apply = [this](store::Database& db, const std::string& list,
                      std::int64_t version) -> ListSpec::Committed {
    nlohmann::ordered_json doc;
    doc["tariffs"] = nlohmann::ordered_json::array();
    for_each_list_item(db, list, [&](const nlohmann::json& item) {
      nlohmann::ordered_json t;
      t["id"] = item.at("key");
      for (auto& [k, v] : item.items()) {
        if (k != "key") t[k] = v;
      }
      doc["tariffs"].push_back(std::move(t));
    });
    config::DropIn dropin{kTariffsDropIn,
                          "# Written by estate-edge from the platform's tariffs list, version " +
                              std::to_string(version) + ". Do not edit: the next version replaces it.\n" +
                              doc.dump(2) + "\n"};
    if (doc["tariffs"].empty()) dropin.text.clear();
    config::Diagnostics diag;
    if (!services_.config_file.empty() &&
        !config::load_site_config(services_.config_file, dropin, diag)) {
      std::string why;
      for (const auto& e : diag.errors()) {
        why += (why.empty() ? "" : "; ") + e.to_string();
        if (why.size() > 1500) break;
      }
      throw std::runtime_error(why);
    }
    // Committed actions run on the store's writer thread; a reload may wait on the store.
    return [this, dropin = std::move(dropin)] {
      boost::asio::post(services_.io, [this, dropin] {
        if (auto why = services_.apply_dropin(dropin); !why.empty()) {
          spdlog::error("tariffs list: stored but not applied: {}", why);
        }
      });
    };
  };
  return spec;
}

BridgeComponent::~BridgeComponent() { services_.apply_list = nullptr; }

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
