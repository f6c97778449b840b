// Bills (docs/billing.md, "Bills"): one bill per room and billing period, due `due_days` after
// the period's end; payments settle the oldest bill first (within a bill, its amount before its
// late fee); late fees accrue per overdue day on a bill's unpaid amount; the arrears level
// follows the overdue bills. The rules here are pure (no I/O, no clock) and thread-safe; the
// engine (engine.cpp) applies them in its store transactions, and unpaid_bills() reads what it
// stored for the kiosk.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/billing/arrears.hpp"
#include "daemon/billing/billing_config.hpp"
#include "daemon/store/sqlite.hpp"

namespace estate::billing {

using TimePoint = std::chrono::sys_seconds;

// A bill not yet paid in full, as the arrears level needs it.
struct OpenBill {
  std::int64_t due_at = 0;  // UTC seconds
  Fen unpaid_fen = 0;       // amount + late fee - paid, > 0
};

// The billing period that ended most recently at or before `now`: "2026-11" (calendar month)
// or "2026-12-04T16:50/5m" (minute periods), [start, end), when it is issued (month: day 1 of
// the next month at issue_at, site time; minute periods: their end) and when its bills are due
// (end + due_days x 24 h).
struct BillPeriod {
  std::string name;
  TimePoint start, end, issue_at, due;
};
BillPeriod last_closed_bill_period(const BillsPolicy& p, TimePoint now, int utc_offset_minutes);

// Whole days since `due_at` (floor); 0 before and on the due instant's first day.
int days_overdue(std::int64_t due_at, TimePoint now);

// The level the overdue bills (due before `now`, unpaid) give: days from the oldest one's
// due date, amount the sum of their unpaid parts. Level 0 (source none) when nothing is overdue.
ArrearsLevel arrears_from_bills(const ArrearsPolicy& p, const std::vector<OpenBill>& open,
                                TimePoint now);

// Late fee of one bill, accrued day by day on its unpaid amount (principal):
//   each overdue day d > grace_days adds principal_unpaid x daily_rate, exactly (1e-6 fen);
//   fee = round_half_up(sum) to the fen, once on the bill's running sum (never per day), at most
//   cap_percent of the bill's amount (the cap rounded down), and never less than before.
// `so_far` is what the bill holds; the day count moves to max(0, days_overdue - grace_days) and
// the days newly counted use `principal_unpaid_fen` (what is unpaid now: the engine accrues
// before it credits a payment, so a day that ended before the payment counts the amount then).
struct BillFee {
  int fee_days = 0;           // overdue days already counted
  std::int64_t exact_e6 = 0;  // their sum, 1e-6 fen
  Fen fee_fen = 0;            // the fee posted so far
};
BillFee accrue_bill_fee(const LateFeePolicy& p, Fen amount_fen, Fen principal_unpaid_fen,
                        const BillFee& so_far, int days_overdue);

// open (nothing paid), partially_paid, paid (total == paid; a bill of 0 fen is paid).
std::string_view bill_status(Fen total_fen, Fen paid_fen);

// A stored bill as the kiosk shows it.
struct BillView {
  std::int64_t id = 0;
  std::string period, from, to, issued, due;  // ISO 8601, site time
  std::int64_t due_at = 0;                    // UTC seconds
  Fen amount_fen = 0, late_fee_fen = 0, paid_fen = 0;
  std::string status;
  Fen unpaid_fen() const { return amount_fen + late_fee_fen - paid_fen; }
};
// The room's bills not paid in full, oldest first (any connection; read-only).
std::vector<BillView> unpaid_bills(store::Database& db, const std::string& room,
                                   int utc_offset_minutes);
// The charges of the room no bill has taken yet (the current period's), in fen.
Fen unbilled_fen(store::Database& db, const std::string& room);

}  // namespace estate::billing
