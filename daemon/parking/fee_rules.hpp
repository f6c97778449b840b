// Parking fee rules: the top-level `parking_rules` list of a site config (or of a file given to
// `estate-edge parking fee --rules`). Every key is documented in docs/parking.md. Parsing reports
// every problem with file:line:column through config::Diagnostics. Values are immutable after
// loading; safe to share between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/diagnostics.hpp"
#include "daemon/config/section.hpp"

namespace estate::parking {

// A night period in local time; a unit that *starts* inside it costs the night price.
// from == to is refused; from > to wraps midnight (22:00 -> 07:00).
struct NightPeriod {
  int from_minute = 0;  // minutes since local midnight, inclusive
  int to_minute = 0;    // exclusive
  bool contains(int minute_of_day) const;
};

// Prices of one vehicle class; a class inherits every price it does not set from its rule.
struct ClassPrices {
  std::string name;
  std::int64_t unit_price_fen = 0;
  std::optional<std::int64_t> night_unit_price_fen;
  std::optional<std::int64_t> daily_cap_fen;
  std::optional<std::int64_t> stay_cap_fen;
};

struct FeeRule {
  std::string id;
  int free_minutes = 0;       // a stay of at most this long is free
  int unit_minutes = 60;      // each started unit is charged, counted from entry
  std::int64_t unit_price_fen = 0;
  std::optional<std::int64_t> daily_cap_fen;  // per 24 h window counted from entry
  std::optional<std::int64_t> stay_cap_fen;   // per stay, after the daily caps
  std::optional<NightPeriod> night;
  std::optional<std::int64_t> night_unit_price_fen;  // set exactly when `night` is
  std::vector<ClassPrices> classes;
  config::Location origin;

  // The prices for `vehicle_class` ("" = the rule's own); nullptr when the class is unknown.
  const ClassPrices* find_class(std::string_view vehicle_class) const;
  ClassPrices base_prices() const;
};

// Reads `parking_rules` from a whole document (site config or rules file). Problems go to the
// section's Diagnostics; the returned rules are only meaningful when it stays ok().
std::vector<FeeRule> parse_parking_rules(config::Section& document);

// Loads a YAML file that has a top-level `parking_rules` list (other top-level keys are left
// alone, so a site config works too). nullopt with every problem in `diag` on failure.
std::optional<std::vector<FeeRule>> load_parking_rules_file(const std::filesystem::path& file,
                                                            config::Diagnostics& diag);

// The domain-section validator registered in daemon/config/domain_sections.cpp.
void validate_parking_rules_section(config::Section& document);

const FeeRule* find_rule(const std::vector<FeeRule>& rules, std::string_view id);

}  // namespace estate::parking
