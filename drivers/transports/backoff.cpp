#include "drivers/transports/backoff.hpp"

#include <algorithm>

namespace estate::drivers {

using std::chrono::milliseconds;

Backoff::Backoff(BackoffPolicy p, std::uint64_t seed) : policy_(p), rng_(seed) {
  policy_.base = std::max(policy_.base, milliseconds(1));
  policy_.fast_max = std::max(policy_.fast_max, policy_.base);
  policy_.cap = std::max(policy_.cap, policy_.fast_max);
  policy_.fast_attempts = std::max(policy_.fast_attempts, 0);
  policy_.ceiling_share = std::clamp(policy_.ceiling_share, 0.0, 1.0);
  previous_ms_ = policy_.base.count();
}

std::int64_t Backoff::pick(std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, std::max(lo, hi))(rng_);
}

// One more failure counted, its delay drawn under `ceiling_ms`.
std::int64_t Backoff::draw(std::int64_t ceiling_ms) {
  ++attempts_;
  const auto base = policy_.base.count();
  std::int64_t d;
  if (attempts_ <= policy_.fast_attempts && !refusing_) {
    d = pick(base, policy_.fast_max.count());
  } else {
    // Decorrelated jitter; 3 * previous grows the range about 1.5 times per attempt on average.
    d = std::min(ceiling_ms, pick(base, previous_ms_ * 3));
  }
  previous_ms_ = d;
  return d;
}

void Backoff::begin(clock::time_point now) {
  if (outage_since_) return;
  outage_since_ = now;
  attempts_ = 0;
  previous_ms_ = policy_.base.count();
}

milliseconds Backoff::next() {
  return milliseconds(draw(policy_.cap.count()));
}

void Backoff::reset() {
  outage_since_.reset();
  connected_at_.reset();
  attempts_ = 0;
  refusing_ = false;
  previous_ms_ = policy_.base.count();
}

milliseconds Backoff::ceiling(clock::time_point now) const {
  if (refusing_) return policy_.cap;
  if (!outage_since_) return policy_.fast_max;
  const auto outage = std::chrono::duration_cast<milliseconds>(now - *outage_since_).count();
  const auto grown = static_cast<std::int64_t>(static_cast<double>(std::max<std::int64_t>(outage, 0)) *
                                               policy_.ceiling_share);
  return milliseconds(std::clamp(grown, policy_.fast_max.count(), policy_.cap.count()));
}

milliseconds Backoff::away(clock::time_point now) {
  begin(now);
  return milliseconds(draw(ceiling(now).count()));
}

milliseconds Backoff::refused(clock::time_point now) {
  begin(now);
  ++attempts_;
  refusing_ = true;
  const auto cap = policy_.cap.count();
  previous_ms_ = pick(std::max(policy_.base.count(), cap / 2), cap);
  return milliseconds(previous_ms_);
}

void Backoff::connected(clock::time_point now) {
  connected_at_ = now;
  refusing_ = false;  // the peer took our credentials: a later failure is the peer away
}

void Backoff::lost(clock::time_point now) {
  if (connected_at_ && now - *connected_at_ >= policy_.hold) {
    outage_since_.reset();
    attempts_ = 0;
  }
  connected_at_.reset();
  begin(now);
}

}  // namespace estate::drivers
