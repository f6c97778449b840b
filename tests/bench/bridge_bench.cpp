// Drain rate of the cloud bridge: a 100k-record backlog in the store, published at QoS 1 to a
// local mosquitto (started here on a free loopback port) until every PUBACK is recorded in the
// store. Reports records/s for a few in-flight windows and batch sizes (mqtt.inflight,
// mqtt.batch). Run: build-*/tests/bench/bridge_bench (needs mosquitto installed).
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cloud-bridge/bridge.hpp"
#include "daemon/bridge/store_outbox.hpp"
#include "daemon/demo/mosquitto.hpp"
#include "daemon/store/store.hpp"

using namespace estate;
namespace asio = boost::asio;

namespace {

constexpr int backlog_records = 100000;

class CountingOutbox : public cloud_bridge::OutboxSource {
 public:
  CountingOutbox(store::Store& s, std::int64_t total, std::function<void()> all_durable)
      : store_(s), inner_(s), total_(total), all_durable_(std::move(all_durable)) {}
  std::vector<cloud_bridge::OutboxRecord> read_pending(std::int64_t after, std::size_t max) override {
    return inner_.read_pending(after, max);
  }
  std::int64_t backlog() override { return inner_.backlog(); }
  void acknowledge(std::vector<std::int64_t> seqs) override {
    acked_ += static_cast<std::int64_t>(seqs.size());
    inner_.acknowledge(std::move(seqs));
    // The writer runs jobs in order: once this one commits, every retire before it has too.
    if (acked_ == total_) store_.write([](store::Database&) {}, [this](std::exception_ptr) { all_durable_(); });
  }

 private:
  store::Store& store_;
  bridge::StoreOutbox inner_;
  std::int64_t total_, acked_ = 0;
  std::function<void()> all_durable_;
};

struct NullSink : cloud_bridge::CommandSink {
  void on_command(const std::string&, std::string, Reply) override {}
};

void BM_DrainBacklog(benchmark::State& state) {
  const int inflight = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  for (auto _ : state) {
    std::string t = (std::filesystem::temp_directory_path() / "bridge-bench-XXXXXX").string();
    std::filesystem::path dir = ::mkdtemp(t.data());
    {
      auto broker = demo::MosquittoProcess::start(dir / "broker");
      store::Store store(dir / "state");
      store.write_sync([](store::Database& db) {
        const auto ts = store::iso8601_now(480);
        for (int i = 0; i < backlog_records; ++i) {
          store::append_outbox(db, "bench-gw", "readings", ts,
                               R"({"meter":"m-0001","quantity":"volume","value":"1234.567",)"
                               R"("unit":"m3","quality":"good"})",
                               true);
        }
      });
      asio::io_context io;
      std::chrono::steady_clock::time_point t0, t1;
      CountingOutbox source(store, backlog_records, [&] {
        t1 = std::chrono::steady_clock::now();
        asio::post(io, [&io] { io.stop(); });
      });
      NullSink sink;
      cloud_bridge::BridgeOptions o;
      o.url = broker->url();
      o.site = "bench";
      o.gateway = "bench-gw";
      o.version = ESTATE_EDGE_VERSION;
      o.inflight = inflight;
      o.batch = batch;
      o.timestamp = [] { return store::iso8601_now(480); };
      cloud_bridge::Bridge b(io, o, source, sink, {});
      t0 = std::chrono::steady_clock::now();
      b.start();
      auto work = asio::make_work_guard(io);
      std::thread helper([&io] { io.run(); });
      io.run();
      helper.join();
      state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
      state.counters["records_per_s"] =
          benchmark::Counter(backlog_records / std::chrono::duration<double>(t1 - t0).count());
      state.counters["messages"] = static_cast<double>(b.stats().published_messages);
      store.stop();
    }
    std::filesystem::remove_all(dir);
  }
}

}  // namespace

BENCHMARK(BM_DrainBacklog)
    ->ArgNames({"inflight", "batch"})
    ->Args({1, 1})
    ->Args({32, 1})
    ->Args({100, 1})
    ->Args({32, 50})
    ->Args({100, 100})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
