// Reconnect schedule at scale: N clients (default 1000) that lost one broker at the same
// instant, each running the gateway's own Backoff on simulated time (a client loop,
// not N daemons: an attempt while the broker is away fails at once, one after it returns
// succeeds). Figures per outage length:
//   peak_per_s       CONNECT attempts at the broker's address in the busiest second;
//   late_peak_per_s  the same, from the 60th second of the outage on (how well they spread);
//   back_peak_per_s  connections accepted in the busiest second after the broker returned;
//   wait_p50_ms, wait_max_ms  time from the broker's return to each client's connection.
// "before" is the schedule up to this change (delay uniform in [250 ms, min(30 s, 250 ms *
// 2^attempt)]), kept here only for the comparison. The real daemons' figures come from
// tests/bench/reconnect_gateways.py (scripts/bench runs both).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "drivers/transports/backoff.hpp"

namespace {

using estate::drivers::Backoff;
using std::chrono::milliseconds;
using Clock = Backoff::clock;

constexpr int kClients = 1000;

// The schedule this change replaced, for the "before" rows.
class FullJitter {
 public:
  explicit FullJitter(std::uint64_t seed) : rng_(seed) {}
  milliseconds away(Clock::time_point) {
    const int shift = std::min(attempt_++, 30);
    const std::int64_t ceiling = std::min<std::int64_t>(30000, std::int64_t{250} << shift);
    return milliseconds(std::uniform_int_distribution<std::int64_t>(250, ceiling)(rng_));
  }
  void lost(Clock::time_point) {}

 private:
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

struct Figures {
  std::int64_t attempts = 0, peak = 0, late_peak = 0, back_peak = 0, p50 = 0, max = 0;
};

template <class Schedule>
Figures simulate(int clients, milliseconds outage) {
  const Clock::time_point t0{std::chrono::hours(1)};
  std::vector<Schedule> s;
  s.reserve(static_cast<std::size_t>(clients));
  using Event = std::pair<std::int64_t, int>;  // ms since the loss, client
  std::priority_queue<Event, std::vector<Event>, std::greater<>> q;
  for (int i = 0; i < clients; ++i) {
    const auto seed = static_cast<std::uint64_t>(i) + 1;
    if constexpr (std::is_same_v<Schedule, Backoff>) {
      s.emplace_back(estate::drivers::BackoffPolicy{}, seed);
      s.back().connected(t0 - std::chrono::hours(1));  // a connection that had held
    } else {
      s.emplace_back(seed);
    }
    s.back().lost(t0);
    q.push({s.back().away(t0).count(), i});
  }
  std::map<std::int64_t, std::int64_t> per_second, away_per_second, back_per_second;
  std::vector<std::int64_t> waits;
  Figures f;
  while (!q.empty()) {
    auto [t, i] = q.top();
    q.pop();
    ++f.attempts;
    ++per_second[t / 1000];
    if (t >= outage.count()) {
      waits.push_back(t - outage.count());
      ++back_per_second[t / 1000];
      continue;
    }
    ++away_per_second[t / 1000];
    q.push({t + s[static_cast<std::size_t>(i)].away(t0 + milliseconds(t)).count(), i});
  }
  for (auto [sec, n] : per_second) f.peak = std::max(f.peak, n);
  for (auto [sec, n] : away_per_second) {
    if (sec >= 60) f.late_peak = std::max(f.late_peak, n);
  }
  for (auto [sec, n] : back_per_second) f.back_peak = std::max(f.back_peak, n);
  std::sort(waits.begin(), waits.end());
  f.p50 = waits[waits.size() / 2];
  f.max = waits.back();
  return f;
}

template <class Schedule>
void BM_Reconnect(benchmark::State& state) {
  const milliseconds outage(state.range(0) * 1000);
  Figures f;
  for (auto _ : state) f = simulate<Schedule>(kClients, outage);
  state.counters["clients"] = kClients;
  state.counters["attempts"] = static_cast<double>(f.attempts);
  state.counters["peak_per_s"] = static_cast<double>(f.peak);
  state.counters["late_peak_per_s"] = static_cast<double>(f.late_peak);
  state.counters["back_peak_per_s"] = static_cast<double>(f.back_peak);
  state.counters["wait_p50_ms"] = static_cast<double>(f.p50);
  state.counters["wait_max_ms"] = static_cast<double>(f.max);
}

void outages(benchmark::internal::Benchmark* b) {
  for (int s : {2, 5, 10, 60, 300, 1800}) b->Arg(s);
  b->ArgName("outage_s")->Iterations(1)->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK_TEMPLATE(BM_Reconnect, FullJitter)->Name("reconnect_1000/before")->Apply(outages);
BENCHMARK_TEMPLATE(BM_Reconnect, Backoff)->Name("reconnect_1000/after")->Apply(outages);
