// Fuzzes the ESC/POS text helpers with arbitrary (often invalid) UTF-8 and status bytes:
// no crash, wrap() never returns a line wider than asked (when a character fits at all).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocols/escpos/escpos.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace estate::protocols::escpos;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)display_columns(text);
  for (const auto& line : wrap(text, 32)) {
    if (display_columns(line) > 32) std::abort();
  }
  (void)justify(text, text, 48);
  Status s;
  for (std::size_t i = 0; i < size; ++i) (void)apply_status(static_cast<int>(i % 5), data[i], s);
  Builder b;
  (void)b.qr(text);
  return 0;
}
