// The parking fee engine: integer fen, every rule explicit (docs/parking.md):
//  1. duration = exit - entry in whole seconds; exit before entry is an error.
//  2. duration <= free_minutes: free (0 fen). Otherwise the stay is charged from entry.
//  3. Units of unit_minutes are laid from entry; every unit that starts before exit is
//     charged (ceil(duration / unit)). A unit costs the night price when its start, read in
//     the entry's UTC offset, lies in the night period; otherwise the day price.
//  4. Daily cap: 24 h windows are counted from entry; a unit belongs to the window it starts
//     in; each window's sum is cut to daily_cap_fen.
//  5. Stay cap: the sum of the windows is cut to stay_cap_fen.
// Pure and thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/parking/fee_rules.hpp"
#include "daemon/parking/time.hpp"

namespace estate::parking {

struct FeeWindow {
  int index = 0;                   // 0 = the first 24 h from entry
  std::int64_t start_utc = 0;
  std::int64_t units = 0;
  std::int64_t day_units = 0;
  std::int64_t night_units = 0;
  std::int64_t uncapped_fen = 0;
  std::int64_t charged_fen = 0;    // after the daily cap
  bool capped = false;
};

struct FeeQuote {
  std::string rule_id;
  std::string vehicle_class;       // "" = the rule's own prices
  Instant entry;
  Instant exit;
  std::int64_t duration_seconds = 0;
  bool free = false;               // within free_minutes
  std::int64_t units = 0;
  std::int64_t day_units = 0;
  std::int64_t night_units = 0;
  std::int64_t uncapped_fen = 0;   // sum of unit prices before any cap
  std::vector<FeeWindow> windows;
  bool stay_capped = false;
  std::int64_t fee_fen = 0;
};

struct FeeError {
  std::string message;
};

// Computes the fee of one stay. Errors: exit before entry, unknown vehicle class.
// Returns nullopt and fills `error` on failure.
std::optional<FeeQuote> compute_fee(const FeeRule& rule, const Instant& entry, const Instant& exit,
                                    std::string_view vehicle_class, FeeError& error);

// {"fee_fen": N, "rule", "entry", "exit", "duration_seconds", "free", "units", "day_units",
//  "night_units", "uncapped_fen", "windows": [...], "stay_capped"}: the breakdown the CLI prints
// and parking events carry.
nlohmann::ordered_json to_json(const FeeQuote& q);

}  // namespace estate::parking
