// The local state store: one SQLite file in the state directory (WAL), schema migrated on open,
// one writer. All writes go through Store::write(), which runs jobs on the writer thread and
// commits many of them in one transaction (group commit); a job's completion is called only
// after its data is durable. Reads use their own connections (open_reader()).
// Thread-safety: write()/stop() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/store/sqlite.hpp"

namespace estate::store {

// Opens (creating if needed) the store file in `state_dir`, applies pending migrations, and
// refuses a store written by a newer schema with a clear Error.
Database open_store(const std::filesystem::path& state_dir, OpenMode mode);
std::filesystem::path store_file(const std::filesystem::path& state_dir);

// Applies pending migrations of every area. Throws Error when the file is newer than this build.
void migrate(Database& db);

// Outbox rows: appended in the writer's transaction with the next gateway-wide seq.
struct OutboxAppend {
  std::int64_t seq = 0;
  std::string id;  // "<gateway>-<seq>"
};
// Appends one record with the next gateway-wide seq: `encode` gets the record's seq and id and
// returns its complete JSON text (envelope included), which is stored as is: the store parses
// nothing and dumps nothing (daemon/record encodes every uplink record once). `droppable` marks
// telemetry that retention may drop under disk pressure (never money or access).
using OutboxEncoder = std::function<std::string(const OutboxAppend&)>;
OutboxAppend append_outbox_encoded(Database& db, std::string_view stream, bool droppable,
                                   std::string_view gateway_id, const OutboxEncoder& encode);

// For callers not yet on daemon/record: `fields_json` (a JSON object, checked, never
// re-dumped) follows the envelope {"v":2,"id","seq","ts"} verbatim. Throws
// std::invalid_argument when it is not an object or names an envelope member.
OutboxAppend append_outbox(Database& db, std::string_view gateway_id, std::string_view stream,
                           std::string_view ts, std::string_view fields_json, bool droppable);

class Store {
 public:
  using Job = std::function<void(Database&)>;
  using Done = std::function<void(std::exception_ptr)>;

  Store(std::filesystem::path state_dir, int commit_batch = 1000);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues `job` for the writer. `done` runs on the writer thread after the commit (nullptr
  // error) or with the job's or the commit's exception; it must be short (post elsewhere).
  void write(Job job, Done done = {});
  // Runs `job` and waits for its commit; rethrows its error. Not from the writer thread.
  void write_sync(Job job);
  // Finishes queued jobs, then stops the writer.
  void stop();

  Database open_reader() const;
  const std::filesystem::path& state_dir() const { return state_dir_; }
  std::uint64_t commits() const { return commits_; }

 private:
  void run();
  struct Item {
    Job job;
    Done done;
  };
  std::filesystem::path state_dir_;
  int commit_batch_;
  Database db_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::uint64_t commits_ = 0;
  std::thread thread_;
};

// Current time as ISO 8601 with the site's UTC offset, e.g. "2026-11-23T18:16:01.123+08:00".
std::string iso8601_now(int utc_offset_minutes);
std::string iso8601(std::chrono::system_clock::time_point t, int utc_offset_minutes);

}  // namespace estate::store
