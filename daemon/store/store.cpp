#include "daemon/store/store.hpp"

#include <nlohmann/json.hpp>

#include <future>
#include <map>
#include <stdexcept>
#include <vector>

#include "daemon/store/outbox_batch.hpp"
#include "daemon/store/schema.hpp"

namespace estate::store {

namespace fs = std::filesystem;

fs::path store_file(const fs::path& state_dir) { return state_dir / "estate-edge.db"; }

void migrate(Database& db) {
  db.exec("CREATE TABLE IF NOT EXISTS schema_versions(area TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  std::map<std::string, std::int64_t, std::less<>> stored;
  {
    auto st = db.prepare("SELECT area, version FROM schema_versions");
    while (st.step()) stored[st.text(0)] = st.int64(1);
  }
  for (const auto& [area, version] : stored) {
    bool known = false;
    for (const auto& a : schema_areas()) {
      if (a.name != area) continue;
      known = true;
      if (version > static_cast<std::int64_t>(a.migrations.size())) {
        throw Error(SQLITE_ERROR,
                    db.file().string() + " was written by a newer estate-edge: schema area '" +
                        area + "' is at version " + std::to_string(version) +
                        ", this build knows up to " + std::to_string(a.migrations.size()) +
                        "; upgrade estate-edge or restore a backup");
      }
    }
    if (!known) {
      throw Error(SQLITE_ERROR, db.file().string() +
                                    " was written by a newer estate-edge: unknown schema area '" +
                                    area + "'; upgrade estate-edge or restore a backup");
    }
  }
  for (const auto& a : schema_areas()) {
    auto it = stored.find(a.name);
    std::int64_t v = it == stored.end() ? 0 : it->second;
    for (auto i = static_cast<std::size_t>(v); i < a.migrations.size(); ++i) {
      Transaction tx(db);
      db.exec(a.migrations[i]);
      auto up = db.prepare(
          "INSERT INTO schema_versions(area, version) VALUES(?1, ?2) "
          "ON CONFLICT(area) DO UPDATE SET version = excluded.version");
      up.bind(1, a.name).bind(2, static_cast<std::int64_t>(i + 1)).run();
      tx.commit();
    }
  }
}

Database open_store(const fs::path& state_dir, OpenMode mode) {
  if (mode == OpenMode::read_write_create) {
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    if (ec) {
      throw Error(SQLITE_CANTOPEN, "cannot create state directory " + state_dir.string() + ": " +
                                       ec.message());
    }
  }
  Database db(store_file(state_dir), mode);
  if (mode != OpenMode::read_only) {
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    // The writer's per-job savepoints journal every page a job touches into the sub-journal:
    // on disk that is a temp file written (not truncated) for every job; in memory it is
    // truncated when the job's savepoint is released, so it holds one job's pages at most.
    db.exec("PRAGMA temp_store=MEMORY");
    // Deleted and overwritten content is zeroed, whatever SQLite's build default: a plate or
    // card rewritten to its keyed hash does not stay readable in free space (docs/security.md).
    db.exec("PRAGMA secure_delete=ON");
    migrate(db);
  }
  return db;
}

namespace {

// Statements are cached per connection; the writer calls these thousands of times a second.
struct OutboxStatements {
  Statement bump_seq, read_seq, insert, count;
};

OutboxStatements& outbox_statements(Database& db) {
  static thread_local std::map<sqlite3*, OutboxStatements> cache;
  auto it = cache.find(db.handle());
  if (it == cache.end()) {
    it = cache
             .emplace(db.handle(),
                      OutboxStatements{
                          // Not UPDATE ... RETURNING: SQLite materialises RETURNING rows
                          // in a temporary table, for every device's readings.
                          db.prepare("UPDATE counters SET value = value + ?1 "
                                     "WHERE name = 'outbox_seq'"),
                          db.prepare("SELECT value FROM counters WHERE name = 'outbox_seq'"),
                          db.prepare("INSERT INTO outbox(seq, stream, payload, droppable, "
                                     "created_at) VALUES(?1, ?2, ?3, ?4, unixepoch())"),
                          db.prepare("INSERT INTO stream_counts(stream, appended) VALUES(?1, ?2) "
                                     "ON CONFLICT(stream) DO UPDATE SET appended = appended + ?2")})
             .first;
  }
  return it->second;
}

// Takes `count` seqs at once: the first of them is returned.
std::int64_t take_seqs(OutboxStatements& c, std::size_t count) {
  c.bump_seq.bind(1, static_cast<std::int64_t>(count)).run();
  if (!c.read_seq.step()) {
    c.read_seq.reset();
    throw Error(SQLITE_ERROR, "outbox_seq counter is missing");
  }
  const std::int64_t last = c.read_seq.int64(0);
  c.read_seq.reset();
  return last - static_cast<std::int64_t>(count) + 1;
}

std::string record_id(std::string_view gateway_id, std::int64_t seq) {
  std::string id;
  id.reserve(gateway_id.size() + 21);
  id.append(gateway_id).push_back('-');
  id += std::to_string(seq);
  return id;
}

}  // namespace

OutboxAppend append_outbox_encoded(Database& db, std::string_view stream, bool droppable,
                                   std::string_view gateway_id, const OutboxEncoder& encode) {
  auto& c = outbox_statements(db);
  const std::int64_t seq = take_seqs(c, 1);
  OutboxAppend out{seq, record_id(gateway_id, seq)};
  const std::string payload = encode(out);
  c.insert.bind(1, seq).bind(2, stream).bind(3, payload).bind(4, droppable ? 1 : 0).run();
  c.count.bind(1, stream).bind(2, std::int64_t{1}).run();
  return out;
}

std::vector<OutboxAppend> append_outbox_batch(Database& db, std::string_view stream,
                                              bool droppable, std::string_view gateway_id,
                                              std::size_t count, const OutboxBatchEncoder& encode) {
  std::vector<OutboxAppend> out;
  if (count == 0) return out;
  auto& c = outbox_statements(db);
  const std::int64_t first = take_seqs(c, count);
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::int64_t seq = first + static_cast<std::int64_t>(i);
    out.push_back({seq, record_id(gateway_id, seq)});
    const std::string payload = encode(i, out.back());
    c.insert.bind(1, seq).bind(2, stream).bind(3, payload).bind(4, droppable ? 1 : 0).run();
  }
  c.count.bind(1, stream).bind(2, static_cast<std::int64_t>(count)).run();
  return out;
}

OutboxAppend append_outbox(Database& db, std::string_view gateway_id, std::string_view stream,
                           std::string_view ts, std::string_view fields_json, bool droppable) {
  // Checked, not re-encoded: the caller's text (and its number spellings) is kept verbatim.
  const auto fields = nlohmann::json::parse(fields_json, nullptr, false);
  if (!fields.is_object()) {
    throw std::invalid_argument("outbox record on " + std::string(stream) +
                                ": fields are not a JSON object");
  }
  for (const char* k : {"v", "id", "seq", "ts"}) {
    if (fields.contains(k)) {
      throw std::invalid_argument("outbox record on " + std::string(stream) +
                                  ": fields name the envelope member '" + k + "'");
    }
  }
  const auto open = fields_json.find('{');
  std::string rest(fields_json.substr(open + 1));
  const bool empty = fields.empty();
  return append_outbox_encoded(db, stream, droppable, gateway_id, [&](const OutboxAppend& a) {
    return "{\"v\":2,\"id\":" + nlohmann::json(a.id).dump() + ",\"seq\":" +
           std::to_string(a.seq) + ",\"ts\":" + nlohmann::json(ts).dump() +
           (empty ? "}" : "," + rest);
  });
}

Store::Store(fs::path state_dir, int commit_batch)
    : state_dir_(std::move(state_dir)),
      commit_batch_(commit_batch),
      db_(open_store(state_dir_, OpenMode::read_write_create)) {
  thread_ = std::thread([this] { run(); });
}

Store::~Store() { stop(); }

void Store::write(Job job, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      if (done) done(std::make_exception_ptr(Error(SQLITE_MISUSE, "store is stopping")));
      return;
    }
    queue_.push_back({std::move(job), std::move(done)});
  }
  cv_.notify_one();
}

void Store::write_sync(Job job) {
  std::promise<void> p;
  auto f = p.get_future();
  write(std::move(job), [&p](std::exception_ptr e) {
    if (e) p.set_exception(e);
    else p.set_value();
  });
  f.get();
}

void Store::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Store::run() {
  std::vector<Item> batch;
  std::vector<std::exception_ptr> results;
  // Prepared once: a job's savepoint costs three statement steps, not three parses.
  auto savepoint = db_.prepare("SAVEPOINT job");
  auto release = db_.prepare("RELEASE job");
  auto rollback_to = db_.prepare("ROLLBACK TO job");
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && batch.size() < static_cast<std::size_t>(commit_batch_)) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    results.assign(batch.size(), nullptr);
    std::exception_ptr commit_error;
    try {
      Transaction tx(db_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        // A savepoint per job: one failing job is undone alone, the others still commit.
        savepoint.run();
        try {
          batch[i].job(db_);
          release.run();
        } catch (...) {
          results[i] = std::current_exception();
          rollback_to.run();
          release.run();
        }
      }
      tx.commit();
      ++commits_;
    } catch (...) {
      commit_error = std::current_exception();
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].done) batch[i].done(commit_error ? commit_error : results[i]);
    }
    batch.clear();
  }
}

Database Store::open_reader() const {
  Database db(store_file(state_dir_), OpenMode::read_only);
  return db;
}

std::string iso8601(std::chrono::system_clock::time_point t, int utc_offset_minutes) {
  using namespace std::chrono;
  auto local = t + minutes(utc_offset_minutes);
  auto ms = duration_cast<milliseconds>(local.time_since_epoch()).count();
  auto secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int milli = static_cast<int>(ms - secs * 1000);
  auto dp = floor<days>(sys_seconds{seconds{secs}});
  year_month_day ymd{dp};
  hh_mm_ss hms{seconds{secs} - dp.time_since_epoch()};
  int off = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03d%c%02d:%02d",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                milli, utc_offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
  return buf;
}

std::string iso8601_now(int utc_offset_minutes) {
  return iso8601(std::chrono::system_clock::now(), utc_offset_minutes);
}

}  // namespace estate::store
