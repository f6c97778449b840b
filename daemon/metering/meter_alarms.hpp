// Meter alarms on the `alarms` stream (record::Alarm): each condition of a meter is raised once
// when it begins and cleared once when it ends, with the device named:
//   meter_offline        `offline_after_polls` consecutive failed polls / the meter answers again
//   meter_leak           night flow on a water meter (validation: night_flow) / the meter at rest
//   meter_spike          a step far above the recent rate / the register's next accepted step
//   meter_negative_step  a reading below the baseline / the register's next accepted step
//   meter_rollover       the counter wrapped / the register's next ordinary step
//   meter_valve_closed   the valve reads closed, or a close was confirmed / it reads open again
//   meter_relay_tripped  a relay trip was confirmed / a relay close was confirmed
//
// The raised alarms are a table (meter_alarms, one row per alarm and device), changed in the
// same store transaction as the record: a raise inserts the row and appends the `raised`
// record only when the row was not there, a clear deletes it and appends `cleared` only when it
// was. So every transition leaves exactly once, also across a restart (an alarm raised before
// it is not raised again; the meter's first good reading after it clears it), and a job that
// is rolled back takes its alarm with it. At start, alarms of devices no longer configured are
// cleared ("no longer configured").
//
// Thread-safety: none; every call runs on the store's writer thread (inside a job). The
// in-memory copy of the table only lets readings of meters without alarms pass with a lookup.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/metering/validation.hpp"
#include "daemon/record/record.hpp"
#include "daemon/store/sqlite.hpp"

namespace estate::metering {

class MeterAlarms {
 public:
  MeterAlarms(std::string gateway_id) : gateway_id_(std::move(gateway_id)) {}

  // Loads the raised alarms; clears those of devices not in `configured`.
  void load(store::Database& db, const std::set<std::string>& configured, const std::string& ts);

  // Raises `alarm` on `device` unless it is raised; true when a record was appended.
  // `quantity` is the register that raised it ("" for the meter as a whole).
  bool raise(store::Database& db, std::string_view alarm, const std::string& device,
             record::Severity severity, const std::string& detail, const std::string& ts,
             std::string_view quantity = {});
  // Clears `alarm` on `device` if it is raised; true when a record was appended.
  bool clear(store::Database& db, std::string_view alarm, const std::string& device,
             const std::string& detail, const std::string& ts);

  // The alarms a validated reading raises or clears (after it was stored, same transaction).
  void on_reading(store::Database& db, const Validated& v, const std::string& ts);
  // A supply command the meter confirmed (valve open/close, relay trip/close).
  void on_command(store::Database& db, const std::string& device, std::string_view command,
                  const std::string& ts);

  bool raised(std::string_view alarm, const std::string& device) const;
  // Call when a job that used this object failed: the copy is read again from the table.
  void invalidate() { stale_ = true; }

 private:
  void refresh(store::Database& db);
  // The register that raised `alarm` on `device`, when it is raised.
  const std::string* raised_by(std::string_view alarm, const std::string& device) const;

  std::string gateway_id_;
  // device -> (alarm -> the register that raised it)
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> raised_;
  bool stale_ = true;
};

}  // namespace estate::metering
