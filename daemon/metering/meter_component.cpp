#include "daemon/metering/meter_component.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <boost/asio/post.hpp>

#include "daemon/audit/audit.hpp"
#include "daemon/record/record.hpp"

namespace estate::metering {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Device jobs (one poll's readings each) the store may hold before polls are shed: about half a
// second of a 2000-meter site, a few MB at most.
constexpr std::size_t kMaxPendingDeviceJobs = 1024;

bool meter_protocol(config::Protocol p) {
  return p == config::Protocol::mbus || p == config::Protocol::dlt645 ||
         p == config::Protocol::cjt188 || p == config::Protocol::modbus;
}

std::optional<std::string> iso(const std::optional<std::chrono::system_clock::time_point>& t,
                               int offset) {
  if (!t) return std::nullopt;
  return store::iso8601(*t, offset);
}

}  // namespace

bool MeterComponent::wanted(const config::SiteConfig& cfg) {
  for (const auto& d : cfg.devices) {
    if (d.kind != config::DeviceKind::meter) continue;
    const auto* b = cfg.find_bus(d.bus);
    if (b && meter_protocol(b->protocol)) return true;
  }
  return false;
}

MeterComponent::MeterComponent(runtime::Services& services, ReadingSink* sink,
                               std::chrono::milliseconds status_interval)
    : services_(services),
      cfg_(services.config()),
      status_timer_(services.io),
      retention_timer_(services.io),
      status_interval_(status_interval) {
  recorder_ = std::make_unique<Recorder>(services.store, cfg_->gateway.id,
                                         cfg_->site.utc_offset_minutes, ValidationPolicy{}, sink);
  bool need_models = false;
  for (const auto& b : cfg_->buses) need_models |= b.protocol == config::Protocol::modbus;
  if (need_models) {
    auto errors = models_.load_default_dirs();  // package, then site (overrides)
    for (const auto& e : errors) spdlog::error("meter models: {}", e.to_string());
  }
  for (const auto& bus : cfg_->buses) {
    if (!meter_protocol(bus.protocol)) continue;
    std::vector<config::DeviceConfig> devices;
    for (const auto& d : cfg_->devices) {
      if (d.kind == config::DeviceKind::meter && d.bus == bus.id) devices.push_back(d);
    }
    if (devices.empty()) continue;
    auto* rec = recorder_.get();
    // Device events become events rows and meter alarms (meter_offline ...) in one job.
    auto events = [rec](const std::string& kind, const std::string& device,
                        const std::string& detail) { rec->device_event(kind, device, detail); };
    auto on_readings = [rec](const config::DeviceConfig& d, std::vector<drivers::Reading> rs) {
      MeterTraits traits{d.counter_digits, d.medium == "water" || d.medium == "hot_water"};
      rec->record(std::move(rs), traits, d.medium,
                  [id = d.id](std::exception_ptr e, const RecordResult& r) {
                    if (e) {
                      try {
                        std::rethrow_exception(e);
                      } catch (const std::exception& ex) {
                        spdlog::error("meter {}: readings not stored: {}", id, ex.what());
                      }
                      return;
                    }
                    for (const auto& n : r.notes) spdlog::warn("reading flagged: {}", n);
                  });
    };
    // Overload: a poll is shed (skipped, counted) while the store's writer holds this many
    // device jobs: what cannot be stored at once is not read, so memory does not grow with
    // demand (docs/architecture.md, Meters).
    SchedulerOptions options;
    options.admit = [rec] { return rec->pending() < kMaxPendingDeviceJobs; };
    // A device whose config cannot make a driver stops the start with its name in the error.
    buses_.push_back(std::make_shared<BusScheduler>(services.io, bus, devices, &models_, options,
                                                    on_readings, events));
  }
}

MeterComponent::~MeterComponent() {
  if (web_ && collector_) web_->metrics.remove_collector(collector_);
}

void MeterComponent::add_metrics(std::shared_ptr<http::Web> web) {
  if (!web) return;
  web_ = std::move(web);
  std::vector<std::weak_ptr<BusScheduler>> buses(buses_.begin(), buses_.end());
  collector_ = web_->metrics.add_collector([buses] {
    std::vector<http::Sample> out;
    auto i64 = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    auto age = [](const std::optional<std::chrono::system_clock::time_point>& t) {
      return t ? std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count()
               : std::int64_t{0};
    };
    for (const auto& w : buses) {
      auto b = w.lock();
      if (!b) continue;
      const auto s = b->snapshot();
      const http::Labels bl{{"bus", s.bus}, {"protocol", s.protocol}};
      out.push_back({"estate_bus_up", "1 when the bus's line is up", "gauge", bl,
                     s.state == "up" ? 1 : 0});
      out.push_back({"estate_bus_requests_total", "requests sent on the bus", "counter", bl,
                     i64(s.requests)});
      out.push_back({"estate_bus_timeouts_total", "requests that got no answer in time",
                     "counter", bl, i64(s.timeouts)});
      out.push_back({"estate_bus_crc_errors_total", "answers with a bad checksum / CRC",
                     "counter", bl, i64(s.crc_errors)});
      out.push_back({"estate_bus_frame_errors_total", "answers that were not a frame",
                     "counter", bl, i64(s.frame_errors)});
      out.push_back({"estate_bus_polls_skipped_total",
                     "polls skipped: the bus was a whole interval behind, or shed under overload",
                     "counter", bl, i64(s.polls_skipped)});
      out.push_back({"estate_bus_polls_shed_total",
                     "polls skipped because the store could not take their readings (overload)",
                     "counter", bl, i64(s.polls_shed)});
      out.push_back({"estate_bus_last_success_seconds", "Unix time of the last good answer (0: none)",
                     "gauge", bl, age(s.last_success)});
      for (const auto& d : s.devices) {
        const http::Labels dl{{"bus", s.bus}, {"device", d.device}};
        out.push_back({"estate_meter_up", "1 ok, 0 failing or offline (breaker open)", "gauge",
                       dl, d.state == "ok" ? 1 : 0});
        out.push_back({"estate_meter_requests_total", "requests sent to the meter", "counter", dl,
                       i64(d.requests)});
        out.push_back({"estate_meter_timeouts_total", "requests the meter did not answer in time",
                       "counter", dl, i64(d.timeouts)});
        out.push_back({"estate_meter_crc_errors_total", "answers with a bad checksum / CRC",
                       "counter", dl, i64(d.crc_errors)});
        out.push_back({"estate_meter_readings_total", "readings taken from the meter", "counter",
                       dl, i64(d.readings)});
        out.push_back({"estate_meter_last_success_seconds",
                       "Unix time of the meter's last good poll (0: none)", "gauge", dl,
                       age(d.last_success)});
      }
    }
    return out;
  });
}

void MeterComponent::start() {
  recorder_->load_baselines();
  std::set<std::string> meters;
  for (const auto& d : cfg_->devices) {
    if (d.kind == config::DeviceKind::meter) meters.insert(d.id);
  }
  recorder_->load_alarms(meters);
  for (auto& b : buses_) {
    spdlog::info("meter bus {}: {} ({} devices)", b->id(), b->snapshot().link,
                 b->device_count());
    b->start();
  }
  arm_status();
  arm_retention(std::chrono::seconds(10));
}

void MeterComponent::stop(std::function<void()> done) {
  stopping_ = true;
  status_timer_.cancel();
  retention_timer_.cancel();
  auto remaining = std::make_shared<std::atomic<std::size_t>>(buses_.size() + 1);
  auto finish = [this, remaining, done]() {
    if (--*remaining != 0) return;
    write_status();
    done();
  };
  for (auto& b : buses_) b->stop(finish);
  finish();
}

void MeterComponent::command(const std::string& device, drivers::MeterCommand c,
                             std::function<void(error_code)> done) {
  const auto* d = cfg_->find_device(device);
  for (auto& b : buses_) {
    if (d && b->id() == d->bus) return b->command(device, c, std::move(done));
  }
  done(make_error_code(drivers::TransportError::unsupported));
}

void MeterComponent::add_commands(bridge::CommandRegistry& registry) {
  for (const char* name : {"valve", "relay"}) {
    registry.add(name, [this](bridge::Command cmd, bridge::CommandReply reply) {
      on_supply_command(cmd, std::move(reply));
    });
  }
}

void MeterComponent::on_supply_command(const bridge::Command& cmd, bridge::CommandReply reply) {
  cloud_bridge::CommandAck ack;
  ack.id = cmd.id;
  ack.command = cmd.name;
  auto refuse = [&](std::string error) {
    ack.error = std::move(error);
    spdlog::warn("cmd/{} id {} refused: {}", cmd.name, cmd.id, ack.error);
    reply(std::move(ack));
  };
  const bool valve = cmd.name == "valve";
  for (auto& [k, v] : cmd.body.items()) {
    if (k != "v" && k != "id" && k != "meter" && k != "action") {
      return refuse("unknown field '" + k.substr(0, 64) + "'");
    }
  }
  auto meter = cmd.body.find("meter");
  if (meter == cmd.body.end() || !meter->is_string() || meter->get_ref<const std::string&>().empty() ||
      meter->get_ref<const std::string&>().size() > 128) {
    return refuse("meter: expected the id of a meter (a string of 1 to 128 bytes)");
  }
  const std::string id = meter->get<std::string>();
  const auto* dev = cfg_->find_device(id);
  const bool on_bus = dev && dev->kind == config::DeviceKind::meter &&
                      std::any_of(buses_.begin(), buses_.end(),
                                  [&](const auto& b) { return b->id() == dev->bus; });
  if (!on_bus) return refuse("meter: '" + id.substr(0, 64) + "' is not a meter on this gateway");
  auto action = cmd.body.find("action");
  const std::string a = action != cmd.body.end() && action->is_string() ? action->get<std::string>() : "";
  drivers::MeterCommand c = drivers::MeterCommand::valve_close;
  if (valve && (a == "open" || a == "close")) {
    c = a == "open" ? drivers::MeterCommand::valve_open : drivers::MeterCommand::valve_close;
  } else if (!valve && (a == "trip" || a == "close")) {
    c = a == "trip" ? drivers::MeterCommand::relay_trip : drivers::MeterCommand::relay_close;
  } else {
    return refuse(valve ? "action: expected \"open\" or \"close\""
                        : "action: expected \"trip\" or \"close\"");
  }
  if (stopping_) return refuse("meters are stopping; send the command again");
  const auto* bus = cfg_->find_bus(dev->bus);
  const std::string protocol = bus ? std::string(config::to_string(bus->protocol)) : "";
  spdlog::info("cmd/{} id {}: {} {} on meter {}", cmd.name, cmd.id, cmd.name, a, id);
  // The bus strand answers; the outcome is recorded, then acknowledged.
  store::Store& st = services_.store;
  const std::string gateway = cfg_->gateway.id;
  const int offset = cfg_->site.utc_offset_minutes;
  command(id, c, [&st, gateway, offset, ack = std::move(ack), reply = std::move(reply), id, a,
                  protocol, name = cmd.name](error_code ec) mutable {
    std::string detail = "confirmed by the meter";
    if (ec == drivers::TransportError::unsupported) {
      detail = "meter " + id + " (" + protocol + ") has no " + name + " " + a;
    } else if (ec) {
      detail = name + " " + a + " on meter " + id + " failed: " + ec.message();
    }
    ack.ok = !ec;
    if (ec) {
      ack.error = detail;
    } else {
      ack.result = {{"meter", id}, {"action", a}, {"confirmed", true}};
    }
    const std::string ts = store::iso8601_now(offset);
    record::SupplyCommand ev;
    ev.ts = ts;
    ev.command_id = *ack.id;
    ev.meter = id;
    ev.action = name + "_" + a;
    ev.ok = !ec;
    ev.detail = detail;
    audit::Entry entry;
    entry.ts = ts;
    entry.kind = "supply." + name;
    entry.actor = "platform:" + *ack.id;
    entry.subject = "device:" + id;
    entry.detail_json = nlohmann::json{{"action", a}, {"ok", !ec}, {"detail", detail}}.dump();
    auto shared_ack = std::make_shared<cloud_bridge::CommandAck>(std::move(ack));
    st.write(
        [gateway, ev, entry](store::Database& db) {
          record::append(db, gateway, ev);
          audit::append(db, entry);
        },
        [shared_ack, reply = std::move(reply)](std::exception_ptr e) {
          if (e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& x) {
              spdlog::error("cmd/{} id {}: recording the outcome failed: {}",
                            shared_ack->command, shared_ack->id.value_or(""), x.what());
            }
          }
          if (shared_ack->ok) {
            spdlog::info("cmd/{} id {}: {}", shared_ack->command, shared_ack->id.value_or(""),
                         shared_ack->result.dump());
          } else {
            spdlog::warn("cmd/{} id {} failed: {}", shared_ack->command,
                         shared_ack->id.value_or(""), shared_ack->error);
          }
          reply(*shared_ack);
        });
  });
}

std::vector<BusStatus> MeterComponent::status() const {
  std::vector<BusStatus> out;
  for (const auto& b : buses_) out.push_back(b->snapshot());
  return out;
}

void MeterComponent::write_status() {
  auto snap = std::make_shared<std::vector<BusStatus>>(status());
  const int off = cfg_->site.utc_offset_minutes;
  const auto now = store::iso8601_now(off);
  services_.store.write([snap, off, now](store::Database& db) {
    auto bus = db.prepare(
        "INSERT INTO bus_status(bus, protocol, link, state, requests, timeouts, crc_errors,"
        " frame_errors, polls_skipped, last_success, updated_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT(bus) DO UPDATE SET protocol = excluded.protocol, link = excluded.link,"
        " state = excluded.state, requests = excluded.requests, timeouts = excluded.timeouts,"
        " crc_errors = excluded.crc_errors, frame_errors = excluded.frame_errors,"
        " polls_skipped = excluded.polls_skipped, last_success = excluded.last_success,"
        " updated_at = excluded.updated_at");
    auto dev = db.prepare(
        "INSERT INTO device_status(device, bus, state, requests, timeouts, crc_errors,"
        " frame_errors, polls, failures, consecutive_failures, readings, last_success,"
        " last_error, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        " ON CONFLICT(device) DO UPDATE SET bus = excluded.bus, state = excluded.state,"
        " requests = excluded.requests, timeouts = excluded.timeouts,"
        " crc_errors = excluded.crc_errors, frame_errors = excluded.frame_errors,"
        " polls = excluded.polls, failures = excluded.failures,"
        " consecutive_failures = excluded.consecutive_failures, readings = excluded.readings,"
        " last_success = excluded.last_success, last_error = excluded.last_error,"
        " updated_at = excluded.updated_at");
    auto i64 = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    for (const auto& b : *snap) {
      bus.bind(1, b.bus).bind(2, b.protocol).bind(3, b.link).bind(4, b.state);
      bus.bind(5, i64(b.requests)).bind(6, i64(b.timeouts)).bind(7, i64(b.crc_errors));
      bus.bind(8, i64(b.frame_errors)).bind(9, i64(b.polls_skipped));
      bus.bind(10, iso(b.last_success, off)).bind(11, now).run();
      for (const auto& d : b.devices) {
        dev.bind(1, d.device).bind(2, d.bus).bind(3, d.state).bind(4, i64(d.requests));
        dev.bind(5, i64(d.timeouts)).bind(6, i64(d.crc_errors)).bind(7, i64(d.frame_errors));
        dev.bind(8, i64(d.polls)).bind(9, i64(d.failures)).bind(10, i64(d.consecutive_failures));
        dev.bind(11, i64(d.readings)).bind(12, iso(d.last_success, off));
        dev.bind(13, d.last_error.empty() ? std::optional<std::string>() : d.last_error);
        dev.bind(14, now).run();
      }
    }
  });
}

void MeterComponent::arm_status() {
  status_timer_.expires_after(status_interval_);
  status_timer_.async_wait([this](error_code ec) {
    if (ec || stopping_) return;
    write_status();
    arm_status();
  });
}

void MeterComponent::arm_retention(std::chrono::seconds after) {
  retention_timer_.expires_after(after);
  retention_timer_.async_wait([this](error_code ec) {
    if (ec || stopping_) return;
    const auto days = cfg_->storage.telemetry_retention_days;
    recorder_->apply_retention(std::chrono::hours(24 * days),
                               [](std::exception_ptr e, std::int64_t dropped) {
                                 if (e) {
                                   spdlog::error("readings retention failed");
                                 } else if (dropped > 0) {
                                   spdlog::warn("retention dropped {} undelivered readings", dropped);
                                 }
                               });
    arm_retention(std::chrono::hours(1));
  });
}

}  // namespace estate::metering
