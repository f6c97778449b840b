// Capped, jittered exponential backoff for reconnects and circuit breakers ("full jitter":
// the delay is uniform in [base, min(cap, base * 2^attempt)]), so a thousand devices or
// gateways retrying after the same outage do not stampede. Not thread-safe; one per peer.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace estate::drivers {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
          std::uint64_t seed = std::random_device{}());

  // The delay before the next attempt; each call counts one more failure.
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds base_, cap_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace estate::drivers
