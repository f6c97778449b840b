// Fuzzes the ECR frame codec: scan() over arbitrary receive buffers, decode() of whatever
// scan() calls a frame, for every protocol row; a decoded message must re-encode and decode
// to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocols/pos/ecr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace estate::protocols::pos;
  for (const auto& p : protocols()) {
    std::span<const std::uint8_t> buf(data, size);
    while (!buf.empty()) {
      auto s = scan(p, buf);
      if (s.kind == Scan::need_more) break;
      if (s.size == 0 || s.size > buf.size()) std::abort();
      if (s.kind == Scan::frame) {
        auto m = decode(p, buf.first(s.size));
        if (m) {
          auto again = encode(p, *m);
          if (!again) std::abort();
          auto back = decode(p, *again);
          if (!back || back->command != m->command || back->fields != m->fields) std::abort();
        }
      }
      buf = buf.subspan(s.size);
    }
    (void)decode(p, std::span<const std::uint8_t>(data, size));
    (void)ticket_after(p, std::string_view(reinterpret_cast<const char*>(data), size / 2),
                       std::string_view(reinterpret_cast<const char*>(data) + size / 2, size - size / 2));
  }
  return 0;
}
