// Tariffs: what a unit of water, electricity, gas or heat costs. Three kinds, one YAML form
// (docs/billing.md):
//   tiered  `tiers:` — 阶梯 prices; each tier ends at a cumulative usage within the cycle
//           (month | year | none), the last tier is open;
//   flat    `price:` — a single price (one open tier);
//   time-of-use `periods:` — named periods (peak, flat, valley...) by time of day, each with
//           its own `price:` or `tiers:`; the periods cover the day exactly once. Tiers inside
//           a period count the meter's whole cycle usage, across periods.
// Pricing is exact (daemon/billing/decimal.hpp): each line's amount is usage x price in 1e-7
// yuan, and a quote's total is rounded half up to the fen once.
// Values are immutable once parsed; free functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon/billing/decimal.hpp"
#include "daemon/config/diagnostics.hpp"
#include "daemon/config/section.hpp"

namespace estate::billing {

enum class Quantity { water, hot_water, electricity, gas, heat };
enum class Cycle { month, year, none };

struct Tier {
  std::optional<UsageMilli> upto;  // cumulative cycle usage where the tier ends; none = open
  PriceE4 price = 0;
};

struct Period {
  std::string name;
  // Minutes of the local day [from, to); a range that wraps midnight is stored as two.
  std::vector<std::pair<int, int>> ranges;
  std::vector<Tier> tiers;  // a period with a single `price:` has one open tier
};

struct Tariff {
  enum class Kind { tiered, flat, time_of_use };
  std::string id;
  Quantity quantity = Quantity::water;
  std::string unit;
  Cycle cycle = Cycle::none;
  Kind kind = Kind::flat;
  std::vector<Tier> tiers;      // tiered and flat
  std::vector<Period> periods;  // time_of_use
  config::Location origin;

  // The period in force at `minute_of_day` (0..1439); time-of-use only.
  const Period& period_at(int minute_of_day) const;
};

struct QuoteLine {
  int tier = 1;        // 1-based index into the tiers that apply
  std::string period;  // time-of-use only
  UsageMilli usage = 0;
  PriceE4 price = 0;
  AmountE7 amount = 0;  // usage x price, exact
};

struct Quote {
  std::vector<QuoteLine> lines;
  AmountE7 exact = 0;  // sum of the lines' exact amounts
  Fen total_fen = 0;   // round_half_up_to_fen(exact): the one rounding
};

// Local wall-clock seconds since 1970-01-01T00:00 (UTC seconds + the site's UTC offset).
using LocalSeconds = std::int64_t;

// Cost of consuming `usage` when `cycle_before` was already used in this cycle. `at` is the
// local time of the consumption; required for time-of-use tariffs (std::invalid_argument if
// missing). usage and cycle_before must be >= 0 (std::invalid_argument otherwise).
Quote quote(const Tariff& t, UsageMilli usage, UsageMilli cycle_before,
            std::optional<LocalSeconds> at = std::nullopt);

// Cost of `usage` consumed evenly over the local interval [from, to). A time-of-use tariff
// splits it across the periods the interval touches in proportion to their seconds (largest
// remainder, so the parts add up to `usage` exactly), priced in time order so tiers advance in
// the order the usage happened. Other kinds price it as one quote. from >= to, or an interval
// longer than 400 days, falls back to pricing everything at `to`.
Quote quote_interval(const Tariff& t, UsageMilli usage, UsageMilli cycle_before,
                     LocalSeconds from, LocalSeconds to);

// The cycle a local time belongs to: "2026-11" (month), "2026" (year), "all" (none).
std::string cycle_key(Cycle c, LocalSeconds at);

// Reads the top-level `tariffs:` list of `document`, validating every entry (ids unique within
// the list, kind, quantity and unit, tiers strictly increasing with exactly one open last tier,
// prices non-negative with at most 4 decimals, periods covering the day exactly once). Errors
// go to the document's Diagnostics with file:line:column; valid tariffs are appended to `out`.
void parse_tariffs(config::Section& document, std::vector<Tariff>& out);

// A tariffs file: YAML with a top-level `tariffs:` list (the site config form; other top-level
// keys are ignored, so a site config works too). nullopt with errors in `diag` on any problem.
std::optional<std::vector<Tariff>> load_tariff_file(const std::filesystem::path& file,
                                                    config::Diagnostics& diag);

std::string_view to_string(Quantity q);
std::string_view to_string(Cycle c);
std::optional<Quantity> quantity_from(std::string_view s);

// Parses "2026-11-23T08:30[:00][.mmm][Z|+08:00]" or "08:30[:00]" into local wall-clock
// seconds as written (the offset, if any, is ignored: tariffs speak of the wall clock).
// A bare time of day is placed on 1970-01-01.
std::optional<LocalSeconds> parse_local_time(std::string_view text);

}  // namespace estate::billing
