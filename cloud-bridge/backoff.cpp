#include "cloud-bridge/backoff.hpp"

#include <algorithm>

namespace estate::bridge {

ReconnectBackoff::ReconnectBackoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                   std::uint64_t seed)
    : base_(base), cap_(std::max(cap, base)), rng_(seed) {}

std::chrono::milliseconds ReconnectBackoff::next() {
  const int shift = std::min(attempt_, 30);
  ++attempt_;
  const auto base = base_.count();
  const auto ceiling = std::min<std::int64_t>(cap_.count(), base << shift);
  std::uniform_int_distribution<std::int64_t> pick(base, std::max<std::int64_t>(base, ceiling));
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace estate::bridge
