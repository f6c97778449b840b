// libFuzzer target for the CJ/T 188 codec: frame and message decoding and the stream scanner.
// Run long with:
//   build-fuzz/tests/fuzz/cjt188_fuzz -max_len=512 -max_total_time=600 \
//       tests/fuzz/corpus/cjt188_fuzz
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocols/cjt188/cjt188.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cjt = estate::protocols::cjt188;
  const std::span<const std::uint8_t> bytes(data, size);
  auto m = cjt::decode(bytes);
  if (m.ok()) {
    auto again = cjt::encode_frame(m->frame.type, m->frame.address, m->frame.control,
                                   m->frame.data, m->frame.preamble);
    if (again.size() != size) __builtin_trap();
    for (std::size_t i = 0; i < size; ++i) {
      if (again[i] != data[i]) __builtin_trap();
    }
  }
  std::size_t at = 0;
  while (at < size) {
    auto r = cjt::scan(bytes.subspan(at));
    if (r.status == cjt::ScanResult::Status::need_more) break;
    const std::size_t step = r.status == cjt::ScanResult::Status::complete ? r.length : r.skip;
    if (step == 0 || step > size - at) __builtin_trap();
    at += step;
  }
  return 0;
}
