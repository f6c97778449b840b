#include "daemon/parking/fee_rules.hpp"

#include <yaml-cpp/yaml.h>

#include <map>

#include "daemon/config/document_file.hpp"

namespace estate::parking {

namespace {

// Upper bound for one price or cap: a billion fen keeps every sum of a decade of one-minute
// units inside int64 with room to spare.
constexpr std::int64_t max_fen = 1'000'000'000;

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> name_key(config::Section& s, std::string_view key, config::Need need) {
  auto v = s.string(key, need);
  if (v && !valid_name(*v)) {
    s.error(key, "'" + *v + "' is not a valid id: use 1-64 letters, digits, '-', '_' or '.'");
    return std::nullopt;
  }
  return v;
}

std::optional<int> clock_minute(config::Section& s, std::string_view key) {
  auto v = s.string(key, config::Need::required);
  if (!v) return std::nullopt;
  const std::string& t = *v;
  auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
  if (t.size() == 5 && digit(0) && digit(1) && t[2] == ':' && digit(3) && digit(4)) {
    const int h = (t[0] - '0') * 10 + (t[1] - '0');
    const int m = (t[3] - '0') * 10 + (t[4] - '0');
    if (h <= 23 && m <= 59) return h * 60 + m;
  }
  s.error(key, "expected a local time of day \"HH:MM\" (00:00 to 23:59), got '" + t + "'");
  return std::nullopt;
}

FeeRule parse_rule(config::Section& s) {
  FeeRule r;
  r.origin = s.location();
  if (auto v = name_key(s, "id", config::Need::required)) r.id = *v;
  if (auto v = s.integer("free_minutes", 0, 7 * 1440, config::Need::required)) {
    r.free_minutes = static_cast<int>(*v);
  }
  if (auto v = s.integer("unit_minutes", 1, 1440, config::Need::required)) {
    r.unit_minutes = static_cast<int>(*v);
  }
  if (auto v = s.integer("unit_price_fen", 0, max_fen, config::Need::required)) {
    r.unit_price_fen = *v;
  }
  if (auto v = s.integer("daily_cap_fen", 0, max_fen)) r.daily_cap_fen = *v;
  if (auto v = s.integer("stay_cap_fen", 0, max_fen)) r.stay_cap_fen = *v;
  if (auto n = s.map("night")) {
    auto from = clock_minute(*n, "from");
    auto to = clock_minute(*n, "to");
    auto price = n->integer("unit_price_fen", 0, max_fen, config::Need::required);
    if (from && to && *from == *to) {
      n->error("to", "the night period is empty: 'from' and 'to' are the same time");
    } else if (from && to && price) {
      r.night = NightPeriod{*from, *to};
      r.night_unit_price_fen = *price;
    }
    n->finish();
  }
  if (auto c = s.map("classes")) {
    for (auto it = c->node().begin(); it != c->node().end(); ++it) {
      const std::string name = it->first.Scalar();
      c->accept(name);
      if (!valid_name(name)) {
        c->diagnostics().error(config::location_of(it->first, c->file()), c->child_path(name),
                               "'" + name + "' is not a valid vehicle class name");
        continue;
      }
      config::Section cs(it->second, c->file(), c->child_path(name), c->diagnostics());
      if (!cs.expect_map()) continue;
      ClassPrices p;
      p.name = name;
      if (auto v = cs.integer("unit_price_fen", 0, max_fen, config::Need::required)) {
        p.unit_price_fen = *v;
      }
      if (auto v = cs.integer("night_unit_price_fen", 0, max_fen)) {
        p.night_unit_price_fen = *v;
        if (!s.has("night")) {
          cs.error("night_unit_price_fen", "the rule has no night period to price");
        }
      }
      if (s.has("night") && !cs.has("night_unit_price_fen")) {
        // Inheriting the rule's night price would quietly undercharge a dearer class.
        cs.error_here("a class of a rule with a night period needs night_unit_price_fen");
      }
      if (auto v = cs.integer("daily_cap_fen", 0, max_fen)) p.daily_cap_fen = *v;
      if (auto v = cs.integer("stay_cap_fen", 0, max_fen)) p.stay_cap_fen = *v;
      cs.finish();
      r.classes.push_back(std::move(p));
    }
  }
  s.finish();
  return r;
}

}  // namespace

bool NightPeriod::contains(int m) const {
  if (from_minute < to_minute) return m >= from_minute && m < to_minute;
  return m >= from_minute || m < to_minute;  // wraps midnight
}

ClassPrices FeeRule::base_prices() const {
  return ClassPrices{"", unit_price_fen, night_unit_price_fen, daily_cap_fen, stay_cap_fen};
}

const ClassPrices* FeeRule::find_class(std::string_view vehicle_class) const {
  for (const auto& c : classes) {
    if (c.name == vehicle_class) return &c;
  }
  return nullptr;
}

std::vector<FeeRule> parse_parking_rules(config::Section& document) {
  std::vector<FeeRule> rules;
  std::map<std::string, config::Location> seen;
  for (auto& s : document.list_of_maps("parking_rules")) {
    FeeRule r = parse_rule(s);
    if (r.id.empty()) continue;
    auto [it, fresh] = seen.emplace(r.id, r.origin);
    if (!fresh) {
      s.error("id", "duplicate parking rule id '" + r.id + "'; first defined at " +
                        it->second.to_string());
      continue;
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

void validate_parking_rules_section(config::Section& document) {
  (void)parse_parking_rules(document);
}

std::optional<std::vector<FeeRule>> load_parking_rules_file(const std::filesystem::path& file,
                                                            config::Diagnostics& diag) {
  std::vector<FeeRule> rules;
  if (!config::load_document_file(file, "parking_rules", diag,
                                  [&](config::Section& doc) { rules = parse_parking_rules(doc); })) {
    return std::nullopt;
  }
  return rules;
}

const FeeRule* find_rule(const std::vector<FeeRule>& rules, std::string_view id) {
  for (const auto& r : rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

}  // namespace estate::parking
