// Late fees (滞纳金): a daily rate on an overdue amount, starting after a grace period, capped.
// Rule: days_charged = max(0, days_overdue - grace_days);
//       fee = round_half_up(overdue_fen x daily_rate x days_charged) to the fen, computed once
//       on the whole period (never day by day), then capped at cap_percent of overdue_fen
//       (the cap rounded down, so the fee never exceeds it). Pure and thread-safe.
#pragma once

#include "daemon/billing/billing_config.hpp"

namespace estate::billing {

Fen late_fee_fen(const LateFeePolicy& p, Fen overdue_fen, int days_overdue);

}  // namespace estate::billing
