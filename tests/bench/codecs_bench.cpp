// Decode rates of the meter codecs, in frames per second (items_per_second): DL/T 645 energy
// answers, CJ/T 188 water and heat answers, Modbus register blocks of a shipped model, and the
// same through the JSON the `decode` command prints. Run: build/tests/bench/codecs_bench
#include <benchmark/benchmark.h>

#include "daemon/cli/decode/cjt188_json.hpp"
#include "daemon/cli/decode/dlt645_json.hpp"
#include "drivers/meter/model_registry.hpp"
#include "protocols/cjt188/cjt188.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/dlt645/dlt645.hpp"
#include "protocols/modbus/register_map.hpp"

namespace {

using estate::protocols::Bytes;

Bytes hex(const char* s) { return *estate::protocols::parse_hex(s); }

// Captured frames (protocols/*/testdata).
const Bytes kDltEnergy =
    hex("FE FE FE FE 68 60 07 92 04 00 91 68 91 08 33 33 33 33 97 35 A8 33 6A 16");
const Bytes kCjtWater = hex(
    "68 10 88 05 27 10 15 20 00 81 16 90 1F 01 00 00 00 00 2C 00 00 00 00 2C 06 20 17 09 01 17 "
    "20 00 00 8E 16");
const Bytes kCjtHeat = hex(
    "FE FE 68 20 13 47 06 12 00 74 00 81 2E 1F 90 00 00 00 00 00 05 00 00 00 00 05 00 00 00 00 "
    "17 00 00 00 00 35 00 00 00 00 2C 02 23 00 11 23 00 34 58 00 09 49 12 05 09 23 20 00 08 F0 "
    "16");

void BM_Dlt645Decode(benchmark::State& state) {
  for (auto _ : state) {
    auto m = estate::protocols::dlt645::decode(kDltEnergy);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645Decode);

void BM_Dlt645DecodeJson(benchmark::State& state) {
  for (auto _ : state) {
    auto j = estate::cli::decode_dlt645_json(kDltEnergy, {});
    benchmark::DoNotOptimize(j);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645DecodeJson);

void BM_Dlt645Scan(benchmark::State& state) {
  // A stream of 64 back-to-back answers, scanned frame by frame.
  Bytes stream;
  for (int i = 0; i < 64; ++i) stream.insert(stream.end(), kDltEnergy.begin(), kDltEnergy.end());
  for (auto _ : state) {
    std::size_t at = 0;
    while (at < stream.size()) {
      auto r = estate::protocols::dlt645::scan(std::span(stream).subspan(at));
      at += r.length;
    }
    benchmark::DoNotOptimize(at);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_Dlt645Scan);

void BM_Cjt188DecodeWater(benchmark::State& state) {
  for (auto _ : state) {
    auto m = estate::protocols::cjt188::decode(kCjtWater);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cjt188DecodeWater);

void BM_Cjt188DecodeHeat(benchmark::State& state) {
  for (auto _ : state) {
    auto m = estate::protocols::cjt188::decode(kCjtHeat);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cjt188DecodeHeat);

void BM_Cjt188DecodeJson(benchmark::State& state) {
  for (auto _ : state) {
    auto j = estate::cli::decode_cjt188_json(kCjtHeat, {});
    benchmark::DoNotOptimize(j);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cjt188DecodeJson);

// One answer to the first coalesced read of the SDM630 map (80 registers, 27 points).
void BM_ModbusDecodeSdm630Block(benchmark::State& state) {
  estate::drivers::meter::ModelRegistry registry;
  (void)registry.load_directory(estate::drivers::meter::default_models_dir());
  const auto* model = registry.find("eastron-sdm630");
  if (model == nullptr) {
    state.SkipWithError("eastron-sdm630 model not found");
    return;
  }
  auto reqs = estate::protocols::modbus::coalesce(model->points, model->function,
                                                  model->max_registers);
  std::vector<std::uint16_t> regs(reqs.front().count, 0x4366);  // 230.x V everywhere
  for (auto _ : state) {
    auto v = estate::protocols::modbus::decode_registers(*model, reqs.front().start, regs);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["points_per_frame"] = static_cast<double>(reqs.front().points.size());
}
BENCHMARK(BM_ModbusDecodeSdm630Block);

}  // namespace
