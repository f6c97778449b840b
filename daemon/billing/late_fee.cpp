#include "daemon/billing/late_fee.hpp"

#include <algorithm>

namespace estate::billing {

Fen late_fee_fen(const LateFeePolicy& p, Fen overdue_fen, int days_overdue) {
  if (overdue_fen <= 0) return 0;
  const std::int64_t days = std::max(0, days_overdue - p.grace_days);
  // overdue (fen) x rate (1e-6) x days: an exact count of 1e-6 fen.
  const WideInt micro = static_cast<WideInt>(overdue_fen) * p.daily_rate_e6 * days;
  const WideInt fee = (micro + 500000) / 1000000;  // half up (all terms non-negative)
  const WideInt cap = static_cast<WideInt>(overdue_fen) * p.cap_percent_e2 / 10000;
  return static_cast<Fen>(std::min(fee, cap));
}

}  // namespace estate::billing
