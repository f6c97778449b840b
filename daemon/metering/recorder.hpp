// The durable path of readings: validation, then the readings table, an outbox row per reading
// (stream "readings", droppable telemetry) and the billing sink, all in the store's writer
// transaction (group commit: Store batches many devices' jobs into one COMMIT). Retention drops
// readings and undelivered telemetry older than storage.telemetry_retention_days, counted in
// stream_counts.dropped; it never touches other streams.
// Thread-safety: record()/apply_retention() may be called from any thread; the validator and
// prepared statements live on the writer thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon/metering/meter_alarms.hpp"
#include "daemon/metering/reading_sink.hpp"
#include "daemon/metering/validation.hpp"
#include "daemon/store/store.hpp"

namespace estate::metering {

struct RecordResult {
  std::size_t stored = 0;
  std::size_t flagged = 0;     // quality other than good
  std::vector<std::string> notes;  // what was flagged and why
};

class Recorder {
 public:
  Recorder(store::Store& store, std::string gateway_id, int utc_offset_minutes,
           ValidationPolicy policy = {}, ReadingSink* sink = nullptr);

  // Seeds the validator with the last accepted value of every register (call once, before
  // the first record()).
  void load_baselines();
  // Loads the raised meter alarms; those of devices not in `configured` are cleared.
  void load_alarms(const std::set<std::string>& configured);

  // A bus scheduler's event about a device (device_offline, device_online, meter_command with
  // "<command>: done" or "<command>: <error>"): an events row, and the meter alarm it raises or
  // clears, in one job.
  void device_event(const std::string& kind, const std::string& device, const std::string& detail);

  // Validates and stores one device's readings in one job. `done` runs on the writer thread
  // after the commit (or with the error); keep it short.
  using Done = std::function<void(std::exception_ptr, const RecordResult&)>;
  void record(std::vector<drivers::Reading> readings, MeterTraits traits, std::string medium,
              Done done = {});

  // Deletes readings older than `max_age` and drops undelivered droppable "readings" outbox
  // rows that old, in chunks; returns (via done) how many outbox rows were dropped.
  void apply_retention(std::chrono::hours max_age,
                       std::function<void(std::exception_ptr, std::int64_t)> done = {});

  void set_sink(ReadingSink* sink) { sink_ = sink; }

  // Device jobs handed to the store and not yet committed: what the poll schedulers shed load
  // on (a poll whose readings could only queue in memory is skipped and counted instead).
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }

 private:
  struct Statements;
  void store_all(store::Database& db, const std::vector<Validated>& vs,
                 const std::string& medium, RecordResult& result);

  store::Store& store_;
  std::string gateway_id_;
  int utc_offset_minutes_;
  ReadingSink* sink_;
  // Writer-thread state.
  Validator validator_;
  MeterAlarms alarms_;
  std::shared_ptr<Statements> st_;
  std::chrono::system_clock::time_point ts_of_text_{};  // the timestamp ts_text_ spells
  std::string ts_text_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace estate::metering
