// Alarms raised and cleared once per transition (docs/mqtt-api.md, "alarms"): the state of each
// (alarm, device) pair is kept in the store's meta table beside the record, so a condition that
// persists, or is reported again, or survives a restart, sends nothing more; a clear for a pair
// that is not raised sends nothing.
// Thread-safety: the caller's Database (inside its write transaction).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "daemon/record/record.hpp"

namespace estate::record {

// Appends `alarm` (record::append) when its state differs from the pair's stored one and stores
// the new state, in the caller's transaction. Returns what was appended, nullopt when nothing
// changed. `state_key` overrides the meta key of the pair (default "alarm:<alarm>:<device>").
std::optional<Appended> transition(store::Database& db, std::string_view gateway,
                                   const Alarm& alarm, std::string state_key = {});

// Whether the pair (alarm, device) is raised in `db`.
bool alarm_raised(store::Database& db, std::string_view alarm, std::string_view device = {});

}  // namespace estate::record
