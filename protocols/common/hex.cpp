#include "protocols/common/hex.hpp"

namespace estate::protocols {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace {
bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == ',' || c == '-';
}
}  // namespace

Result<Bytes> parse_hex(std::string_view text) {
  Bytes out;
  out.reserve(text.size() / 2);
  int high = -1;
  std::size_t high_at = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (is_separator(c)) {
      if (high >= 0) return decode_error("hex byte split by a separator", high_at);
      continue;
    }
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && high < 0) {
      ++i;
      continue;
    }
    int n = hex_digit(c);
    if (n < 0) {
      return decode_error(std::string("not a hex digit: '") + c + "'", i);
    }
    if (high < 0) {
      high = n;
      high_at = i;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | n));
      high = -1;
    }
  }
  if (high >= 0) return decode_error("odd number of hex digits", high_at);
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes, std::string_view separator) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * (2 + separator.size()));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) s.append(separator);
    s.push_back(digits[bytes[i] >> 4]);
    s.push_back(digits[bytes[i] & 0x0f]);
  }
  return s;
}

std::string hex_byte(std::uint8_t b) {
  std::uint8_t one[1] = {b};
  return "0x" + to_hex(one);
}

}  // namespace estate::protocols
