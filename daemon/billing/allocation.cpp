#include "daemon/billing/allocation.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace estate::billing {

std::vector<Fen> allocate_largest_remainder(Fen total, const std::vector<std::int64_t>& weights) {
  if (total < 0) throw std::invalid_argument("allocation total must not be negative");
  std::vector<Fen> parts(weights.size(), 0);
  if (weights.empty()) return parts;
  WideInt sum = 0;
  for (auto w : weights) {
    if (w < 0) throw std::invalid_argument("allocation weights must not be negative");
    sum += w;
  }
  std::vector<std::int64_t> w = weights;
  if (sum == 0) {
    std::fill(w.begin(), w.end(), 1);
    sum = static_cast<WideInt>(w.size());
  }
  std::vector<std::pair<WideInt, std::size_t>> rem;
  Fen given = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    WideInt num = static_cast<WideInt>(total) * w[i];
    parts[i] = static_cast<Fen>(num / sum);
    given += parts[i];
    rem.emplace_back(num % sum, i);
  }
  std::stable_sort(rem.begin(), rem.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; given < total; ++k, ++given) parts[rem[k].second] += 1;
  return parts;
}

UsageMilli common_usage(UsageMilli master, const std::vector<UsageMilli>& subs) {
  UsageMilli s = std::accumulate(subs.begin(), subs.end(), UsageMilli{0});
  return std::max<UsageMilli>(0, master - s);
}

bool loss_above(UsageMilli common, UsageMilli master, std::int64_t alert_e2) {
  if (alert_e2 <= 0 || master <= 0) return false;
  // common / master > alert / 10000, cross-multiplied in 128 bits.
  return static_cast<WideInt>(common) * 10000 > static_cast<WideInt>(master) * alert_e2;
}

}  // namespace estate::billing
