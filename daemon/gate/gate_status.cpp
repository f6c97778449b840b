#include "daemon/gate/gate_status.hpp"

#include <set>

namespace estate::gate {

void record_gates_started(store::Database& db, const std::vector<GateInfo>& gates,
                          std::string_view ts) {
  std::set<std::string> configured;
  auto upsert = db.prepare(
      "INSERT INTO gate_status(gate, lane, drive, barrier, loop_occupied, healthy, passages, "
      "faults, last_fault, last_fault_at, changed_at, started_at) "
      "VALUES(?1, ?2, ?3, 'unknown', NULL, 1, 0, 0, NULL, NULL, ?4, ?4) "
      "ON CONFLICT(gate) DO UPDATE SET lane = ?2, drive = ?3, barrier = 'unknown', "
      "loop_occupied = NULL, healthy = 1, passages = 0, faults = 0, changed_at = ?4, "
      "started_at = ?4");
  for (const auto& g : gates) {
    upsert.bind(1, g.id).bind(2, g.lane).bind(3, g.drive).bind(4, ts).run();
    configured.insert(g.id);
  }
  std::vector<std::string> gone;
  auto rows = db.prepare("SELECT gate FROM gate_status");
  while (rows.step()) {
    if (!configured.count(rows.text(0))) gone.push_back(rows.text(0));
  }
  auto del = db.prepare("DELETE FROM gate_status WHERE gate = ?1");
  for (const auto& g : gone) del.bind(1, g).run();
}

void record_barrier_event(store::Database& db, std::string_view gate,
                          const drivers::gate::BarrierEvent& ev, std::string_view ts) {
  using drivers::gate::BarrierEventKind;
  const char* sql = nullptr;
  switch (ev.kind) {
    case BarrierEventKind::opened:
      sql = "UPDATE gate_status SET barrier = 'open', healthy = 1, changed_at = ?2 WHERE gate = ?1";
      break;
    case BarrierEventKind::closed:
      // The arm never closes over an occupied loop: closed means the loop was clear.
      sql = "UPDATE gate_status SET barrier = 'closed', loop_occupied = 0, healthy = 1, "
            "changed_at = ?2 WHERE gate = ?1";
      break;
    case BarrierEventKind::close_held:
      sql = "UPDATE gate_status SET barrier = 'held', loop_occupied = 1, changed_at = ?2 "
            "WHERE gate = ?1";
      break;
    case BarrierEventKind::vehicle_arrived:
      sql = "UPDATE gate_status SET loop_occupied = 1, changed_at = ?2 WHERE gate = ?1";
      break;
    case BarrierEventKind::vehicle_passed:
      sql = "UPDATE gate_status SET loop_occupied = 0, passages = passages + 1, "
            "changed_at = ?2 WHERE gate = ?1";
      break;
    case BarrierEventKind::fault:
      sql = "UPDATE gate_status SET healthy = 0, faults = faults + 1, last_fault = ?3, "
            "last_fault_at = ?2, changed_at = ?2 WHERE gate = ?1";
      break;
  }
  auto st = db.prepare(sql);
  st.bind(1, gate).bind(2, ts);
  if (ev.kind == BarrierEventKind::fault) st.bind(3, ev.detail.substr(0, 200));
  st.run();
}

}  // namespace estate::gate
