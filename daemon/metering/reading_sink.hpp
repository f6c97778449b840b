// The hook through which billing (daemon/billing/) sees every validated reading. The recorder
// calls on_reading() on the store's writer thread, inside the transaction that stores the
// reading and its outbox row: what the sink writes commits together with the reading or not at
// all. A sink that throws rolls back that device's batch (readings, outbox rows and the sink's
// own writes); the recorder logs it and keeps the validator's baseline where it was.
// Thread-safety: called from the writer thread only, one reading at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/store/sqlite.hpp"
#include "drivers/meter/reading.hpp"

namespace estate::metering {

struct StoredReading {
  std::int64_t reading_id = 0;   // readings.id
  std::int64_t seq = 0;          // gateway-wide outbox seq of this reading's record
  std::string record_id;         // "<gateway>-<seq>"
  std::string meter;             // device id
  std::string medium;            // electricity, water, hot_water, gas, heat
  std::string quantity;
  drivers::Decimal value;
  std::string unit;
  drivers::Quality quality = drivers::Quality::good;
  // Exact consumption since the previous accepted reading of this register; empty for the first
  // reading, instantaneous values, and readings whose step was withheld (negative, spike).
  std::optional<drivers::Decimal> delta;
  bool billed = false;           // the meter's billed register (drivers::Reading::billed)
  std::string ts;                // ISO 8601 with the site's offset
  std::int64_t ts_ms = 0;        // Unix milliseconds
};

class ReadingSink {
 public:
  virtual ~ReadingSink() = default;
  virtual void on_reading(store::Database& db, const StoredReading& reading) = 0;
};

}  // namespace estate::metering
