// M-Bus decode throughput: frames per second for the stream scanner, the typed decode and the
// JSON that `estate-edge decode mbus` prints. Speed is measured here only, never asserted.
#include <benchmark/benchmark.h>

#include "daemon/cli/decode/mbus_json.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/mbus/application.hpp"
#include "protocols/mbus/link.hpp"

namespace {

namespace mbus = estate::protocols::mbus;

// Kamstrup Multical 601, 253 bytes, 27 records (libmbus test frame).
const estate::protocols::Bytes kKamstrup = estate::protocols::parse_hex(
    "68 F7 F7 68 08 11 72 17 58 85 06 2D 2C 08 04 04 00 00 00 0C 78 17 58 85 06 04 06 E7 91 00 00 "
    "04 14 2C DB 00 00 04 22 D9 03 00 00 04 59 B9 27 00 00 04 5D 08 12 00 00 04 61 B1 15 00 00 04 "
    "2D 5B 01 00 00 14 2D C0 01 00 00 04 3B 1F 02 00 00 14 3B 74 02 00 00 84 10 06 00 00 00 00 84 "
    "20 06 00 00 00 00 84 40 14 00 00 00 00 84 80 40 14 00 00 00 00 84 C0 40 06 00 00 00 00 04 6D "
    "1A 2F 65 11 44 06 51 82 00 00 44 14 B2 C3 00 00 54 2D 26 02 00 00 54 3B 03 04 00 00 C4 10 06 "
    "00 00 00 00 C4 20 06 00 00 00 00 C4 40 14 00 00 00 00 C4 80 40 14 00 00 00 00 C4 C0 40 06 00 "
    "00 00 00 42 6C 5F 1C 0F 00 00 00 00 E7 E4 00 00 63 66 00 00 00 00 00 00 00 00 00 00 00 00 00 "
    "00 5B C9 A5 02 34 53 00 00 E0 B2 03 00 89 9C 68 00 00 00 00 00 01 00 01 07 07 09 01 03 00 00 "
    "00 00 00 98 16").value();

// GWF MTKcoder, 33 bytes, 2 records: a typical small water meter answer.
const estate::protocols::Bytes kGwf = estate::protocols::parse_hex(
    "68 1B 1B 68 08 01 72 07 20 18 00 E6 1E 35 07 4C 00 00 00 0C 78 07 20 18 00 0C 16 69 02 00 "
    "00 96 16").value();

void rate(benchmark::State& state, std::size_t bytes) {
  state.counters["frames_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void BM_MbusScan_Kamstrup(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(mbus::scan_frame(kKamstrup));
  rate(state, kKamstrup.size());
}
BENCHMARK(BM_MbusScan_Kamstrup);

void BM_MbusDecode_Kamstrup(benchmark::State& state) {
  for (auto _ : state) {
    auto t = mbus::decode_rsp_ud(kKamstrup);
    benchmark::DoNotOptimize(t);
  }
  rate(state, kKamstrup.size());
}
BENCHMARK(BM_MbusDecode_Kamstrup);

void BM_MbusDecode_Gwf(benchmark::State& state) {
  for (auto _ : state) {
    auto t = mbus::decode_rsp_ud(kGwf);
    benchmark::DoNotOptimize(t);
  }
  rate(state, kGwf.size());
}
BENCHMARK(BM_MbusDecode_Gwf);

void BM_MbusJson_Kamstrup(benchmark::State& state) {
  for (auto _ : state) {
    auto j = estate::cli::decode_mbus_json(kKamstrup, {});
    benchmark::DoNotOptimize(j);
  }
  rate(state, kKamstrup.size());
}
BENCHMARK(BM_MbusJson_Kamstrup);

}  // namespace
