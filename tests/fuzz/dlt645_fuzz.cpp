// libFuzzer target for the DL/T 645 codec: the frame decoder, the message decoder and the
// stream scanner driven the way a serial reader uses it. Run long with:
//   build-fuzz/tests/fuzz/dlt645_fuzz -max_len=512 -max_total_time=600 \
//       tests/fuzz/corpus/dlt645_fuzz
// (a scratch directory given first keeps new inputs out of the seed corpus).
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocols/dlt645/dlt645.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace dlt = estate::protocols::dlt645;
  const std::span<const std::uint8_t> bytes(data, size);
  auto m = dlt::decode(bytes);
  if (m.ok()) {
    // A decoded frame must re-encode to the same bytes after its preamble.
    auto again = dlt::encode_frame(m->frame.address, m->frame.control, m->frame.data,
                                   m->frame.preamble);
    if (again.size() != size) __builtin_trap();
    for (std::size_t i = 0; i < size; ++i) {
      if (again[i] != data[i]) __builtin_trap();
    }
  }
  // Stream use: scan, consume, repeat; every step must make progress.
  std::size_t at = 0;
  while (at < size) {
    auto r = dlt::scan(bytes.subspan(at));
    if (r.status == dlt::ScanResult::Status::need_more) break;
    const std::size_t step = r.status == dlt::ScanResult::Status::complete ? r.length : r.skip;
    if (step == 0 || step > size - at) __builtin_trap();
    at += step;
  }
  return 0;
}
