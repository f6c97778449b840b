// Capped, jittered exponential backoff for broker reconnects ("full jitter": uniform in
// [base, min(cap, base * 2^attempt)]), so many gateways reconnecting after one broker restart
// spread out instead of stampeding. Not thread-safe; one per session.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace estate::bridge {

class ReconnectBackoff {
 public:
  ReconnectBackoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                   std::uint64_t seed = std::random_device{}());
  std::chrono::milliseconds next();  // counts one more failed attempt
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds base_, cap_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace estate::bridge
