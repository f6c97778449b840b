// Hex text <-> bytes, as technicians paste frames from logs and bus sniffers:
// "68 04 04 68", "680404", "0x68,0x04" and mixed case are all accepted.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.hpp"

namespace estate::protocols {

using Bytes = std::vector<std::uint8_t>;

// Parses hex digits, ignoring whitespace, ':', ',', '-' and "0x" prefixes. An odd number of
// digits or any other character is an error naming the character offset in `text`.
Result<Bytes> parse_hex(std::string_view text);

// Lower-case hex without separators ("680404") or with a separator between bytes.
std::string to_hex(std::span<const std::uint8_t> bytes, std::string_view separator = "");

// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character. For the codecs'
// own digit strings (addresses with wildcard digits), where separators are not allowed.
int hex_digit(char c);

// Exactly 2 * N hex digits of either case, no separators, as N bytes; nullopt for anything
// else. For keys, hashes and signatures, whose length is part of their format.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> parse_hex_exact(std::string_view text) {
  if (text.size() != 2 * N) return std::nullopt;
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

// Formats one byte as "0x3c".
std::string hex_byte(std::uint8_t b);

}  // namespace estate::protocols
