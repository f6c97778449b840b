// Retention of access events (security.privacy.access_event_retention_days, docs/security.md):
// the guard's local record of gate decisions (access_events) is personal data kept no longer
// than the site allows — but nothing is deleted before the platform has it. A row older than the
// cut-off goes only once its outbox record was acknowledged (the record left the outbox); an
// older row whose record still waits is kept and counted. Money records (billing, payments,
// parking sessions), the audit log and the outbox itself are never touched here.
// Thread-safety: runs in the caller's transaction (the store's writer).
#pragma once

#include <cstdint>

#include "daemon/store/sqlite.hpp"

namespace estate::store {

struct AccessRetention {
  std::int64_t deleted = 0;       // rows deleted by this call
  std::int64_t undelivered = 0;   // rows past the cut-off kept: their record is not acknowledged
  std::int64_t deleted_total = 0; // every row ever deleted by retention (meta)
};

// Deletes at most `limit` delivered access events decided before `cutoff_unix_s` (UTC seconds),
// adds them to the running total in meta ('access_events_expired') and, when any went, records
// an `events` row of kind privacy.retention (count, cut-off) in the same transaction. The next
// call takes the rest. Throws store::Error on SQLite failure.
AccessRetention expire_access_events(Database& db, std::int64_t cutoff_unix_s,
                                     std::int64_t limit = 5000);

}  // namespace estate::store
