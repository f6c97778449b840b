// The one retry schedule of the tree: serial and TCP lines reopening (Link, ModbusClient), a
// meter's circuit breaker, and the MQTT session's reconnects (docs/mqtt-api.md, "Reconnecting").
// Standard library only, a target of its own (estate_backoff), so cloud-bridge/ uses it without
// depending on the drivers.
//
// After what well-known clients do:
//  - a fast phase: the first `fast_attempts` attempts of an outage wait uniform in
//    [base, fast_max], so a peer restarting for a second or two costs about a second;
//  - then decorrelated jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
//    delay = min(ceiling, uniform(base, 3 * previous delay)). With a clock (`away(now)`) the
//    ceiling grows with the outage itself: `ceiling_share` of the time since it began, at least
//    fast_max, at most cap; so a peer away for t seconds waits at most about t/3 more once it is
//    back, and many clients that lost the same peer keep spreading their attempts. Without a
//    clock (`next()`) the ceiling is the cap;
//  - a refusal (the peer answered and said no: bad credentials, not authorised) jumps to the
//    cap: delays uniform in [cap/2, cap] until a connection is accepted.
// With a clock, the schedule starts over only after a connection that held for `hold`; one that
// drops sooner (a flapping link, a broker that accepts and kicks) continues the outage's
// schedule, so it cannot hammer the peer. Without one, `reset()` starts it over.
//
// Time is passed in (steady clock), so tests and simulations run it on a clock of their own.
// Errors: none; a policy out of range is clamped (base >= 1 ms, fast_max and cap >= base).
// Not thread-safe; one per peer.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace estate::drivers {

struct BackoffPolicy {
  std::chrono::milliseconds base{250};       // shortest delay
  std::chrono::milliseconds fast_max{1000};  // longest delay of the fast phase
  int fast_attempts = 3;                     // attempts in the fast phase
  double ceiling_share = 0.3;                // with a clock: ceiling = this share of the outage
  std::chrono::milliseconds cap{30000};      // longest delay; where a refusal goes
  std::chrono::milliseconds hold{20000};     // a connection held this long resets the schedule

  // A plain schedule from `base` to `cap`: no fast phase, decorrelated jitter from the first
  // failure (the first delay is uniform in [base, 3 * base]).
  static BackoffPolicy plain(std::chrono::milliseconds base, std::chrono::milliseconds cap) {
    BackoffPolicy p;
    p.base = base;
    p.fast_max = base;
    p.fast_attempts = 0;
    p.cap = cap;
    return p;
  }
};

class Backoff {
 public:
  using clock = std::chrono::steady_clock;

  explicit Backoff(BackoffPolicy policy = {}, std::uint64_t seed = std::random_device{}());
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
          std::uint64_t seed = std::random_device{}())
      : Backoff(BackoffPolicy::plain(base, cap), seed) {}

  // The delay before the next attempt; each call counts one more failure. No clock: the ceiling
  // is the cap.
  std::chrono::milliseconds next();
  // Every failure counted so far forgotten: the next delay is the schedule's first again.
  void reset();

  // The delay before the next attempt, after an attempt that failed at `now` with the peer
  // away (no TCP connection, no answer, a lost connection).
  std::chrono::milliseconds away(clock::time_point now);
  // The delay after the peer refused the connection at `now` (e.g. CONNACK 1, 2, 4 or 5).
  std::chrono::milliseconds refused(clock::time_point now);
  // A connection was accepted at `now`.
  void connected(clock::time_point now);
  // The accepted connection was lost at `now`: the schedule starts over if it held for `hold`.
  void lost(clock::time_point now);

  // The largest delay away() would return at `now`.
  std::chrono::milliseconds ceiling(clock::time_point now) const;
  int attempts() const { return attempts_; }  // failed attempts of this outage
  bool refusing() const { return refusing_; }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  std::int64_t pick(std::int64_t lo, std::int64_t hi);
  std::int64_t draw(std::int64_t ceiling_ms);
  void begin(clock::time_point now);

  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  std::optional<clock::time_point> outage_since_, connected_at_;
  std::int64_t previous_ms_ = 0;
  int attempts_ = 0;
  bool refusing_ = false;
};

}  // namespace estate::drivers
