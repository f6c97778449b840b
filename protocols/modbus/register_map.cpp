#include "protocols/modbus/register_map.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

namespace estate::protocols::modbus {

namespace {

// Combines `n` registers into one unsigned integer, most significant register first.
std::uint64_t combine(std::span<const std::uint16_t> regs, std::size_t n, WordOrder order) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = order == WordOrder::high_first ? i : n - 1 - i;
    v = v << 16 | regs[at];
  }
  return v;
}

// 128 bits hold any raw register value (u64 included) times any 64-bit scale mantissa, so the
// product is formed without loss and only its final width is checked (GCC/Clang extension).
__extension__ typedef __int128 Wide;

bool times_pow10(Wide& v, int n) {
  for (int i = 0; i < n; ++i) {
    if (__builtin_mul_overflow(v, Wide{10}, &v)) return false;
  }
  return true;
}

// The shortest decimal that reads back as `v`: std::to_chars without a precision gives the
// shortest round-trip digits ([charconv.to.chars]); the scientific form ("2.302e+02") lets us
// read them off as a mantissa and an exponent. At most 17 significant digits, so the mantissa
// fits 64 bits. nullopt for NaN and infinities.
template <class Float>
std::optional<Decimal> shortest_decimal(Float v) {
  if (!std::isfinite(v)) return std::nullopt;
  char buf[48];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  if (ec != std::errc()) return std::nullopt;
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  const auto e_at = text.find('e');
  if (e_at == std::string_view::npos) return std::nullopt;
  std::int64_t mantissa = 0;
  int fraction_digits = 0;
  bool after_point = false;
  for (char c : text.substr(0, e_at)) {
    if (c == '.') {
      after_point = true;
    } else if (c >= '0' && c <= '9') {
      mantissa = mantissa * 10 + (c - '0');
      if (after_point) ++fraction_digits;
    }
  }
  if (text.front() == '-') mantissa = -mantissa;
  std::string_view exp_text = text.substr(e_at + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  int exponent = 0;
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  Decimal d{mantissa, exponent - fraction_digits};
  // 1500.0f is 1500, not 15 x 10^2, when the integer fits.
  if (d.exponent > 0) {
    Wide whole = d.mantissa;
    if (times_pow10(whole, d.exponent) && whole <= std::numeric_limits<std::int64_t>::max() &&
        whole >= std::numeric_limits<std::int64_t>::min()) {
      d = Decimal{static_cast<std::int64_t>(whole), 0};
    }
  }
  return d;
}

// raw x 10^raw_exponent x scale + offset, exactly; nullopt when the mantissa needs more than
// 64 bits even after giving up trailing zeros (u64 10^19 becomes 10^18 x 10^1).
std::optional<Decimal> scale_exactly(Wide raw, int raw_exponent, const Decimal& scale,
                                     const Decimal& offset) {
  Wide m = 0;
  if (__builtin_mul_overflow(raw, Wide{scale.mantissa}, &m)) return std::nullopt;
  int e = raw_exponent + scale.exponent;
  if (offset.mantissa != 0) {
    const int common = std::min(e, offset.exponent);
    Wide o = offset.mantissa;
    if (!times_pow10(m, e - common) || !times_pow10(o, offset.exponent - common) ||
        __builtin_add_overflow(m, o, &m)) {
      return std::nullopt;
    }
    e = common;
  }
  constexpr Wide kMax = std::numeric_limits<std::int64_t>::max();
  constexpr Wide kMin = std::numeric_limits<std::int64_t>::min();
  while ((m > kMax || m < kMin) && m % 10 == 0) {
    m /= 10;
    ++e;
  }
  if (m > kMax || m < kMin) return std::nullopt;
  return Decimal{static_cast<std::int64_t>(m), e};
}

}  // namespace

std::string_view to_string(RegisterFunction f) {
  return f == RegisterFunction::holding ? "holding" : "input";
}

std::string_view to_string(PointType t) {
  switch (t) {
    case PointType::u16: return "u16";
    case PointType::s16: return "s16";
    case PointType::u32: return "u32";
    case PointType::s32: return "s32";
    case PointType::u64: return "u64";
    case PointType::float32: return "float32";
    case PointType::float64: return "float64";
    case PointType::bcd16: return "bcd16";
    case PointType::bcd32: return "bcd32";
  }
  return "?";
}

std::string_view to_string(WordOrder o) { return o == WordOrder::high_first ? "big" : "little"; }

std::optional<RegisterFunction> parse_function(std::string_view s) {
  if (s == "holding") return RegisterFunction::holding;
  if (s == "input") return RegisterFunction::input;
  return std::nullopt;
}

std::optional<PointType> parse_point_type(std::string_view s) {
  static constexpr std::pair<std::string_view, PointType> kNames[] = {
      {"u16", PointType::u16},         {"s16", PointType::s16},
      {"u32", PointType::u32},         {"s32", PointType::s32},
      {"u64", PointType::u64},         {"float32", PointType::float32},
      {"float64", PointType::float64}, {"bcd", PointType::bcd16},
      {"bcd16", PointType::bcd16},     {"bcd32", PointType::bcd32},
  };
  for (const auto& [name, type] : kNames) {
    if (name == s) return type;
  }
  return std::nullopt;
}

std::optional<WordOrder> parse_word_order(std::string_view s) {
  if (s == "big" || s == "high_first") return WordOrder::high_first;
  if (s == "little" || s == "low_first") return WordOrder::low_first;
  return std::nullopt;
}

std::uint16_t register_count(PointType t) {
  switch (t) {
    case PointType::u16:
    case PointType::s16:
    case PointType::bcd16:
      return 1;
    case PointType::u32:
    case PointType::s32:
    case PointType::float32:
    case PointType::bcd32:
      return 2;
    case PointType::u64:
    case PointType::float64:
      return 4;
  }
  return 1;
}

Result<Decimal> decode_point(const PointDef& point, std::span<const std::uint16_t> regs) {
  const std::size_t n = register_count(point.type);
  if (regs.size() < n) {
    return decode_error(point.name + ": needs " + std::to_string(n) + " registers, has " +
                            std::to_string(regs.size()),
                        regs.size() * 2);
  }
  const std::uint64_t bits = combine(regs, n, point.word_order);
  Wide raw = 0;
  int raw_exponent = 0;
  switch (point.type) {
    case PointType::u16:
    case PointType::u32:
    case PointType::u64:
      raw = bits;
      break;
    case PointType::s16:
      raw = static_cast<std::int16_t>(bits);
      break;
    case PointType::s32:
      raw = static_cast<std::int32_t>(bits);
      break;
    case PointType::float32:
    case PointType::float64: {
      const auto d =
          point.type == PointType::float32
              ? shortest_decimal(std::bit_cast<float>(static_cast<std::uint32_t>(bits)))
              : shortest_decimal(std::bit_cast<double>(bits));
      if (!d) return decode_error(point.name + ": not a finite number", 0);
      raw = d->mantissa;
      raw_exponent = d->exponent;
      break;
    }
    case PointType::bcd16:
    case PointType::bcd32: {
      const int digits = static_cast<int>(n) * 4;
      for (int d = digits - 1; d >= 0; --d) {
        const unsigned nibble = (bits >> (4 * d)) & 0x0F;
        if (nibble > 9) {
          // Byte offset of the bad digit inside the point's registers as sent.
          const std::size_t k = static_cast<std::size_t>(digits - 1 - d);  // 0 = most significant
          const std::size_t reg =
              point.word_order == WordOrder::high_first ? k / 4 : n - 1 - k / 4;
          return decode_error(point.name + ": not a BCD digit", reg * 2 + (k % 4) / 2);
        }
        raw = raw * 10 + nibble;
      }
      break;
    }
  }
  if (auto v = scale_exactly(raw, raw_exponent, point.scale, point.offset)) return *v;
  return decode_error(point.name + ": raw value x scale + offset does not fit a 64-bit decimal",
                      0);
}

Result<std::vector<PointValue>> decode_registers(const ModelDef& model, std::uint16_t start,
                                                 std::span<const std::uint16_t> regs) {
  std::vector<PointValue> out;
  const std::uint32_t end = static_cast<std::uint32_t>(start) + regs.size();
  for (const auto& p : model.points) {
    const std::uint32_t p_end = static_cast<std::uint32_t>(p.address) + register_count(p.type);
    if (p.address < start || p_end > end) continue;
    const std::size_t at = p.address - start;
    auto v = decode_point(p, regs.subspan(at));
    if (!v) {
      auto e = v.error();
      e.offset += at * 2;
      return e;
    }
    out.push_back(PointValue{&p, *v});
  }
  return out;
}

std::vector<ReadRequest> coalesce(std::span<const PointDef> points, RegisterFunction function,
                                  std::uint16_t max_registers, std::uint16_t max_gap) {
  std::vector<ReadRequest> out;
  if (max_registers == 0) max_registers = 1;
  std::vector<std::size_t> order(points.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return points[a].address < points[b].address;
  });
  std::uint32_t cur_end = 0;  // one past the last register of the current request
  for (std::size_t idx : order) {
    const auto& p = points[idx];
    const std::uint32_t p_start = p.address;
    const std::uint32_t p_end = p_start + register_count(p.type);
    if (!out.empty()) {
      auto& r = out.back();
      const std::uint32_t new_end = std::max(cur_end, p_end);
      const bool fits = new_end - r.start <= max_registers;
      const bool close = p_start <= cur_end || p_start - cur_end <= max_gap;
      if (fits && close) {
        cur_end = new_end;
        r.count = static_cast<std::uint16_t>(cur_end - r.start);
        r.points.push_back(idx);
        continue;
      }
    }
    ReadRequest r;
    r.function = function;
    r.start = p.address;
    r.count = static_cast<std::uint16_t>(p_end - p_start);
    r.points.push_back(idx);
    out.push_back(std::move(r));
    cur_end = p_end;
  }
  return out;
}

}  // namespace estate::protocols::modbus
