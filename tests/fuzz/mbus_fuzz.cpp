// libFuzzer target for the M-Bus codec: the stream scanner, frame parser and application-layer
// decoder must never crash, hang or read out of bounds on any input.
// Run long: build-fuzz/tests/fuzz/mbus_fuzz -max_len=512 tests/fuzz/corpus/mbus_fuzz
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocols/mbus/application.hpp"
#include "protocols/mbus/link.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace mbus = estate::protocols::mbus;
  const std::span<const std::uint8_t> in(data, size);

  // The way a driver consumes a stream: scan, take a complete frame, drop a byte on error.
  std::size_t pos = 0;
  while (pos < in.size()) {
    const auto scan = mbus::scan_frame(in.subspan(pos));
    if (scan.status == mbus::FrameScan::Status::need_more) break;
    if (scan.status == mbus::FrameScan::Status::error) {
      ++pos;
      continue;
    }
    auto t = mbus::decode_rsp_ud(in.subspan(pos, scan.length));
    (void)t;
    pos += scan.length;
  }

  // The application layer on its own, first byte as the CI field.
  if (!in.empty()) {
    auto t = mbus::decode_application(in[0], in.subspan(1), 7);
    if (t.ok()) {
      for (const auto& r : t->records) (void)r.value;
    }
  }
  return 0;
}
