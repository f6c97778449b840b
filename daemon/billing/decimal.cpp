#include "daemon/billing/decimal.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace estate::billing {

std::optional<std::int64_t> parse_decimal(std::string_view text, int places, std::string* why) {
  auto fail = [&](std::string msg) -> std::optional<std::int64_t> {
    if (why) *why = std::move(msg);
    return std::nullopt;
  };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  // 18 significant digits always fit in int64 after scaling checks below.
  constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 10;
  std::int64_t value = 0;
  int decimals = 0;
  bool dot = false, digits = false;
  for (char c : s) {
    if (c == '.') {
      if (dot) return fail("'" + std::string(text) + "' has two decimal points");
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') {
      return fail("'" + std::string(text) + "' is not a plain decimal number");
    }
    digits = true;
    if (dot && ++decimals > places) {
      return fail("'" + std::string(text) + "' has more than " + std::to_string(places) +
                  " decimal places");
    }
    if (value > limit) return fail("'" + std::string(text) + "' is too large");
    value = value * 10 + (c - '0');
  }
  if (!digits) return fail("'" + std::string(text) + "' is not a decimal number");
  for (; decimals < places; ++decimals) {
    if (value > limit) return fail("'" + std::string(text) + "' is too large");
    value *= 10;
  }
  return negative ? -value : value;
}

std::string format_decimal(std::int64_t scaled, int places) {
  // Work on the magnitude as unsigned so INT64_MIN formats correctly.
  bool negative = scaled < 0;
  std::uint64_t mag = negative ? 0 - static_cast<std::uint64_t>(scaled)
                               : static_cast<std::uint64_t>(scaled);
  std::string digits = std::to_string(mag);
  if (places > 0) {
    if (digits.size() <= static_cast<std::size_t>(places)) {
      digits.insert(0, static_cast<std::size_t>(places) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(places), ".");
  }
  return negative ? "-" + digits : digits;
}

std::string format_amount(AmountE7 exact) {
  std::string s = format_decimal(exact, amount_places);
  std::size_t keep = s.find('.') + 3;
  std::size_t last = s.find_last_not_of('0');
  s.resize(std::max(keep, last + 1));
  return s;
}

AmountE7 multiply(UsageMilli usage, PriceE4 price) {
  WideInt p = static_cast<WideInt>(usage) * price;
  if (p > std::numeric_limits<std::int64_t>::max() || p < std::numeric_limits<std::int64_t>::min()) {
    throw std::overflow_error("billing amount out of range: usage " +
                              format_decimal(usage, usage_places) + " x price " +
                              format_decimal(price, price_places));
  }
  return static_cast<AmountE7>(p);
}

Fen round_half_up_to_fen(AmountE7 exact) {
  // Half away from zero: a refund rounds symmetrically with a charge.
  constexpr AmountE7 half = e7_per_fen / 2;
  if (exact >= 0) return (exact + half) / e7_per_fen;
  return -((-exact + half) / e7_per_fen);
}

}  // namespace estate::billing
