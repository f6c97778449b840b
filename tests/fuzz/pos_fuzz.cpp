// Fuzzes the ECR frame codec: scan() over arbitrary receive buffers, decode() of whatever
// scan() calls a frame, in both length encodings; a decoded message must re-encode and decode
// to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocols/pos/ecr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace estate::protocols::pos;
  for (const auto& format : formats()) {
    std::span<const std::uint8_t> buf(data, size);
    while (!buf.empty()) {
      auto s = scan(format, buf);
      if (s.kind == Scan::need_more) break;
      if (s.size == 0 || s.size > buf.size()) std::abort();
      if (s.kind == Scan::frame) {
        auto m = decode(format, buf.first(s.size));
        if (m) {
          auto again = encode(format, *m);
          if (!again) std::abort();
          auto back = decode(format, *again);
          if (!back || back->type != m->type || back->fields != m->fields) std::abort();
        }
      }
      buf = buf.subspan(s.size);
    }
    (void)decode(format, std::span<const std::uint8_t>(data, size));
  }
  return 0;
}
