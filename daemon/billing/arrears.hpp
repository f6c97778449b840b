// Arrears levels: the site's policy maps (days overdue, overdue amount) to a level, and each
// level to actions (warn, charge_as_visitor, deny_gate, close_valve). The platform may push a
// list of rooms with levels; a room on the pushed list gets the pushed level (it wins over the
// computed one). Pure helpers here; the engine keeps the state. Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/billing/billing_config.hpp"

namespace estate::billing {

struct ArrearsLevel {
  enum class Source { none, computed, pushed };
  int level = 0;           // 0: no arrears restriction
  unsigned actions = 0;    // ArrearsAction bits of the level
  Source source = Source::none;
  Fen overdue_fen = 0;
  int days_overdue = 0;
  bool has(ArrearsAction a) const { return (actions & a) != 0; }
};

// The highest level whose min_days and min_fen are both met; level 0 when none or nothing owed.
ArrearsLevel compute_arrears_level(const ArrearsPolicy& p, int days_overdue, Fen overdue_fen);

// A pushed arrears list, JSON: {"version": N, "rooms": [{"room": "1-1-101", "level": 2}, ...]}.
// The list replaces the previous one whole. Parsed and checked all-or-nothing: version a
// positive integer, every room a non-empty string listed once, every level 0 or a level the
// site's policy defines.
struct ArrearsList {
  std::int64_t version = 0;
  std::map<std::string, int> rooms;
};
struct ArrearsListParse {
  std::optional<ArrearsList> list;
  std::string error;  // set when list is empty: what is wrong and where ("rooms[3].level: ...")
};
ArrearsListParse parse_arrears_list(std::string_view json, const ArrearsPolicy& policy);

std::string_view to_string(ArrearsLevel::Source s);

}  // namespace estate::billing
