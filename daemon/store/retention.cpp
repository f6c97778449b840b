#include "daemon/store/retention.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

#include "daemon/store/store.hpp"

namespace estate::store {

AccessRetention expire_access_events(Database& db, std::int64_t cutoff_unix_s,
                                     std::int64_t limit) {
  AccessRetention r;
  // A record still in the outbox has not been acknowledged by the broker.
  db.prepare(
        "DELETE FROM access_events WHERE id IN (SELECT e.id FROM access_events e "
        "WHERE e.unix_s < ?1 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = e.outbox_seq) "
        "ORDER BY e.id LIMIT ?2)")
      .bind(1, cutoff_unix_s)
      .bind(2, limit)
      .run();
  r.deleted = sqlite3_changes(db.handle());
  auto waiting = db.prepare(
      "SELECT count(*) FROM access_events e WHERE e.unix_s < ?1 "
      "AND EXISTS (SELECT 1 FROM outbox o WHERE o.seq = e.outbox_seq)");
  waiting.bind(1, cutoff_unix_s);
  if (waiting.step()) r.undelivered = waiting.int64(0);
  waiting.reset();
  if (r.deleted > 0) {
    db.prepare(
          "INSERT INTO meta(key, value) VALUES('access_events_expired', ?1) "
          "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value")
        .bind(1, r.deleted)
        .run();
    nlohmann::json detail{{"access_events_deleted", r.deleted},
                          {"cutoff_unix_s", cutoff_unix_s},
                          {"undelivered_kept", r.undelivered}};
    db.prepare("INSERT INTO events(ts, kind, source, detail) "
               "VALUES(?1, 'privacy.retention', 'store', ?2)")
        .bind(1, iso8601(std::chrono::system_clock::now(), 0))
        .bind(2, detail.dump())
        .run();
  }
  auto total = db.prepare(
      "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta "
      "WHERE key = 'access_events_expired'), 0)");
  if (total.step()) r.deleted_total = total.int64(0);
  total.reset();
  return r;
}

}  // namespace estate::store
