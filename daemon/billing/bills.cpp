#include "daemon/billing/bills.hpp"

#include <algorithm>

#include "daemon/billing/engine.hpp"
#include "daemon/store/store.hpp"

namespace estate::billing {

namespace {
constexpr std::int64_t seconds_per_day = 86400;
}

BillPeriod last_closed_bill_period(const BillsPolicy& p, TimePoint now, int utc_offset_minutes) {
  // The same calendar as a shared meter's period (engine.cpp: last_closed_period).
  SharedMeter as_period;
  as_period.period_minutes = p.period_minutes;
  as_period.allocate_at_minute = p.issue_at_minute;
  const DuePeriod d = last_closed_period(as_period, now, utc_offset_minutes);
  BillPeriod b;
  b.name = d.period.name;
  b.start = d.period.start;
  b.end = d.period.end;
  b.issue_at = d.due;
  b.due = d.period.end + std::chrono::seconds(static_cast<std::int64_t>(p.due_days) * seconds_per_day);
  return b;
}

int days_overdue(std::int64_t due_at, TimePoint now) {
  const std::int64_t t = now.time_since_epoch().count();
  if (t <= due_at) return 0;
  return static_cast<int>((t - due_at) / seconds_per_day);
}

ArrearsLevel arrears_from_bills(const ArrearsPolicy& p, const std::vector<OpenBill>& open,
                                TimePoint now) {
  Fen overdue = 0;
  std::optional<std::int64_t> oldest;
  for (const auto& b : open) {
    if (b.unpaid_fen <= 0 || b.due_at >= now.time_since_epoch().count()) continue;
    overdue += b.unpaid_fen;
    oldest = oldest ? std::min(*oldest, b.due_at) : b.due_at;
  }
  if (!oldest) return {};
  return compute_arrears_level(p, days_overdue(*oldest, now), overdue);
}

BillFee accrue_bill_fee(const LateFeePolicy& p, Fen amount_fen, Fen principal_unpaid_fen,
                        const BillFee& so_far, int days) {
  BillFee out = so_far;
  const int counted = std::max(0, days - p.grace_days);
  if (counted <= so_far.fee_days) return out;
  const WideInt cap = static_cast<WideInt>(std::max<Fen>(0, amount_fen)) * p.cap_percent_e2 / 10000;
  WideInt exact = static_cast<WideInt>(so_far.exact_e6) +
                  static_cast<WideInt>(std::max<Fen>(0, principal_unpaid_fen)) * p.daily_rate_e6 *
                      (counted - so_far.fee_days);
  exact = std::min(exact, cap * 1000000);  // past the cap the sum stops growing
  out.fee_days = counted;
  out.exact_e6 = static_cast<std::int64_t>(exact);
  const WideInt fee = std::min((exact + 500000) / 1000000, cap);  // half up, all terms >= 0
  out.fee_fen = std::max(so_far.fee_fen, static_cast<Fen>(fee));
  return out;
}

std::string_view bill_status(Fen total_fen, Fen paid_fen) {
  if (paid_fen >= total_fen) return "paid";
  return paid_fen <= 0 ? "open" : "partially_paid";
}

std::vector<BillView> unpaid_bills(store::Database& db, const std::string& room,
                                   int utc_offset_minutes) {
  auto st = db.prepare(
      "SELECT id, period, period_start, period_end, issued_at, due_at, amount_fen, late_fee_fen, "
      "paid_fen, status FROM billing_bills WHERE room = ?1 AND status != 'paid' "
      "ORDER BY period_end, id");
  st.bind(1, room);
  auto iso = [&](std::int64_t s) {
    return store::iso8601(std::chrono::system_clock::time_point(std::chrono::seconds(s)),
                          utc_offset_minutes);
  };
  std::vector<BillView> out;
  while (st.step()) {
    BillView b;
    b.id = st.int64(0);
    b.period = st.text(1);
    b.from = iso(st.int64(2));
    b.to = iso(st.int64(3));
    b.issued = iso(st.int64(4));
    b.due_at = st.int64(5);
    b.due = iso(b.due_at);
    b.amount_fen = st.int64(6);
    b.late_fee_fen = st.int64(7);
    b.paid_fen = st.int64(8);
    b.status = st.text(9);
    out.push_back(std::move(b));
  }
  return out;
}

Fen unbilled_fen(store::Database& db, const std::string& room) {
  auto st = db.prepare("SELECT COALESCE(SUM(amount_fen), 0) FROM billing_charges "
                       "WHERE room = ?1 AND bill_id IS NULL");
  st.bind(1, room);
  return st.step() ? st.int64(0) : 0;
}

}  // namespace estate::billing
