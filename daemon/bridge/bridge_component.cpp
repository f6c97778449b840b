#include "daemon/bridge/bridge_component.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "daemon/audit/audit.hpp"
#include "daemon/audit/security_config.hpp"

namespace estate::bridge {

namespace {

void require_readable(const std::string& key, const std::string& file) {
  if (file.empty()) return;
  std::ifstream f(file);
  if (!f) throw std::runtime_error("mqtt." + key + ": cannot read " + file);
}

}  // namespace

cloud_bridge::BridgeOptions bridge_options(const config::SiteConfig& cfg) {
  const auto& m = cfg.mqtt;
  cloud_bridge::BridgeOptions o;
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

CommandPolicy command_policy_of(const config::SiteConfig& cfg) {
  const auto sec = audit::security_config_of(cfg);
  CommandPolicy p;
  if (!sec.commands.platform_public_keys.empty()) {
    std::string error;
    p.keys = PlatformKeys::from_hex(sec.commands.platform_public_keys, error);
    // Validated when the config was loaded.
    if (!p.keys) throw std::runtime_error("security.platform_public_keys" + error);
  }
  for (const auto& [name, s] : sec.commands.max_age_s) p.expiry.max_age_s[name] = s;
  if (sec.commands.default_max_age_s) p.expiry.default_max_age_s = *sec.commands.default_max_age_s;
  if (sec.commands.clock_skew_s) p.expiry.clock_skew_s = *sec.commands.clock_skew_s;
  return p;
}

BridgeComponent::BridgeComponent(runtime::Services& services)
    : services_(services),
      config_(services.config()),
      outbox_(services.store),
      started_at_(std::chrono::steady_clock::now()),
      clock_([] {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      }),
      policy_(std::make_shared<const CommandPolicy>(command_policy_of(*config_))),
      dispatch_(boost::asio::make_strand(services.io)) {
  if (!policy_->keys) {
    spdlog::warn("security.platform_public_keys is not set: platform commands are obeyed without "
                 "a signature (docs/security.md)");
  }
  const int offset = config_->site.utc_offset_minutes;
  auto timestamp = [offset] { return store::iso8601_now(offset); };
  registry_.add("ping", [this, timestamp](Command cmd, CommandReply reply) {
    cloud_bridge::CommandAck ack;
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
    transactional_lists_.insert(name);
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
    registry_.dispatch(std::move(cmd), [done = std::move(done)](cloud_bridge::CommandAck ack) {
      done(ack.ok, ack.error, nlohmann::json::parse(ack.result.dump()));
    });
  };
}

// cmd/config: {"v":1,"id":..,"yaml":"<a conf.d drop-in>"} replaces conf.d/90-platform.yaml
// ("" removes it). Validated with the rest of the site config first; refused with the
// config's own file:line:column errors, and then nothing is written.
void BridgeComponent::on_config_command(Command cmd, CommandReply reply) {
  cloud_bridge::CommandAck ack;
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
    // The file is written inside the version's transaction: when it cannot be written the
    // version is not kept and the platform hears the error, so its resend is accepted later.
    if (!services_.config_file.empty()) {
      try {
        config::write_dropin(services_.config_file, dropin);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("conf.d/") + kTariffsDropIn +
                                 " not written: " + e.what());
      }
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
  bridge_ = std::make_unique<cloud_bridge::Bridge>(
      services_.io, std::move(options), outbox_, static_cast<cloud_bridge::CommandSink&>(*this),
      [this](cloud_bridge::BrokerState s, const std::string& detail) { record_state(s, detail); });
  bridge_->start();
}

void BridgeComponent::stop(std::function<void()> done) {
  if (!bridge_) {
    done();
    return;
  }
  bridge_->stop([this, done = std::move(done)] {
    // No command arrives any more. Commands already taken finish first (their handlers may
    // queue store jobs), at most 10 s; then, the store running jobs in order, once an empty job
    // is through every list command has committed and published to its domain.
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto drained = [this, done, once] {
      if (once->exchange(true)) return;
      services_.store.write([](store::Database&) {}, [done](std::exception_ptr) { done(); });
    };
    auto timer = std::make_shared<boost::asio::steady_timer>(services_.io, std::chrono::seconds(10));
    timer->async_wait([drained, timer](const boost::system::error_code&) { drained(); });
    {
      std::lock_guard lock(inflight_mutex_);
      if (!inflight_.empty()) {
        on_idle_ = [drained, timer] {
          timer->cancel();
          drained();
        };
        return;
      }
    }
    timer->cancel();
    drained();
  });
}

std::shared_ptr<const CommandPolicy> BridgeComponent::policy() const {
  std::lock_guard lock(policy_mutex_);
  return policy_;
}

void BridgeComponent::reload(std::shared_ptr<const config::SiteConfig> cfg) {
  try {
    auto p = std::make_shared<const CommandPolicy>(command_policy_of(*cfg));
    std::lock_guard lock(policy_mutex_);
    policy_ = std::move(p);
  } catch (const std::exception& e) {
    spdlog::error("cloud bridge: keeping the previous command settings: {}", e.what());
  }
}

void BridgeComponent::on_command(const std::string& name, std::string payload, Reply reply) {
  const auto policy = this->policy();
  const bool rerunnable = transactional_lists_.count(name) != 0;
  auto parsed = parse_command(name, payload, *policy);
  payload.clear();
  if (!parsed.command) {
    spdlog::warn("cmd/{} refused: {}", name, parsed.refusal.error);
    reply(std::move(parsed.refusal));
    return;
  }
  auto cmd = std::make_shared<Command>(std::move(*parsed.command));
  {
    std::unique_lock lock(inflight_mutex_);
    auto it = inflight_.find(cmd->id);
    if (it != inflight_.end()) {
      if (it->second.name == name) {
        // The same id while it runs: this message gets the same answer when it comes.
        it->second.replies.push_back(std::move(reply));
        return;
      }
      auto used_by = it->second.name;
      lock.unlock();
      cloud_bridge::CommandAck ack;
      ack.id = cmd->id;
      ack.command = name;
      ack.error = "id: already used by a " + used_by + " command";
      reply(std::move(ack));
      return;
    }
    inflight_[cmd->id] = InFlight{name, {}};
    inflight_[cmd->id].replies.push_back(std::move(reply));
  }
  const auto now = clock_();
  const auto keep_until = late_from(cmd->name, *cmd->times, policy->expiry);
  const auto received_at = store::iso8601_now(config_->site.utc_offset_minutes);
  struct Decision {
    bool run = false;
    bool remember = false;   // store `answer` as the id's answer
    bool duplicate = false;  // `answer` is the stored answer of an earlier message
    cloud_bridge::CommandAck answer;
  };
  auto decision = std::make_shared<Decision>();
  services_.store.write(
      [cmd, decision, now, keep_until, received_at, policy, rerunnable](store::Database& db) {
        *decision = Decision{};
        decision->answer.id = cmd->id;
        decision->answer.command = cmd->name;
        auto seen = find_answer(db, cmd->id);
        if (seen.state != StoredAnswer::State::none && seen.name != cmd->name) {
          decision->answer.error = "id: already used by a " + seen.name + " command";
          return;
        }
        if (seen.state == StoredAnswer::State::done) {
          decision->answer = std::move(seen.ack);
          decision->duplicate = true;
          return;
        }
        if (seen.state == StoredAnswer::State::running && !rerunnable) {
          // Taken before a restart that came before its answer: it may have run. Never twice.
          // (A bridge list stores its answer in the transaction that applies it: still
          // 'running' means it changed nothing, and it runs now.)
          decision->answer.error =
              "interrupted: the gateway stopped while this command was running; its outcome is "
              "unknown (check the state, then send a new command with a new id)";
          decision->remember = true;
          store_answer(db, cmd->name, decision->answer, received_at, keep_until);
          return;
        }
        if (auto late = check_times(cmd->name, *cmd->times, now, policy->expiry); !late.empty()) {
          decision->answer.error = std::move(late);
          return;
        }
        mark_running(db, *cmd, received_at, keep_until);
        prune_answers(db, now);
        decision->run = true;
      },
      [this, cmd, decision, keep_until, received_at](std::exception_ptr e) {
        if (e) {
          std::string what = "storage error";
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            what += std::string(": ") + x.what();
          }
          spdlog::error("cmd/{} id {}: {}", cmd->name, cmd->id, what);
          cloud_bridge::CommandAck ack;
          ack.id = cmd->id;
          ack.command = cmd->name;
          ack.error = std::move(what);
          return finish(cmd->id, std::move(ack), false);
        }
        if (!decision->run) {
          if (!decision->answer.ok && !decision->duplicate) {
            spdlog::warn("cmd/{} id {} refused: {}", cmd->name, cmd->id, decision->answer.error);
          } else if (decision->duplicate) {
            spdlog::info("cmd/{} id {}: already answered, the same answer again", cmd->name,
                         cmd->id);
          }
          return finish(cmd->id, std::move(decision->answer), decision->duplicate);
        }
        // Off the writer thread: handlers may wait on the store.
        boost::asio::post(dispatch_, [this, cmd, keep_until, received_at] {
          registry_.dispatch(*cmd, [this, cmd, keep_until, received_at](cloud_bridge::CommandAck ack) {
            answered(*cmd, keep_until, received_at, std::move(ack));
          });
        });
      });
}

void BridgeComponent::answered(Command cmd, std::int64_t keep_until, std::string received_at,
                               cloud_bridge::CommandAck ack) {
  ack.id = cmd.id;
  auto shared = std::make_shared<cloud_bridge::CommandAck>(std::move(ack));
  services_.store.write(
      [shared, name = cmd.name, keep_until, received_at](store::Database& db) {
        store_answer(db, name, *shared, received_at, keep_until);
      },
      [this, shared, id = cmd.id, name = cmd.name](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            // The id stays 'running': a re-delivery is answered "interrupted", never run twice.
            spdlog::error("cmd/{} id {}: storing its answer failed: {}", name, id, x.what());
          }
        }
        finish(id, std::move(*shared), false);
      });
}

void BridgeComponent::finish(const std::string& id, cloud_bridge::CommandAck ack, bool duplicate) {
  std::vector<Reply> replies;
  std::function<void()> idle;
  {
    std::lock_guard lock(inflight_mutex_);
    auto it = inflight_.find(id);
    if (it != inflight_.end()) {
      replies = std::move(it->second.replies);
      inflight_.erase(it);
    }
    if (inflight_.empty()) idle = std::move(on_idle_);
  }
  for (std::size_t i = 0; i < replies.size(); ++i) {
    cloud_bridge::CommandAck a = ack;
    if ((duplicate || i > 0) && a.ok) {
      if (!a.result.is_object()) a.result = nlohmann::ordered_json::object();
      a.result["duplicate"] = true;
    }
    replies[i](std::move(a));
  }
  if (idle) idle();
}

// broker_state, broker_state_since and broker_detail (why it is disconnected or refused) in
// meta, for `estate-edge status` and the dashboard. Written when the state changes (or a
// refusal's reason does), never per reconnect attempt.
void BridgeComponent::record_state(cloud_bridge::BrokerState state, const std::string& detail) {
  std::string s = cloud_bridge::to_string(state);
  const bool refused = state == cloud_bridge::BrokerState::refused;
  auto key = refused ? s + ": " + detail : s;
  if (key == recorded_state_) return;
  recorded_state_ = key;
  auto since = store::iso8601_now(config_->site.utc_offset_minutes);
  auto why = refused || state == cloud_bridge::BrokerState::disconnected ? detail : std::string();
  services_.store.write([s, since, why](store::Database& db) {
    auto up = db.prepare(
        "INSERT INTO meta(key, value) VALUES(?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    up.bind(1, "broker_state").bind(2, s).run();
    up.bind(1, "broker_state_since").bind(2, since).run();
    up.bind(1, "broker_detail").bind(2, why).run();
  });
}

}  // namespace estate::bridge
