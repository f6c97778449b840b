// The retry schedule (drivers/transports/backoff.hpp; the MQTT session's reconnects, docs/mqtt-api.md
// "Reconnecting"), on a
// clock of the test's own and seeded generators: fast phase, growth with the outage, the cap,
// the reset after a connection that held, and a refusal going to the cap.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "drivers/transports/backoff.hpp"

using namespace estate::drivers;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = Backoff::clock;

namespace {

struct Attempt {
  milliseconds outage;  // time since the outage began when the attempt failed
  milliseconds delay;   // the delay drawn after it
};

// An outage of `length`: every attempt fails at once (a refused TCP connection), the next is
// made after the drawn delay.
std::vector<Attempt> outage(Backoff& b, Clock::time_point start, milliseconds length) {
  std::vector<Attempt> out;
  auto now = start;
  while (now - start < length) {
    auto d = b.away(now);
    out.push_back({std::chrono::duration_cast<milliseconds>(now - start), d});
    now += d;
  }
  return out;
}

const Clock::time_point t0{};

}  // namespace

TEST(Backoff, FastPhaseDelaysStayBetweenBaseAndFastMax) {
  BackoffPolicy p;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    Backoff b(p, seed);
    auto now = t0;
    for (int i = 0; i < p.fast_attempts; ++i) {
      auto d = b.away(now);
      EXPECT_GE(d, p.base) << "seed " << seed;
      EXPECT_LE(d, p.fast_max) << "seed " << seed;
      now += d;
    }
    EXPECT_EQ(b.attempts(), p.fast_attempts);
  }
}

TEST(Backoff, TheSameSeedGivesTheSameSchedule) {
  Backoff a({}, 7), b({}, 7), c({}, 8);
  auto x = outage(a, t0, seconds(120)), y = outage(b, t0, seconds(120)), z = outage(c, t0, seconds(120));
  ASSERT_EQ(x.size(), y.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i].delay, y[i].delay);
  bool differs = x.size() != z.size();
  for (std::size_t i = 0; !differs && i < x.size(); ++i) differs = x[i].delay != z[i].delay;
  EXPECT_TRUE(differs);
}

// The bound behind "back within 5 s after an outage of up to 10 s": no delay drawn during the
// first 10 s of an outage exceeds 30 % of 10 s.
TEST(Backoff, CeilingFollowsTheOutageSoAShortOutageCostsLittle) {
  BackoffPolicy p;
  for (std::uint64_t seed = 1; seed <= 500; ++seed) {
    Backoff b(p, seed);
    for (const auto& a : outage(b, t0, seconds(10))) {
      const auto bound = std::max(p.fast_max, milliseconds(a.outage.count() * 3 / 10 + 1));
      EXPECT_LE(a.delay, bound) << "seed " << seed << " at " << a.outage.count() << " ms";
      EXPECT_LE(a.delay, milliseconds(3000)) << "seed " << seed;
      EXPECT_GE(a.delay, p.base);
    }
  }
  Backoff b(p, 1);
  b.away(t0);
  EXPECT_EQ(b.ceiling(t0 + seconds(2)), p.fast_max);
  EXPECT_EQ(b.ceiling(t0 + seconds(10)), milliseconds(3000));
  EXPECT_EQ(b.ceiling(t0 + seconds(60)), milliseconds(18000));
  EXPECT_EQ(b.ceiling(t0 + seconds(3600)), p.cap);
}

TEST(Backoff, GrowsDecorrelatedUpToTheCapAndNoFurther) {
  BackoffPolicy p;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    Backoff b(p, seed);
    auto attempts = outage(b, t0, std::chrono::hours(1));
    milliseconds previous = p.base, largest{0};
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      const auto d = attempts[i].delay;
      EXPECT_GE(d, p.base);
      EXPECT_LE(d, p.cap);
      if (static_cast<int>(i) >= p.fast_attempts) {
        EXPECT_LE(d, std::max(p.base, previous * 3)) << "decorrelated: at most 3 x the last";
      }
      previous = d;
      largest = std::max(largest, d);
    }
    EXPECT_EQ(largest, p.cap) << "seed " << seed << ": an hour away reaches the cap";
    // Spread, not lock-step: after the first ten minutes delays are mostly near the cap,
    // i.e. attempts about every 15-30 s, a few hundred over the hour, not thousands.
    EXPECT_LT(attempts.size(), 400u);
    EXPECT_GT(attempts.size(), 100u);
  }
}

TEST(Backoff, AConnectionThatHeldStartsTheScheduleOver) {
  BackoffPolicy p;
  Backoff b(p, 3);
  outage(b, t0, seconds(300));
  auto now = t0 + seconds(300);
  b.connected(now);
  b.lost(now + p.hold);
  EXPECT_EQ(b.attempts(), 0);
  now += p.hold;
  for (int i = 0; i < p.fast_attempts; ++i) {
    auto d = b.away(now);
    EXPECT_LE(d, p.fast_max);
    now += d;
  }
  EXPECT_EQ(b.ceiling(now), p.fast_max);
}

TEST(Backoff, AConnectionThatDroppedAtOnceContinuesTheOutage) {
  BackoffPolicy p;
  Backoff b(p, 4);
  outage(b, t0, seconds(300));
  const int before = b.attempts();
  auto now = t0 + seconds(300);
  b.connected(now);
  b.lost(now + seconds(1));  // a broker that accepts and drops us: no fast phase again
  EXPECT_EQ(b.attempts(), before);
  EXPECT_EQ(b.ceiling(now + seconds(1)), p.cap);
  // No fast retries: with the range at 3 x the last delay and the cap reached, a run of
  // fast-phase-sized delays is as unlikely as it is with no reset at all.
  milliseconds sum{0};
  for (int i = 0; i < 10; ++i) sum += b.away(now + seconds(1) + sum);
  EXPECT_GT(sum, seconds(30));
}

TEST(Backoff, ARefusalGoesToTheCapUntilAConnectionIsAccepted) {
  BackoffPolicy p;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    Backoff b(p, seed);
    auto now = t0;
    for (int i = 0; i < 5; ++i) {
      auto d = b.refused(now);
      EXPECT_GE(d, p.cap / 2) << "no fast phase for a refusal, not even the first";
      EXPECT_LE(d, p.cap);
      EXPECT_TRUE(b.refusing());
      now += d;
    }
    // The broker refused, then went away: still no fast retries until it accepts us.
    EXPECT_EQ(b.ceiling(now), p.cap);
    EXPECT_GE(b.away(now), p.base);
    EXPECT_EQ(b.ceiling(now), p.cap);
    b.connected(now);
    EXPECT_FALSE(b.refusing());
    b.lost(now + p.hold);
    EXPECT_LE(b.away(now + p.hold), p.fast_max);
  }
}

TEST(Backoff, APolicyOutOfRangeIsClamped) {
  BackoffPolicy p;
  p.base = milliseconds(0);
  p.fast_max = milliseconds(0);
  p.cap = milliseconds(0);
  p.fast_attempts = -1;
  p.ceiling_share = 7;
  Backoff b(p, 1);
  EXPECT_EQ(b.policy().base, milliseconds(1));
  EXPECT_EQ(b.policy().cap, milliseconds(1));
  EXPECT_EQ(b.away(t0), milliseconds(1));
  EXPECT_EQ(b.refused(t0), milliseconds(1));
}
