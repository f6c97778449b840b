// Access lists from the platform: cards, plates, monthly passes, visitor passes and the
// blocklist. Each list has a version; applying a list replaces it whole, in one SQLite
// transaction, and an update not newer than the applied version is refused. Entries are
// validated before anything is written, so a bad list changes nothing. What is stored and
// indexed is the entry's keyed hash, never the credential (CredentialHasher::protect, applied
// by the access service and the cloud bridge's list transform before anything is written).
// Thread-safety: the free functions are pure or take a Database owned by the caller.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/store/sqlite.hpp"

namespace estate::access {

enum class ListName { cards, plates, monthly_passes, visitor_passes, blocklist };
enum class CredentialKind { card, plate, qr };

inline constexpr std::int64_t no_time = INT64_MIN;  // valid_from/valid_to not set

// One row of any list; the fields a list does not use stay empty.
struct ListEntry {
  CredentialKind kind = CredentialKind::card;
  // Parsed: card UID (hex, upper case), plate, or QR pass code. Stored and indexed: its keyed
  // hash (CredentialHasher), with `shown` set.
  std::string value;
  std::string shown;          // stored form: the masked credential or pass id; "" = clear
  std::string room;           // resident's or host's room: the key of arrears levels
  std::string vehicle_class;  // plates, monthly passes: parking rule class ("" = standard)
  std::string pass_id;        // visitor passes
  std::int64_t valid_from = no_time;  // UTC seconds; passes only
  std::int64_t valid_to = no_time;    // exclusive
  std::int64_t max_uses = 0;          // visitor passes: entries allowed, 0 = unlimited
  std::string note;                   // blocklist: reason
};

struct ListUpdate {
  ListName list = ListName::cards;
  std::int64_t version = 0;
  std::vector<ListEntry> entries;
};

std::string_view to_string(ListName l);
std::optional<ListName> list_from_string(std::string_view s);
std::string_view to_string(CredentialKind k);
std::optional<CredentialKind> kind_from_string(std::string_view s);

// Card UIDs are compared as upper-case hex without separators ("04:a1:b2" -> "04A1B2").
// Returns nullopt when `raw` has characters other than hex digits, ':', '-' and spaces, or is
// empty or longer than 20 hex digits (a 10-byte ISO 14443 UID).
std::optional<std::string> normalize_card(std::string_view raw);
// Plates are compared upper-case (ASCII letters only) without spaces, '-' or '·'.
std::string normalize_plate(std::string_view raw);
// "****B2C3": what logs and events show of a card number.
std::string mask_card(std::string_view card);

// Parses the platform's list document:
//   {"list": "cards", "version": 42, "entries": [{"card": "04A1B2C3", "room": "3-1-402"}, ...]}
// Entry keys per list are in docs/parking.md. Returns nullopt and an error naming the entry
// index and key on bad input.
std::optional<ListUpdate> parse_list_update(const nlohmann::json& doc, std::string& error);

// The applied version of `list` (0 when never applied).
std::int64_t applied_version(store::Database& db, ListName list);
// Replaces the list in the caller's transaction. Throws store::Error on SQLite failure and
// std::invalid_argument when update.version is not newer than the applied one or an entry is
// not in stored form (hashed, `shown` set): no credential is written in clear.
void write_list(store::Database& db, const ListUpdate& update, std::string_view applied_at);
// Reads one list back (for building the in-memory index). Rows of a store older than hashed
// lists (`shown` NULL) come back with `shown` empty; the access service rewrites them at start.
ListUpdate read_list(store::Database& db, ListName list);

}  // namespace estate::access
