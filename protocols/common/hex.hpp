// Hex text <-> bytes, as technicians paste frames from logs and bus sniffers:
// "68 04 04 68", "680404", "0x68,0x04" and mixed case are all accepted.
#pragma once

#include <cstdint>
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

// Formats one byte as "0x3c".
std::string hex_byte(std::uint8_t b);

}  // namespace estate::protocols
