#include "daemon/record/alarm_state.hpp"

namespace estate::record {

namespace {

std::string key_of(std::string_view alarm, std::string_view device) {
  return "alarm:" + std::string(alarm) + ":" + std::string(device);
}

bool raised_at(store::Database& db, const std::string& key) {
  auto st = db.prepare("SELECT value FROM meta WHERE key = ?1");
  st.bind(1, key);
  return st.step() && st.text(0) == "raised";
}

}  // namespace

bool alarm_raised(store::Database& db, std::string_view alarm, std::string_view device) {
  return raised_at(db, key_of(alarm, device));
}

std::optional<Appended> transition(store::Database& db, std::string_view gateway,
                                   const Alarm& alarm, std::string state_key) {
  if (state_key.empty()) state_key = key_of(alarm.alarm, alarm.device);
  const bool raise = alarm.state == AlarmState::raised;
  if (raised_at(db, state_key) == raise) return std::nullopt;
  if (raise) {
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, 'raised')")
        .bind(1, state_key)
        .run();
  } else {
    db.prepare("DELETE FROM meta WHERE key = ?1").bind(1, state_key).run();
  }
  return append(db, gateway, alarm);
}

}  // namespace estate::record
