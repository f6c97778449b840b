// Shared-meter (公摊) allocation: an amount in fen split by weights (area, headcount or usage)
// with the largest-remainder rule, so the parts add up to the whole exactly.
// Rule: each part gets floor(total x w / sum w); the fen left over go one each to the parts
// with the largest remainders; equal remainders go to the earlier part in the configured
// order. All weights zero: split as if equal. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "daemon/billing/decimal.hpp"

namespace estate::billing {

// `total` >= 0, weights >= 0 (std::invalid_argument otherwise). Returns one part per weight.
std::vector<Fen> allocate_largest_remainder(Fen total, const std::vector<std::int64_t>& weights);

// Common usage of a shared meter: master minus the sum of its sub-meters, never below zero
// (a negative result means the subs over-read the master; that is reported, not billed).
UsageMilli common_usage(UsageMilli master, const std::vector<UsageMilli>& subs);

// True when the common usage is above `alert_e2` percent (x100) of the master's usage.
bool loss_above(UsageMilli common, UsageMilli master, std::int64_t alert_e2);

}  // namespace estate::billing
