#include "daemon/metering/meter_alarms.hpp"

#include <spdlog/spdlog.h>

#include "drivers/meter/quantity.hpp"

namespace estate::metering {

namespace {

constexpr std::string_view kOffline = "meter_offline";
constexpr std::string_view kLeak = "meter_leak";
constexpr std::string_view kSpike = "meter_spike";
constexpr std::string_view kNegative = "meter_negative_step";
constexpr std::string_view kRollover = "meter_rollover";
constexpr std::string_view kValve = "meter_valve_closed";
constexpr std::string_view kRelay = "meter_relay_tripped";

std::string describe(const Validated& v) {
  const auto& r = v.reading;
  std::string s = r.quantity + " " + r.value.to_string() + (r.unit.empty() ? "" : " " + r.unit);
  if (!v.note.empty()) s += ": " + v.note;
  return s;
}

}  // namespace

void MeterAlarms::refresh(store::Database& db) {
  raised_.clear();
  auto st = db.prepare("SELECT device, alarm, quantity FROM meter_alarms");
  while (st.step()) raised_[st.text(0)][st.text(1)] = st.text(2);
  stale_ = false;
}

void MeterAlarms::load(store::Database& db, const std::set<std::string>& configured,
                       const std::string& ts) {
  refresh(db);
  std::vector<std::pair<std::string, std::string>> gone;
  for (const auto& [device, alarms] : raised_) {
    if (configured.count(device)) continue;
    for (const auto& [alarm, quantity] : alarms) gone.emplace_back(alarm, device);
  }
  for (const auto& [alarm, device] : gone) clear(db, alarm, device, "no longer configured", ts);
}

const std::string* MeterAlarms::raised_by(std::string_view alarm, const std::string& device) const {
  auto d = raised_.find(device);
  if (d == raised_.end()) return nullptr;
  auto a = d->second.find(alarm);
  return a == d->second.end() ? nullptr : &a->second;
}

bool MeterAlarms::raised(std::string_view alarm, const std::string& device) const {
  return raised_by(alarm, device) != nullptr;
}

bool MeterAlarms::raise(store::Database& db, std::string_view alarm, const std::string& device,
                        record::Severity severity, const std::string& detail,
                        const std::string& ts, std::string_view quantity) {
  if (stale_) refresh(db);
  if (raised(alarm, device)) return false;
  db.prepare("INSERT INTO meter_alarms(alarm, device, quantity, severity, raised_at, detail)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(alarm, device) DO NOTHING")
      .bind(1, alarm)
      .bind(2, device)
      .bind(3, std::string(quantity))  // "" for the meter as a whole (never NULL)
      .bind(4, record::to_string(severity))
      .bind(5, ts)
      .bind(6, detail)
      .run();
  const bool inserted = sqlite3_changes(db.handle()) == 1;
  raised_[device][std::string(alarm)] = std::string(quantity);
  if (!inserted) return false;
  record::Alarm a;
  a.ts = ts;
  a.alarm = std::string(alarm);
  a.state = record::AlarmState::raised;
  a.severity = severity;
  a.device = device;
  a.detail = detail;
  record::append(db, gateway_id_, a);
  spdlog::warn("alarm {} raised on {}: {}", alarm, device, detail);
  return true;
}

bool MeterAlarms::clear(store::Database& db, std::string_view alarm, const std::string& device,
                        const std::string& detail, const std::string& ts) {
  if (stale_) refresh(db);
  if (!raised(alarm, device)) return false;
  db.prepare("DELETE FROM meter_alarms WHERE alarm = ?1 AND device = ?2")
      .bind(1, alarm)
      .bind(2, device)
      .run();
  const bool deleted = sqlite3_changes(db.handle()) == 1;
  if (auto d = raised_.find(device); d != raised_.end()) {
    if (auto a = d->second.find(alarm); a != d->second.end()) d->second.erase(a);
    if (d->second.empty()) raised_.erase(d);
  }
  if (!deleted) return false;
  record::Alarm a;
  a.ts = ts;
  a.alarm = std::string(alarm);
  a.state = record::AlarmState::cleared;
  a.severity = record::Severity::info;
  a.device = device;
  a.detail = detail;
  record::append(db, gateway_id_, a);
  spdlog::info("alarm {} cleared on {}: {}", alarm, device, detail);
  return true;
}

void MeterAlarms::on_reading(store::Database& db, const Validated& v, const std::string& ts) {
  using drivers::Quality;
  const auto& r = v.reading;
  if (stale_) refresh(db);
  // Clears first (what this reading ends), then what it begins.
  if (raised_.count(r.meter)) {
    clear(db, kOffline, r.meter, "the meter answers again", ts);
    if (v.delta) {
      // An accepted step of the register that raised the alarm ends it.
      for (auto alarm : {kSpike, kNegative}) {
        if (auto q = raised_by(alarm, r.meter); q && *q == r.quantity) {
          clear(db, alarm, r.meter, r.quantity + " steps normally again from " +
                                        r.value.to_string(), ts);
        }
      }
      if (auto q = raised_by(kRollover, r.meter);
          q && *q == r.quantity && r.quality != Quality::rollover) {
        clear(db, kRollover, r.meter, r.quantity + " counts on from " + r.value.to_string(), ts);
      }
      if (auto q = raised_by(kLeak, r.meter); q && *q == r.quantity && v.delta->mantissa == 0) {
        clear(db, kLeak, r.meter, "the meter is at rest at " + r.value.to_string(), ts);
      }
    }
  }
  switch (r.quality) {
    case Quality::spike:
      raise(db, kSpike, r.meter, record::Severity::minor, describe(v), ts, r.quantity);
      break;
    case Quality::negative_step:
      raise(db, kNegative, r.meter, record::Severity::major, describe(v), ts, r.quantity);
      break;
    case Quality::rollover:
      raise(db, kRollover, r.meter, record::Severity::warning, describe(v), ts, r.quantity);
      break;
    case Quality::night_flow:
      raise(db, kLeak, r.meter, record::Severity::major, describe(v), ts, r.quantity);
      break;
    case Quality::good:
    case Quality::device_error:
      break;
  }
  if (!r.cumulative && r.quantity == drivers::name(drivers::Quantity::valve_state)) {
    if (r.value.mantissa == 0) {
      raise(db, kValve, r.meter, record::Severity::warning, "the valve reads closed", ts);
    } else {
      clear(db, kValve, r.meter, "the valve reads open", ts);
    }
  }
}

void MeterAlarms::on_command(store::Database& db, const std::string& device,
                             std::string_view command, const std::string& ts) {
  if (command == "valve_close") {
    raise(db, kValve, device, record::Severity::warning, "valve close confirmed by the meter", ts);
  } else if (command == "valve_open") {
    clear(db, kValve, device, "valve open confirmed by the meter", ts);
  } else if (command == "relay_trip") {
    raise(db, kRelay, device, record::Severity::warning, "relay trip confirmed by the meter", ts);
  } else if (command == "relay_close") {
    clear(db, kRelay, device, "relay close confirmed by the meter", ts);
  }
}

}  // namespace estate::metering
