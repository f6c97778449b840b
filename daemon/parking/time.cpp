#include "daemon/parking/time.hpp"

#include <cstdio>

namespace estate::parking {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool digits(std::size_t n, int& out) {
    if (pos_ + n > s_.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    out = v;
    return true;
  }
  bool lit(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() const { return pos_ == s_.size(); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip() { ++pos_; }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<Instant> parse_iso8601(std::string_view text, std::string& error) {
  Cursor c(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  auto bad = [&](const std::string& what) {
    error = "'" + std::string(text) + "' is not an ISO 8601 time with an offset (" + what +
            "), e.g. 2026-03-01T08:00:00+08:00";
    return std::nullopt;
  };
  if (!c.digits(4, y) || !c.lit('-') || !c.digits(2, mo) || !c.lit('-') || !c.digits(2, d)) {
    return bad("expected YYYY-MM-DD");
  }
  if (!c.lit('T') && !c.lit('t') && !c.lit(' ')) return bad("expected T after the date");
  if (!c.digits(2, h) || !c.lit(':') || !c.digits(2, mi)) return bad("expected hh:mm");
  if (c.lit(':')) {
    if (!c.digits(2, s)) return bad("expected seconds after hh:mm:");
    if (c.lit('.') || c.lit(',')) {
      // Fractions are accepted and truncated: fees are counted in whole seconds.
      if (c.peek() < '0' || c.peek() > '9') return bad("expected digits after the decimal mark");
      while (c.peek() >= '0' && c.peek() <= '9') c.skip();
    }
  }
  int offset = 0;
  if (c.lit('Z') || c.lit('z')) {
    offset = 0;
  } else if (c.peek() == '+' || c.peek() == '-') {
    const int sign = c.peek() == '-' ? -1 : 1;
    c.skip();
    int oh = 0, om = 0;
    if (!c.digits(2, oh)) return bad("expected the offset's hours");
    c.lit(':');
    if (!c.digits(2, om)) return bad("expected the offset's minutes");
    if (oh > 23 || om > 59) return bad("offset out of range");
    offset = sign * (oh * 60 + om);
  } else {
    return bad("missing UTC offset such as +08:00 or Z");
  }
  if (!c.at_end()) return bad("unexpected text after the offset");
  if (mo < 1 || mo > 12) return bad("month out of range");
  if (d < 1 || static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(mo))) {
    return bad("day out of range");
  }
  if (h > 23 || mi > 59 || s > 59) return bad("time of day out of range");
  const std::int64_t local = days_from_civil(y, static_cast<unsigned>(mo),
                                             static_cast<unsigned>(d)) * 86400 +
                             h * 3600 + mi * 60 + s;
  return Instant{local - static_cast<std::int64_t>(offset) * 60, offset};
}

std::string format_iso8601(std::int64_t utc_seconds, int offset_minutes) {
  const std::int64_t local = utc_seconds + static_cast<std::int64_t>(offset_minutes) * 60;
  const std::int64_t days = floor_div(local, 86400);
  const std::int64_t sod = local - days * 86400;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld%c%02d:%02d",
                static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60),
                offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
  return buf;
}

int local_minute_of_day(std::int64_t utc_seconds, int offset_minutes) {
  const std::int64_t local = utc_seconds + static_cast<std::int64_t>(offset_minutes) * 60;
  const std::int64_t sod = local - floor_div(local, 86400) * 86400;
  return static_cast<int>(sod / 60);
}

}  // namespace estate::parking
