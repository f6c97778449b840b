#include "daemon/store/schema.hpp"

#include <array>

namespace estate::store {

namespace {

// meta: gateway identity and settings. counters: monotonic numbers that must survive deletes
// (outbox_seq is never reused). outbox: every record for the platform, in seq order, until the
// broker acknowledged it. events: what happened on site (device faults, actions, decisions).
constexpr std::array<std::string_view, 1> core{{R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters(name, value) VALUES ('outbox_seq', 0);
CREATE TABLE outbox(
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  payload TEXT NOT NULL,
  droppable INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL);
CREATE TABLE stream_counts(
  stream TEXT PRIMARY KEY,
  appended INTEGER NOT NULL DEFAULT 0,
  acknowledged INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  detail TEXT NOT NULL,
  seq INTEGER);
CREATE INDEX events_ts ON events(ts);
)sql"}};

const std::array<SchemaArea, 1> areas{{
    {"core", core},
}};

}  // namespace

std::span<const SchemaArea> schema_areas() { return areas; }

}  // namespace estate::store
