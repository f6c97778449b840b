// The tamper-evident audit log (docs/security.md): an append-only SQLite table in which every
// entry carries the SHA-256 of the previous one, so editing, deleting, reordering or inserting
// an entry breaks the chain. The chain head (count + hash) is anchored periodically by sending
// it to the platform as an outbox record: a rewritten or truncated chain no longer matches what
// the platform holds.
//
// Who appends: every money movement (charge, deduction, payment state change, refund/reversal,
// top-up), every gate opened for someone not on a list (manual open, visitor), every valve or
// relay action, every config or list change. Call append() inside the write transaction that
// makes the change (a Store::write job), so the change and its audit entry commit together.
//
// Thread-safety: functions take the caller's Database and follow its rules (one thread at a
// time). Errors: store::Error on SQLite failures; std::invalid_argument for a malformed entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/store/sqlite.hpp"

namespace estate::audit {

// What the caller supplies. Never put a full card number, plate, name or phone in an entry:
// use privacy::keyed_hash / privacy::mask_* (daemon/privacy/privacy.hpp).
struct Entry {
  std::string ts;       // ISO 8601 with offset ("2026-11-23T18:16:01.123+08:00"); empty = now, UTC
  std::string kind;     // dotted lower case: "money.topup", "gate.manual_open", "config.reload"
  std::string actor;    // who caused it: "platform:<command id>", "token:<name>", "file:<path>",
                        // "system", "technician:<name>"
  std::string subject;  // what it acted on: "room:1-101", "device:valve-3", "list:cards"
  std::string room;     // the room concerned, if any (used by `audit show --room`)
  std::string detail_json = "{}";  // a JSON object; stored canonically (sorted keys, compact)
};

// An entry as stored.
struct StoredEntry {
  std::int64_t seq = 0;
  std::string ts;
  std::int64_t unix_ms = 0;
  std::string kind;
  std::string actor;
  std::string subject;
  std::string room;
  std::string detail;
  std::string prev_hash;  // 64 lower-case hex digits; the genesis entry's is 64 zeros
  std::string hash;
};

struct Head {
  std::int64_t count = 0;  // seq of the last entry (entries are numbered from 1)
  std::string hash;        // its hash; 64 zeros for an empty log
};

// The hash of the empty log, and the prev_hash of entry 1.
extern const std::string genesis_hash;

// SHA-256(prev_hash raw 32 bytes || canonical bytes of the entry), lower-case hex. The canonical
// bytes are the netstrings "<len>:<bytes>," of seq, ts, unix_ms, kind, actor, subject, room and
// detail, in that order (docs/security.md gives an example in Python).
std::string entry_hash(const StoredEntry& e);

// Appends `e` after the current head, in the caller's transaction. Returns the stored entry.
StoredEntry append(store::Database& db, const Entry& e);

Head head(store::Database& db);

// Sends the head to the platform: when the log grew since the last anchor, appends an outbox
// record on stream "audit" ({"type":"audit_anchor","count","head"}) and records it in
// audit_anchors. Call in a write transaction. Returns the anchor's outbox seq, or nullopt when
// there was nothing new to anchor.
std::optional<std::int64_t> anchor(store::Database& db, std::string_view gateway_id,
                                   std::string_view ts);

// A chain head the platform received (from an anchor record), to check the local log against.
struct AnchorRef {
  std::int64_t count = 0;
  std::string hash;
};
// Parses "COUNT:HASH" (as printed by `audit verify`); nullopt when malformed.
std::optional<AnchorRef> parse_anchor_ref(std::string_view text);

struct Break {
  std::int64_t seq = 0;  // the first entry found broken (or where the chain ends)
  // modified | rewritten | missing | reordered | inserted | tail_missing | anchor_mismatch
  std::string problem;
  std::string message;   // for people: which entry, what changed
};

struct VerifyResult {
  bool ok = false;
  std::int64_t entries = 0;         // entries walked
  Head head;                        // last entry walked
  std::int64_t anchors_checked = 0;
  std::optional<Break> broken;
};

// Walks the whole chain in one read transaction and reports the first broken link. Checks each
// entry's hash against its content, its prev_hash against the entry before it, contiguous seq
// from 1, the recorded head, every local anchor, and the `external` anchors (from the
// platform). Deleting the last entries is only detectable against the head or an anchor.
VerifyResult verify(store::Database& db, const std::vector<AnchorRef>& external = {});

struct Filter {
  std::optional<std::int64_t> since_ms, until_ms;  // unix ms, inclusive / exclusive
  std::string kind;   // exact kind, or a prefix ending in '.' or a bare family ("money")
  std::string room;
  std::int64_t limit = 0;  // 0: no limit (newest entries when limited)
};
std::vector<StoredEntry> query(store::Database& db, const Filter& f);

// ISO 8601 "2026-11-23T18:16:01.123+08:00" / "...Z" / "2026-11-23T18:16:01" / "2026-11-23"
// to unix ms; a time without an offset is read at `default_offset_minutes`.
std::optional<std::int64_t> parse_time_ms(std::string_view text, int default_offset_minutes);

}  // namespace estate::audit
