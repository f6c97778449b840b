// Each barrier's last known state, kept in gate_status for the technician's dashboard: the arm
// (open, closed, held open by a vehicle on the loop, or unknown until the first drive after a
// start), the loop, passages and faults since the gateway started. Written by the gates on every
// barrier event, read by the dashboard with the gate's last decision from access_events.
// Thread-safety: pure functions on the caller's Database (the store's writer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/store/sqlite.hpp"
#include "drivers/gate/barrier.hpp"

namespace estate::gate {

struct GateInfo {
  std::string id;
  std::string lane;   // entry | exit
  std::string drive;  // "relay io-1:0, loop io-1:0", "controller 2 on bus barrier-line"
};

// Start-up: a row per configured gate, its arm unknown and its counters at zero; rows of gates
// no longer configured are deleted.
void record_gates_started(store::Database& db, const std::vector<GateInfo>& gates,
                          std::string_view ts);

// One barrier event: opened/closed set the arm (and clear a fault; closed also means the loop
// was clear), close_held marks it held
// with the loop occupied, vehicle_arrived/vehicle_passed follow the loop (a passage counted),
// fault counts the fault with its detail. A gate without a row is ignored.
void record_barrier_event(store::Database& db, std::string_view gate,
                          const drivers::gate::BarrierEvent& ev, std::string_view ts);

}  // namespace estate::gate
