#include "drivers/meter/reading.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace estate::drivers {

namespace {

bool mul_pow10(std::int64_t v, int n, std::int64_t& out) {
  for (int i = 0; i < n; ++i) {
    if (v > std::numeric_limits<std::int64_t>::max() / 10 ||
        v < std::numeric_limits<std::int64_t>::min() / 10) {
      return false;
    }
    v *= 10;
  }
  out = v;
  return true;
}

}  // namespace

double Decimal::to_double() const {
  return static_cast<double>(mantissa) * std::pow(10.0, exponent);
}

std::string Decimal::to_string() const {
  std::string digits = std::to_string(mantissa < 0 ? -(mantissa + 1) + 1ULL
                                                   : static_cast<unsigned long long>(mantissa));
  std::string sign = mantissa < 0 ? "-" : "";
  if (exponent >= 0) {
    if (mantissa == 0) return "0";
    return sign + digits + std::string(static_cast<std::size_t>(exponent), '0');
  }
  const auto decimals = static_cast<std::size_t>(-exponent);
  if (digits.size() <= decimals) digits.insert(0, decimals - digits.size() + 1, '0');
  digits.insert(digits.size() - decimals, ".");
  return sign + digits;
}

std::optional<Decimal> Decimal::rescaled(int e) const {
  if (e == exponent) return *this;
  if (e < exponent) {
    std::int64_t m = 0;
    if (!mul_pow10(mantissa, exponent - e, m)) return std::nullopt;
    return Decimal{m, e};
  }
  std::int64_t m = mantissa;
  for (int i = 0; i < e - exponent; ++i) {
    if (m % 10 != 0) return std::nullopt;
    m /= 10;
  }
  return Decimal{m, e};
}

std::optional<Decimal> parse_decimal(std::string_view t) {
  if (t.empty()) return std::nullopt;
  bool neg = false;
  if (t.front() == '-' || t.front() == '+') {
    neg = t.front() == '-';
    t.remove_prefix(1);
  }
  std::int64_t m = 0;
  int exp = 0;
  bool dot = false, any = false;
  for (char c : t) {
    if (c == '.') {
      if (dot) return std::nullopt;
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    any = true;
    if (m > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return std::nullopt;
    m = m * 10 + (c - '0');
    if (dot) --exp;
  }
  if (!any) return std::nullopt;
  return Decimal{neg ? -m : m, exp};
}

std::optional<Decimal> subtract(const Decimal& a, const Decimal& b) {
  const int e = std::min(a.exponent, b.exponent);
  auto x = a.rescaled(e);
  auto y = b.rescaled(e);
  if (!x || !y) return std::nullopt;
  std::int64_t r = 0;
  if (__builtin_sub_overflow(x->mantissa, y->mantissa, &r)) return std::nullopt;
  return Decimal{r, e};
}

int compare(const Decimal& a, const Decimal& b) {
  if (auto d = subtract(a, b)) return d->mantissa < 0 ? -1 : (d->mantissa > 0 ? 1 : 0);
  const double x = a.to_double(), y = b.to_double();
  return x < y ? -1 : (x > y ? 1 : 0);
}

void set_quantity(Reading& r, Quantity q, bool billed) {
  const auto& e = info(q);
  r.quantity.assign(e.name);
  r.cumulative = e.cumulative;
  r.billed = billed && e.cumulative;
}

std::string_view to_string(Quality q) {
  switch (q) {
    case Quality::good: return "good";
    case Quality::rollover: return "rollover";
    case Quality::negative_step: return "negative_step";
    case Quality::spike: return "spike";
    case Quality::night_flow: return "night_flow";
    case Quality::device_error: return "device_error";
  }
  return "unknown";
}

}  // namespace estate::drivers
