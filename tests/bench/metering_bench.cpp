// Durable ingest: readings/s through validation into SQLite with an outbox row each and the
// billing hook (the Recorder's path, group-committed by the Store's writer), and the process RSS
// while doing it. Beside it, in the same run, the floor SQLite itself sets on this disk: plain
// rows inserted in batched transactions with the store's settings (WAL, synchronous=FULL,
// 1000-row transactions). The figure is the ratio of the two (`ingest_vs_plain` on the ingest
// rows, computed against the plain figure measured first in the same process).
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

namespace fs = std::filesystem;

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

fs::path bench_dir(const char* what) {
  auto dir = fs::temp_directory_path() /
             ("estate-bench-" + std::string(what) + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

double plain_rows_per_s = 0;  // BM_PlainSqliteBatch's figure, for the ratio

// SQLite's own floor: rows of a reading's size (meter, quantity, value text, unit, ts) in
// 1000-row WAL transactions, synchronous=FULL, one prepared statement.
void BM_PlainSqliteBatch(benchmark::State& state) {
  const int per_tx = 1000;
  auto dir = bench_dir("plain");
  {
    estate::store::Database db(dir / "plain.db", estate::store::OpenMode::read_write_create);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, meter TEXT, quantity TEXT, value TEXT,"
            " unit TEXT, ts TEXT)");
    auto ins = db.prepare("INSERT INTO t(meter, quantity, value, unit, ts) VALUES(?1,?2,?3,?4,?5)");
    std::int64_t n = 0;
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
      db.exec("BEGIN IMMEDIATE");
      for (int i = 0; i < per_tx; ++i, ++n) {
        ins.bind(1, "m" + std::to_string(n % 1000)).bind(2, "active_energy_import");
        ins.bind(3, std::to_string(100000 + n) + ".25").bind(4, "kWh");
        ins.bind(5, "2026-12-05T08:00:00.000+08:00").run();
      }
      db.exec("COMMIT");
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetItemsProcessed(state.iterations() * per_tx);
    if (secs > 0) plain_rows_per_s = static_cast<double>(n) / secs;
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_PlainSqliteBatch)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// Stands for billing's hook: runs for every stored reading inside the writer's transaction,
// as BillingComponent::on_reading does (its own cost: billing_bench).
struct CountingSink : estate::metering::ReadingSink {
  std::int64_t seen = 0;
  void on_reading(estate::store::Database&, const estate::metering::StoredReading& r) override {
    seen += r.seq > 0 ? 1 : 0;
  }
};

void BM_DurableIngest(benchmark::State& state) {
  const int meters = static_cast<int>(state.range(0));
  const int per_device = static_cast<int>(state.range(1));  // points per poll of a device
  auto dir = bench_dir("ingest");
  CountingSink sink;
  estate::store::Store store(dir);
  estate::metering::Recorder rec(store, "bench-gw", 480, {}, &sink);
  auto t0 = std::chrono::system_clock::now();
  std::int64_t round = 0;
  std::int64_t total = 0;
  std::vector<std::string> ids, quantities;
  for (int m = 0; m < meters; ++m) ids.push_back("m" + std::to_string(m));
  for (int q = 0; q < per_device; ++q) quantities.push_back("q" + std::to_string(q));
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    std::atomic<int> pending{meters};
    std::promise<void> all;
    for (int m = 0; m < meters; ++m) {
      std::vector<estate::drivers::Reading> rs;
      rs.reserve(static_cast<std::size_t>(per_device));
      for (int q = 0; q < per_device; ++q) {
        estate::drivers::Reading r;
        r.meter = ids[static_cast<std::size_t>(m)];
        r.quantity = quantities[static_cast<std::size_t>(q)];
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
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  state.SetItemsProcessed(total);
  state.counters["rss_MiB"] = static_cast<double>(rss_kib()) / 1024.0;
  state.counters["commits"] = static_cast<double>(store.commits());
  state.counters["hook_calls"] = static_cast<double>(sink.seen);
  if (plain_rows_per_s > 0 && secs > 0) {
    state.counters["ingest_vs_plain"] = (static_cast<double>(total) / secs) / plain_rows_per_s;
  }
  store.stop();
  fs::remove_all(dir);
}
BENCHMARK(BM_DurableIngest)
    ->Args({100, 4})
    ->Args({1000, 4})
    ->Args({1000, 10})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
