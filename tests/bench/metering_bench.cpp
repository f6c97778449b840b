// Durable ingest: readings/s through validation into SQLite with an outbox row each (the
// Recorder's path, group-committed by the Store's writer), and the process RSS while doing it.
// The poll cycle against wire time over paced simulated lines is poll_cycle_bench.cpp.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "daemon/metering/recorder.hpp"

namespace {

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

void BM_DurableIngest(benchmark::State& state) {
  const int meters = static_cast<int>(state.range(0));
  const int per_device = 4;  // readings per device job (energy, power, voltage...)
  auto dir = std::filesystem::temp_directory_path() / ("estate-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  estate::store::Store store(dir);
  estate::metering::Recorder rec(store, "bench-gw", 480);
  auto t0 = std::chrono::system_clock::now();
  std::int64_t round = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    std::atomic<int> pending{meters};
    std::promise<void> all;
    for (int m = 0; m < meters; ++m) {
      std::vector<estate::drivers::Reading> rs;
      for (int q = 0; q < per_device; ++q) {
        estate::drivers::Reading r;
        r.meter = "m" + std::to_string(m);
        r.quantity = "q" + std::to_string(q);
        r.unit = "kWh";
        r.value = {100000 + round * 7 + q, -2};
        r.timestamp = t0 + std::chrono::minutes(round);
        r.cumulative = q == 0;
        rs.push_back(std::move(r));
      }
      rec.record(std::move(rs), {6, false}, "electricity",
                 [&](std::exception_ptr, const estate::metering::RecordResult&) {
                   if (--pending == 0) all.set_value();
                 });
    }
    all.get_future().wait();
    total += meters * per_device;
    ++round;
  }
  state.SetItemsProcessed(total);
  state.counters["rss_MiB"] = static_cast<double>(rss_kib()) / 1024.0;
  state.counters["commits"] = static_cast<double>(store.commits());
  store.stop();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DurableIngest)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
