// What the kiosk needs from billing: a room's outstanding bills and prepaid balance, and
// crediting a payment. A payment settles the bills oldest first; what remains tops up the
// prepaid balance. The payment journal calls apply_payment() only after the terminal approved
// and the approval is durable, and again after a restart if it cannot tell whether the credit
// was applied — so implementations must be idempotent on `payment_id`.
// Thread-safety: implementations are called from HTTP threads (lookup) and the payment worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/store/store.hpp"

namespace estate::billing {
class Engine;
}

namespace estate::kiosk {

using Fen = std::int64_t;

struct Bill {
  std::string id;    // the billing record's reference
  std::string ts;    // when it was posted (ISO 8601)
  std::string item;  // what it is for
  Fen amount_fen = 0;  // the part still unpaid
  // A bill of a billing period (site with `bills:`; item "bill"): its period, dates (ISO 8601,
  // site time), amount, late fee, paid part, status (open | partially_paid) and, once past its
  // due time, the whole days since.
  struct Period {
    std::string period, from, to, issued, due, status;
    Fen bill_amount_fen = 0, late_fee_fen = 0, paid_fen = 0;
    bool overdue = false;
    int days_overdue = 0;
  };
  std::optional<Period> period;
};

// The room's arrears level as billing sees it (pushed by the platform or computed from its
// overdue debt); level 0 when none. `actions` as in the site's policy: warn, charge_as_visitor,
// deny_gate, close_valve. The kiosk shows the warning and what is restricted.
struct ArrearsView {
  int level = 0;
  std::vector<std::string> actions;
  std::string source;  // none | computed | pushed
  Fen overdue_fen = 0;
  int days_overdue = 0;
};

struct AccountView {
  std::string room;
  Fen balance_fen = 0;       // prepaid balance (negative: owed)
  Fen due_fen = 0;           // sum of the unpaid bills
  std::vector<Bill> bills;   // oldest first
  std::optional<Fen> unbilled_fen;  // with `bills:`: charges of the current period, on no bill yet
  ArrearsView arrears;
};

struct Settlement {
  std::vector<std::pair<std::string, Fen>> paid;  // bill id -> fen settled, oldest first
  Fen settled_fen = 0;
  Fen topped_up_fen = 0;
  Fen balance_after_fen = 0;
  bool duplicate = false;  // applied before; nothing changed now
};

// Oldest first: each bill takes what it needs until the amount runs out; the rest tops up.
Settlement settle_oldest_first(const std::vector<Bill>& oldest_first, Fen amount_fen);

class Accounts {
 public:
  virtual ~Accounts() = default;
  // nullopt: no such room.
  virtual std::optional<AccountView> lookup(const std::string& room) = 0;
  // Credits the room; idempotent on payment_id. Throws std::exception on failure (the journal
  // retries it later); std::invalid_argument for an unknown room.
  virtual Settlement apply_payment(const std::string& room, Fen amount_fen,
                                   const std::string& payment_id) = 0;
};

// Over the billing engine: the balance from its snapshot; the unpaid bills are the site's bills
// not paid in full (with `bills:`; debt from before the first bill comes first as item
// "balance"), or else the most recent charges that the negative balance does not cover; a
// payment is the engine's idempotent top-up (which settles the oldest bill first).
class BillingAccounts : public Accounts {
 public:
  BillingAccounts(billing::Engine& engine, store::Store& store);
  std::optional<AccountView> lookup(const std::string& room) override;
  Settlement apply_payment(const std::string& room, Fen amount_fen,
                           const std::string& payment_id) override;

 private:
  billing::Engine& engine_;
  store::Store& store_;
};

}  // namespace estate::kiosk
