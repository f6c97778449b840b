#include "daemon/kiosk/accounts.hpp"

#include <algorithm>
#include <chrono>

#include "daemon/billing/engine.hpp"

namespace estate::kiosk {

Settlement settle_oldest_first(const std::vector<Bill>& bills, Fen amount) {
  Settlement s;
  Fen left = amount;
  for (const auto& b : bills) {
    if (left <= 0) break;
    Fen take = std::min(left, b.amount_fen);
    if (take <= 0) continue;
    s.paid.emplace_back(b.id, take);
    s.settled_fen += take;
    left -= take;
  }
  s.topped_up_fen = left;
  return s;
}

BillingAccounts::BillingAccounts(billing::Engine& engine, store::Store& store)
    : engine_(engine), store_(store) {}

std::optional<AccountView> BillingAccounts::lookup(const std::string& room) {
  auto balance = engine_.balance_fen(room);
  if (!balance) return std::nullopt;
  AccountView v;
  v.room = room;
  v.balance_fen = *balance;
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (engine_.config()->bills) {
    auto db = store_.open_reader();
    const auto open = billing::unpaid_bills(db, room, engine_.utc_offset_minutes());
    const Fen unbilled = billing::unbilled_fen(db, room);
    v.unbilled_fen = std::max<Fen>(0, unbilled);
    Fen on_bills = 0;
    for (const auto& b : open) on_bills += b.unpaid_fen();
    // Debt beyond the current period's charges and the bills: owed from before the first bill.
    const Fen before = std::max<Fen>(0, -*balance) - unbilled - on_bills;
    if (before > 0) v.bills.push_back({"balance", "", "balance", before, std::nullopt});
    for (const auto& b : open) {
      Bill::Period p;
      p.period = b.period;
      p.from = b.from;
      p.to = b.to;
      p.issued = b.issued;
      p.due = b.due;
      p.status = b.status;
      p.bill_amount_fen = b.amount_fen;
      p.late_fee_fen = b.late_fee_fen;
      p.paid_fen = b.paid_fen;
      p.overdue = now.time_since_epoch().count() > b.due_at;
      p.days_overdue = billing::days_overdue(b.due_at, now);
      v.bills.push_back({"bill:" + b.period, b.issued, "bill", b.unpaid_fen(), std::move(p)});
    }
    for (const auto& b : v.bills) v.due_fen += b.amount_fen;
  } else if (*balance < 0) {
    // The debt is covered by the newest charges; walk back until it is accounted for.
    Fen owed = -*balance;
    auto db = store_.open_reader();
    auto st = db.prepare(
        "SELECT ref, ts, kind, amount_fen, detail FROM billing_charges WHERE room = ?1 "
        "ORDER BY id DESC");
    st.bind(1, room);
    std::vector<Bill> newest_first;
    while (owed > 0 && st.step()) {
      Fen amount = st.int64(3);
      if (amount <= 0) continue;
      Fen part = std::min(owed, amount);
      newest_first.push_back({st.text(0), st.text(1), st.text(2), part, std::nullopt});
      owed -= part;
    }
    if (owed > 0) newest_first.push_back({"balance", "", "balance", owed, std::nullopt});
    v.bills.assign(newest_first.rbegin(), newest_first.rend());
    for (const auto& b : v.bills) v.due_fen += b.amount_fen;
  }
  const auto level = engine_.arrears_level(room, now);
  v.arrears.level = level.level;
  v.arrears.source = std::string(billing::to_string(level.source));
  v.arrears.overdue_fen = level.overdue_fen;
  v.arrears.days_overdue = level.days_overdue;
  for (auto [bit, name] : {std::pair{billing::warn, "warn"},
                           std::pair{billing::charge_as_visitor, "charge_as_visitor"},
                           std::pair{billing::deny_gate, "deny_gate"},
                           std::pair{billing::close_valve, "close_valve"}}) {
    if (level.has(bit)) v.arrears.actions.emplace_back(name);
  }
  return v;
}

Settlement BillingAccounts::apply_payment(const std::string& room, Fen amount_fen,
                                          const std::string& payment_id) {
  auto before = lookup(room);
  if (!before) throw std::invalid_argument("unknown room '" + room + "'");
  auto s = settle_oldest_first(before->bills, amount_fen);
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto r = engine_.top_up_sync(room, amount_fen, "kiosk", payment_id, now);
  s.balance_after_fen = r.balance_fen;
  if (r.duplicate) {
    // Applied before a restart: which bills it settled is what the balance before it owed.
    Settlement d;
    d.duplicate = true;
    Fen owed_before = std::max<Fen>(0, amount_fen - r.balance_fen);
    d.settled_fen = std::min(owed_before, amount_fen);
    d.topped_up_fen = amount_fen - d.settled_fen;
    d.balance_after_fen = r.balance_fen;
    return d;
  }
  return s;
}

}  // namespace estate::kiosk
