// The reconnect schedule of one MQTT session (docs/mqtt-api.md, "Reconnecting").
//
// Three parts, after what well-known clients do:
//  - a fast phase: the first `fast_attempts` attempts of an outage wait uniform in
//    [base, fast_max], so a broker restart of a second or two costs about a second;
//  - then decorrelated jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
//    delay = min(ceiling, uniform(base, 3 * previous delay)), where the ceiling grows with the
//    outage itself: `ceiling_share` of the time since it began, at least fast_max, at most cap.
//    A gateway that has been away for t seconds waits at most about t/3 more once the broker is
//    back, and many gateways that lost the same broker keep spreading their attempts;
//  - a refusal (the broker answered and said no: bad credentials, not authorised) jumps to the
//    cap: delays uniform in [cap/2, cap] until a connection is accepted.
// The schedule starts over only after a connection that held for `hold`; a connection that
// drops sooner (a flapping link, a broker that accepts and kicks) continues the outage's
// schedule, so it cannot hammer the broker.
//
// Time is passed in (steady clock), so tests and simulations run it on a clock of their own.
// Errors: none; a policy out of range is clamped (base >= 1 ms, fast_max and cap >= base).
// Not thread-safe; one per session.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace estate::bridge {

struct BackoffPolicy {
  std::chrono::milliseconds base{250};       // shortest delay
  std::chrono::milliseconds fast_max{1000};  // longest delay of the fast phase
  int fast_attempts = 3;                     // attempts in the fast phase
  double ceiling_share = 0.3;                // ceiling = this share of the outage so far
  std::chrono::milliseconds cap{30000};      // longest delay; where a refusal goes
  std::chrono::milliseconds hold{20000};     // a connection held this long resets the schedule
};

class ReconnectBackoff {
 public:
  using clock = std::chrono::steady_clock;

  explicit ReconnectBackoff(BackoffPolicy policy = {},
                            std::uint64_t seed = std::random_device{}());

  // The delay before the next attempt, after an attempt that failed at `now` with the broker
  // away (no TCP connection, no CONNACK, a lost connection).
  std::chrono::milliseconds away(clock::time_point now);
  // The delay after the broker refused the connection at `now` (CONNACK 1, 2, 4 or 5).
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
  void begin(clock::time_point now);

  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  std::optional<clock::time_point> outage_since_, connected_at_;
  std::int64_t previous_ms_ = 0;
  int attempts_ = 0;
  bool refusing_ = false;
};

}  // namespace estate::bridge
