// What the kiosk needs from the car park to take a parking fee at the POS: the amount due on a
// session, and paying it once the terminal approved. The journal row of such a payment has kind
// "parking" and room "parking-<session id>"; its id is the parking payment's reference, so a
// payment credited again after a restart is recognised and changes nothing.
// Thread-safety: implementations are called from HTTP threads (due) and the payment worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/kiosk/accounts.hpp"

namespace estate::kiosk {

struct ParkingDue {
  std::int64_t session = 0;
  std::string state;  // parked, paid, awaiting_payment, closed
  Fen due_fen = 0;    // if paid now
};

struct ParkingPaid {
  bool ok = false;
  bool retry = false;      // refused for now (the car park is stopping): credit again later
  bool gate_opened = false;
  std::string error;
};

class ParkingCharges {
 public:
  virtual ~ParkingCharges() = default;
  // nullopt: no such session.
  virtual std::optional<ParkingDue> due(std::int64_t session) = 0;
  // Pays `amount_fen`, priced at `priced_at` (the payment's ISO 8601 creation time), with
  // `payment_id` as the reference.
  virtual ParkingPaid pay(std::int64_t session, Fen amount_fen, const std::string& payment_id,
                          const std::string& priced_at) = 0;
};

// The journal's room for a parking payment, and back (nullopt: not a parking room).
std::string parking_room(std::int64_t session);
std::optional<std::int64_t> parking_session_of(const std::string& room);

}  // namespace estate::kiosk
