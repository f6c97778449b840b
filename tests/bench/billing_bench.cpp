// Billing throughput: tariff quotes priced per second (pure arithmetic), and readings priced
// and posted per second through the engine into a real store on disk (WAL, synchronous=FULL,
// group commit), each charge with its cycle row, account row and outbox record.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "daemon/billing/engine.hpp"
#include "daemon/config/site_config.hpp"

namespace {

using namespace estate;
namespace fs = std::filesystem;

std::string site_text(int rooms) {
  std::string s =
      "site: { id: s }\ngateway: { id: gw }\n"
      "buses:\n  - { id: wb, kind: serial, protocol: cjt188, device: /dev/null }\n"
      "tariffs:\n  - id: water-res\n    quantity: water\n    unit: m3\n    cycle: year\n"
      "    tiers:\n      - { upto: 180, price: \"5.00\" }\n      - { upto: 260, price: \"7.00\" }\n"
      "      - { price: \"9.00\" }\ndevices:\n";
  for (int i = 0; i < rooms; ++i) {
    char addr[16];
    std::snprintf(addr, sizeof addr, "%014d", i + 1);
    s += "  - { id: w" + std::to_string(i) + ", kind: meter, bus: wb, address: \"" + addr +
         "\", medium: water }\n";
  }
  s += "accounts:\n";
  for (int i = 0; i < rooms; ++i) {
    s += "  - { room: \"r" + std::to_string(i) + "\", prepaid: { low_balance_fen: [5000] }, "
         "meters: [{ meter: w" + std::to_string(i) + ", tariff: water-res }] }\n";
  }
  return s;
}

std::shared_ptr<const billing::BillingConfig> make_config(int rooms) {
  config::Diagnostics diag;
  auto site = config::load_site_config_text(site_text(rooms), "bench.yaml", diag);
  if (!site) throw std::runtime_error(diag.to_string());
  auto cfg = billing::billing_config_from(*site, diag);
  if (!cfg) throw std::runtime_error(diag.to_string());
  return std::make_shared<const billing::BillingConfig>(std::move(*cfg));
}

void BM_TariffQuote(benchmark::State& state) {
  auto cfg = make_config(1);
  const auto& t = *cfg->find_tariff("water-res");
  billing::UsageMilli before = 0;
  for (auto _ : state) {
    auto q = billing::quote(t, 1234, before);
    benchmark::DoNotOptimize(q.total_fen);
    before = (before + 1234) % 400000;
  }
  state.counters["quotes/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TariffQuote);

void BM_PriceAndPostCharges(benchmark::State& state) {
  const int rooms = 200;
  const int batch = static_cast<int>(state.range(0));
  auto cfg = make_config(rooms);
  fs::path dir = fs::temp_directory_path() / ("billing-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::int64_t posted = 0;
  {
    store::Store store(dir, 1000);
    billing::Engine engine(store, cfg, "gw", 480, nullptr);
    engine.start();
    std::int64_t seq = 0;
    billing::TimePoint ts{std::chrono::seconds{1'780'000'000}};
    for (auto _ : state) {
      std::mutex m;
      std::condition_variable cv;
      int left = batch;
      for (int i = 0; i < batch; ++i) {
        ++seq;
        billing::ReadingDelta d{"w" + std::to_string(seq % rooms), 1234, seq,
                                ts + std::chrono::seconds(seq), std::nullopt};
        engine.post_reading(std::move(d), [&](billing::PostResult, std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
          std::lock_guard lock(m);
          if (--left == 0) cv.notify_one();
        });
      }
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return left == 0; });
      posted += batch;
    }
  }
  fs::remove_all(dir);
  state.SetItemsProcessed(posted);
  state.counters["charges_posted/s"] =
      benchmark::Counter(static_cast<double>(posted), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PriceAndPostCharges)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
