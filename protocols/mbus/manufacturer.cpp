#include "protocols/mbus/manufacturer.hpp"

namespace estate::protocols::mbus {

std::optional<std::uint16_t> manufacturer_code(std::string_view letters) {
  if (letters.size() != 3) return std::nullopt;
  unsigned code = 0;
  for (char c : letters) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') return std::nullopt;
    code = code << 5 | static_cast<unsigned>(c - 'A' + 1);
  }
  return static_cast<std::uint16_t>(code);
}

std::string manufacturer_letters(std::uint16_t code) {
  std::string s(3, '?');
  for (int i = 0; i < 3; ++i) {
    const unsigned v = (code >> (10 - 5 * i)) & 0x1F;
    if (v >= 1 && v <= 26) s[static_cast<std::size_t>(i)] = static_cast<char>('A' + v - 1);
  }
  return s;
}

}  // namespace estate::protocols::mbus
