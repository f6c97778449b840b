// The access lists the platform sends through the cloud bridge (docs/mqtt-api.md: cmd/cards,
// cmd/plates, cmd/visitor-passes) and how they reach the gates. Items, beside `key`:
//   cards           key = card UID (hex, ':' '-' ' ' allowed), unit (the room)
//   plates          key = plate, unit, vehicle_class?
//   visitor-passes  key = pass id, kind (plate | qr), value, unit? (host), valid_from, valid_to,
//                   max_uses? (0 = unlimited)
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

#include "daemon/access/lists.hpp"
#include "daemon/access/service.hpp"
#include "daemon/bridge/commands.hpp"

namespace estate::access {

// The access list a bridge list command fills; nullopt for other commands.
std::optional<ListName> list_of_command(std::string_view command);

// Checks one item (the bridge already checked `key`: a string of 1..128 bytes). Returns "" when
// acceptable, else the problem, naming the field, never the key's value.
std::string check_bridge_item(ListName list, const nlohmann::json& item);

// The entry of an item that passed check_bridge_item.
ListEntry entry_of_bridge_item(ListName list, const nlohmann::json& item);

// The bridge's spec for `command` (cards, plates or visitor-passes). The apply refuses a version
// the access tables already hold (or a newer one); `service` may be gone by the time a version
// commits (the daemon stopping): the store still holds it for the next start.
cloud::ListSpec bridge_list_spec(const std::string& command, std::weak_ptr<AccessService> service,
                                 std::string gateway_id, int utc_offset_minutes);

// Start-up, inside a write transaction, before the index is loaded: an access list the bridge
// holds in a newer version than the access tables (received while no gate was configured) is
// copied over. A stored item that no longer passes the checks leaves that list as it was (logged).
// Returns how many lists were copied.
int sync_from_bridge(store::Database& db, std::string_view applied_at);

}  // namespace estate::access
