// The access lists the platform sends through the cloud bridge (docs/mqtt-api.md: cmd/cards,
// cmd/plates, cmd/visitor-passes, cmd/blocklist, cmd/monthly-passes) and how they reach the
// gates. Items, beside `key`:
//   cards           key = card UID (hex, ':' '-' ' ' allowed), unit (the room)
//   plates          key = plate, unit, vehicle_class?
//   visitor-passes  key = pass id, kind (plate | qr), value, unit? (host), valid_from, valid_to,
//                   max_uses? (0 = unlimited)
//   blocklist       key = entry id, kind (card | plate | qr), value, reason?
//   monthly-passes  key = pass id, kind (card | plate), value, unit?, vehicle_class?,
//                   valid_from, valid_to
// Each item is hashed on receipt (bridge::ListSpec::transform_item, stored_bridge_item), before
// its chunk or the item is stored: the bridge keeps cards and plates as
//   {"key": <keyed hash>, "shown": "****5678" | "粤B***45", "unit", "vehicle_class"?}
// and the lists keyed by an id with "value": <keyed hash>, "shown": the masked credential (a
// visitor pass's id for its QR code). The blocklist and monthly passes also take their old shape
// {"version", "entries"} for one release (deprecated; upgrade_legacy_list).
// A complete version is written to the access tables (access_entries/access_lists) in the
// bridge's own transaction, and its ListBlock, built there too, is swapped into the gate's index
// once that transaction has committed (AccessService::install): decisions never wait for a list
// and never see half of one. The access tables are what the index loads at start, so lists
// survive a restart with the platform unreachable.
// Thread-safety: pure functions, or the caller's Database.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/access/credential_hash.hpp"
#include "daemon/access/lists.hpp"
#include "daemon/access/service.hpp"
#include "daemon/bridge/commands.hpp"

namespace estate::access {

// The access list a bridge list command fills; nullopt for other commands.
std::optional<ListName> list_of_command(std::string_view command);

// Checks one item (the bridge already checked `key`: a string of 1..128 bytes). Returns "" when
// acceptable, else the problem, naming the field, never the key's value.
std::string check_bridge_item(ListName list, const nlohmann::json& item);

// What the bridge stores of an item that passed check_bridge_item: the credential replaced by
// its keyed hash, with "shown" beside it (see above).
nlohmann::json stored_bridge_item(ListName list, const nlohmann::json& item,
                                  const CredentialHasher& hasher);
// Checks one stored item (the form stored_bridge_item gives). "" when acceptable.
std::string check_stored_bridge_item(ListName list, const nlohmann::json& item);

// The entry of an item that passed check_stored_bridge_item (value = the hash, shown set), or
// of a received item that passed check_bridge_item (value and shown in clear, as parsed).
ListEntry entry_of_bridge_item(ListName list, const nlohmann::json& item);

// The old shape of the blocklist and monthly passes, {"version", "entries": [...]} (entries as
// in docs/parking.md: monthly passes with `room`), rewritten into the envelope: `items`, each
// entry with a key "entry-0000000", "entry-0000001" ... by position and `room` as `unit`; empty
// optional texts dropped. Returns false (body untouched) for other lists and for a body that
// is not in the old shape (no "entries", or "items" given).
bool upgrade_legacy_list(ListName list, nlohmann::json& body);

// The bridge's spec for `command` (cards, plates, visitor-passes, blocklist or monthly-passes): items checked, hashed with
// the service's hasher before they are stored, applied to the access tables and the index. The
// apply refuses a version the access tables already hold (or a newer one); `service` may be
// gone by the time a version commits (the daemon stopping): the store still holds it for the
// next start. Throws std::logic_error when `service` is already gone.
bridge::ListSpec bridge_list_spec(const std::string& command, std::weak_ptr<AccessService> service,
                                 std::string gateway_id, int utc_offset_minutes);
// For a site without gates: items are checked for the envelope only (as every list of a domain
// the gateway does not run) and stored hashed, nothing else; an item the gates would refuse is
// stored with its credential hashed but without "shown", so the list is not taken over. The
// access service takes a list over when gates are configured (sync_from_bridge).
bridge::ListSpec bridge_store_spec(const std::string& command,
                                  std::shared_ptr<const CredentialHasher> hasher);

// Items the bridge stored in clear (a store older than hashed lists; a site without gates
// whose bridge did not hash): rewritten in stored form, in bridge_list_items and in the chunks
// of a version still being received. An item that does not pass check_bridge_item is left as it
// is (its list is then not taken over). Returns how many items were rewritten.
std::size_t rehash_bridge_lists(store::Database& db, const CredentialHasher& hasher);

// Start-up, inside a write transaction, before the index is loaded (AccessService's
// constructor): the bridge's clear items are hashed (rehash_bridge_lists), then an access list
// the bridge holds in a newer version than the access tables (received while no gate was
// configured) is copied over. A stored item that no longer passes the checks leaves that list
// as it was (logged). Returns how many lists were copied.
int sync_from_bridge(store::Database& db, std::string_view applied_at,
                     const CredentialHasher& hasher);

}  // namespace estate::access
