// The kiosk and POS payment component: the payment journal and service (POS terminal and
// receipt printer from the config's devices of kind pos and printer), and the kiosk's JSON API
// mounted on the local HTTP server (routes in kiosk_routes.cpp; what a kiosk token may see:
// daemon/kiosk/kiosk_scope.hpp):
//   GET  /api/rooms/<room>              bills (oldest first; with `bills:` each with period,
//                                       due date, late fee, paid part, status, overdue days),
//                                       due, prepaid balance, unbilled_fen (with `bills:`), the
//                                       arrears level with its actions, and "sale": the
//                                       handle a kiosk pays this room with (10 minutes);
//                                       a kiosk token: 20 look-ups a minute, then 429  [kiosk]
//   POST /api/payments                  header Idempotency-Key (required, 1-64 of
//                                       [A-Za-z0-9._:-]; the same key from the same token
//                                       returns the same payment, 200) and
//                                       {"sale","amount_fen","kind":"pay|topup","method":"card"}
//                                       (technician/admin may give "room" instead of "sale")
//                                       or {"kind":"parking","session","amount_fen"}
//                                       -> 202 {"payment": {...}}; 429 when a sale is at the
//                                       terminal and the queue behind it is full        [kiosk]
//   GET  /api/payments/<id>             the journal row; a kiosk: only payments its token
//                                       started in the last 30 minutes (else 404)       [kiosk]
//   POST /api/payments/<id>/receipt     reprint the receipt -> 202 (same scope as GET)  [kiosk]
//   POST /api/payments/qr               a QR payment code read by the kiosk's scanner: header
//                                       Idempotency-Key and {"sale","amount_fen",
//                                       "kind":"pay|topup","auth_code"} (the wallet follows
//                                       from the code; a bad code: 400 naming auth_code,
//                                       nothing stored) -> 202 {"payment": {...}}; the
//                                       platform charges it (cmd/qr-result answers)     [kiosk]
//   GET  /api/payments?state=<state>    rows in a state (technician dashboard)         [technician]
// Parking fees are paid at the POS when the car park is wired in (set_parking).
// Rooms are billing's accounts (BillingAccounts over billing::Engine). Until the billing
// component is wired to share its engine, this component runs its own engine on the site's
// billing config (pass the shared one to the constructor when it exists).
// Thread-safety: driven by the daemon; handlers run on HTTP strands.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "daemon/http/server.hpp"
#include "daemon/kiosk/parking_charges.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::billing {
class Engine;
}
namespace estate::bridge {
class CommandRegistry;
}

namespace estate::kiosk {

// True when the site has a POS terminal, a receipt printer or a kiosk device.
bool kiosk_configured(const config::SiteConfig& cfg);

class KioskComponent : public runtime::Component {
 public:
  KioskComponent(runtime::Services& services, std::shared_ptr<http::Web> web,
                 billing::Engine* engine = nullptr);
  ~KioskComponent() override;
  std::string_view name() const override { return "kiosk"; }
  void start() override;
  void stop(std::function<void()> done) override;
  // The car park whose fees the kiosk takes at the POS; before start().
  void set_parking(std::shared_ptr<ParkingCharges> parking) { parking_ = std::move(parking); }
  // cmd/qr-result (the platform's answer about a QR payment) on the cloud bridge's registry;
  // before the bridge starts. A command arriving before start() waits for it.
  void add_commands(bridge::CommandRegistry& registry);

  // The kiosk's side of the car park's search by plate or card (daemon/gate): a session found
  // opens a sale for its journal room (open_sale: the handle), the only way a kiosk pays a
  // parking fee. Callable from any thread while the component exists.
  struct Sales {
    std::function<std::string(const std::string& token, const std::string& room)> open_sale;
  };
  Sales sales();

  struct State;

 private:
  runtime::Services& services_;
  std::shared_ptr<http::Web> web_;
  billing::Engine* engine_;
  std::shared_ptr<ParkingCharges> parking_;
  std::shared_ptr<State> state_;
};

}  // namespace estate::kiosk
