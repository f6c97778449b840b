// ISO 8601 instants with an explicit UTC offset, as the fee command and parking sessions use
// them: "2026-03-01T08:00:00+08:00", "...T08:00+08:00", "...T00:00:00.250Z", "+0800".
// An instant keeps both the UTC seconds and the offset it was written with, because local
// time of day (night prices) is read in that offset. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace estate::parking {

struct Instant {
  std::int64_t utc_seconds = 0;  // seconds since 1970-01-01T00:00:00Z; fractions truncated
  int offset_minutes = 0;        // the offset the time was written with, e.g. 480 for +08:00
};

// Parses an ISO 8601 date-time with seconds optional and an offset (Z, ±HH:MM or ±HHMM)
// required. Returns nullopt and sets `error` (what is wrong) on bad input.
std::optional<Instant> parse_iso8601(std::string_view text, std::string& error);

// "2026-03-01T08:00:00+08:00": the instant written in `offset_minutes`.
std::string format_iso8601(std::int64_t utc_seconds, int offset_minutes);

// Minutes since local midnight (0..1439) of `utc_seconds` seen in `offset_minutes`.
int local_minute_of_day(std::int64_t utc_seconds, int offset_minutes);

}  // namespace estate::parking
