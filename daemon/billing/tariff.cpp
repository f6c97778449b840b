#include "daemon/billing/tariff.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>

#include "daemon/config/document_file.hpp"

namespace estate::billing {

namespace {

constexpr int minutes_per_day = 24 * 60;
constexpr LocalSeconds seconds_per_day = 86400;

LocalSeconds floor_div(LocalSeconds a, LocalSeconds b) {
  LocalSeconds q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int minute_of_day(LocalSeconds at) {
  return static_cast<int>((at - floor_div(at, seconds_per_day) * seconds_per_day) / 60);
}

// Splits usage over the tiers, starting at cumulative cycle position `before`.
void price_tiers(const std::vector<Tier>& tiers, UsageMilli before, UsageMilli usage,
                 const std::string& period, std::vector<QuoteLine>& lines) {
  UsageMilli pos = before;
  UsageMilli end = before + usage;
  UsageMilli lower = 0;
  for (std::size_t i = 0; i < tiers.size() && pos < end; ++i) {
    const Tier& t = tiers[i];
    UsageMilli upper = t.upto.value_or(end);
    if (pos < upper) {
      UsageMilli take = std::min(end, upper) - std::max(pos, lower);
      if (take > 0) {
        lines.push_back({static_cast<int>(i) + 1, period, take, t.price, multiply(take, t.price)});
        pos += take;
      }
    }
    if (t.upto) lower = *t.upto;
  }
}

Quote finish(std::vector<QuoteLine> lines) {
  Quote q;
  // Merge lines that price the same (period, tier) so a quote reads one line per price.
  for (auto& l : lines) {
    auto it = std::find_if(q.lines.begin(), q.lines.end(), [&](const QuoteLine& m) {
      return m.tier == l.tier && m.period == l.period && m.price == l.price;
    });
    if (it == q.lines.end()) {
      q.lines.push_back(std::move(l));
    } else {
      it->usage += l.usage;
      it->amount += l.amount;
    }
  }
  for (const auto& l : q.lines) q.exact += l.amount;
  q.total_fen = round_half_up_to_fen(q.exact);
  return q;
}

void check_args(UsageMilli usage, UsageMilli before) {
  if (usage < 0) throw std::invalid_argument("usage must not be negative");
  if (before < 0) throw std::invalid_argument("cycle usage before must not be negative");
}

}  // namespace

const Period& Tariff::period_at(int minute) const {
  for (const auto& p : periods) {
    for (auto [from, to] : p.ranges) {
      if (minute >= from && minute < to) return p;
    }
  }
  // Validation guarantees full coverage; reaching here is a programming error.
  throw std::logic_error("tariff " + id + ": no period covers minute " + std::to_string(minute));
}

Quote quote(const Tariff& t, UsageMilli usage, UsageMilli cycle_before,
            std::optional<LocalSeconds> at) {
  check_args(usage, cycle_before);
  std::vector<QuoteLine> lines;
  if (t.kind == Tariff::Kind::time_of_use) {
    if (!at) throw std::invalid_argument("tariff " + t.id + " is time-of-use: a time is needed");
    const Period& p = t.period_at(minute_of_day(*at));
    price_tiers(p.tiers, cycle_before, usage, p.name, lines);
  } else {
    price_tiers(t.tiers, cycle_before, usage, {}, lines);
  }
  return finish(std::move(lines));
}

Quote quote_interval(const Tariff& t, UsageMilli usage, UsageMilli cycle_before,
                     LocalSeconds from, LocalSeconds to) {
  check_args(usage, cycle_before);
  if (t.kind != Tariff::Kind::time_of_use || from >= to || to - from > 400 * seconds_per_day) {
    return quote(t, usage, cycle_before, to);
  }
  struct Segment {
    const Period* period;
    LocalSeconds seconds;
    UsageMilli usage = 0;
  };
  std::vector<Segment> segs;
  for (LocalSeconds s = from; s < to;) {
    LocalSeconds day = floor_div(s, seconds_per_day) * seconds_per_day;
    int minute = static_cast<int>((s - day) / 60);
    const Period* p = nullptr;
    int range_end = minutes_per_day;
    for (const auto& per : t.periods) {
      for (auto [a, b] : per.ranges) {
        if (minute >= a && minute < b) {
          p = &per;
          range_end = b;
        }
      }
    }
    if (!p) throw std::logic_error("tariff " + t.id + ": no period covers a minute");
    LocalSeconds e = std::min(to, day + static_cast<LocalSeconds>(range_end) * 60);
    if (!segs.empty() && segs.back().period == p) {
      segs.back().seconds += e - s;
    } else {
      segs.push_back({p, e - s});
    }
    s = e;
  }
  // Largest remainder on seconds: the parts add up to `usage` exactly; ties go to the earlier
  // segment so the result does not depend on anything but the interval.
  const LocalSeconds total = to - from;
  UsageMilli given = 0;
  std::vector<std::pair<WideInt, std::size_t>> rem;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    WideInt num = static_cast<WideInt>(usage) * segs[i].seconds;
    segs[i].usage = static_cast<UsageMilli>(num / total);
    given += segs[i].usage;
    rem.emplace_back(num % total, i);
  }
  std::stable_sort(rem.begin(), rem.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; given < usage; ++k, ++given) segs[rem[k].second].usage += 1;

  std::vector<QuoteLine> lines;
  UsageMilli pos = cycle_before;
  for (const auto& sg : segs) {
    price_tiers(sg.period->tiers, pos, sg.usage, sg.period->name, lines);
    pos += sg.usage;
  }
  return finish(std::move(lines));
}

std::string cycle_key(Cycle c, LocalSeconds at) {
  using namespace std::chrono;
  if (c == Cycle::none) return "all";
  year_month_day ymd{sys_days{days{floor_div(at, seconds_per_day)}}};
  char buf[16];
  if (c == Cycle::year) {
    std::snprintf(buf, sizeof buf, "%04d", static_cast<int>(ymd.year()));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()));
  }
  return buf;
}

std::string_view to_string(Quantity q) {
  switch (q) {
    case Quantity::water: return "water";
    case Quantity::hot_water: return "hot_water";
    case Quantity::electricity: return "electricity";
    case Quantity::gas: return "gas";
    case Quantity::heat: return "heat";
  }
  return "?";
}

std::string_view to_string(Cycle c) {
  switch (c) {
    case Cycle::month: return "month";
    case Cycle::year: return "year";
    case Cycle::none: return "none";
  }
  return "?";
}

std::optional<Quantity> quantity_from(std::string_view s) {
  for (auto q : {Quantity::water, Quantity::hot_water, Quantity::electricity, Quantity::gas,
                 Quantity::heat}) {
    if (to_string(q) == s) return q;
  }
  return std::nullopt;
}

namespace {

std::vector<std::string_view> units_for(Quantity q) {
  switch (q) {
    case Quantity::water:
    case Quantity::hot_water: return {"m3", "t"};
    case Quantity::electricity: return {"kWh"};
    case Quantity::gas: return {"m3"};
    case Quantity::heat: return {"kWh", "MWh", "GJ"};
  }
  return {};
}

std::optional<PriceE4> read_price(config::Section& s, std::string_view key) {
  auto text = s.decimal_text(key, config::Need::required);
  if (!text) return std::nullopt;
  std::string why;
  auto v = parse_decimal(*text, price_places, &why);
  if (!v) {
    s.error(key, "price " + why + " (yuan per unit, at most 4 decimals)");
    return std::nullopt;
  }
  if (*v < 0) {
    s.error(key, "price must not be negative, got " + *text);
    return std::nullopt;
  }
  return v;
}

// Tiers: strictly increasing `upto`, exactly one open tier, and it is the last.
std::optional<std::vector<Tier>> read_tiers(config::Section& s) {
  auto items = s.list_of_maps("tiers", config::Need::required);
  if (items.empty()) {
    if (s.has("tiers")) s.error("tiers", "needs at least one tier");
    return std::nullopt;
  }
  std::vector<Tier> out;
  bool ok = true;
  std::optional<UsageMilli> previous;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto& ts = items[i];
    Tier t;
    const bool last = i + 1 == items.size();
    if (ts.has("upto")) {
      auto text = ts.decimal_text("upto");
      std::string why;
      auto v = text ? parse_decimal(*text, usage_places, &why) : std::nullopt;
      if (text && !v) ts.error("upto", "upto " + why + " (usage, at most 3 decimals)");
      if (!v) {
        ok = false;
      } else if (*v <= 0) {
        ts.error("upto", "upto must be greater than 0, got " + *text);
        ok = false;
      } else if (previous && *v <= *previous) {
        ts.error("upto", "tiers must be strictly increasing: upto " + *text +
                             " is not above the previous tier's " +
                             format_decimal(*previous, usage_places));
        ok = false;
      } else if (last) {
        ts.error("upto", "the last tier must be open (no upto): usage above " + *text +
                             " would have no price");
        ok = false;
      }
      if (v) {
        t.upto = *v;
        previous = *v;
      }
    } else {
      ts.accept("upto");
      if (!last) {
        ts.error_here("only the last tier may be open (without upto); tier " +
                      std::to_string(i + 1) + " of " + std::to_string(items.size()) +
                      " has none");
        ok = false;
      }
    }
    auto price = read_price(ts, "price");
    if (!price) ok = false;
    else t.price = *price;
    ts.finish();
    out.push_back(t);
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<int> parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (!digit(0) || !digit(1) || !digit(3) || !digit(4)) return std::nullopt;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::string hhmm(int minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

bool read_periods(config::Section& s, Tariff& t) {
  auto items = s.list_of_maps("periods", config::Need::required);
  if (items.empty()) {
    if (s.has("periods")) s.error("periods", "needs at least one period");
    return false;
  }
  bool ok = true;
  std::array<int, minutes_per_day> owner;
  owner.fill(-1);
  std::set<std::string> names;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto& ps = items[i];
    Period p;
    if (auto n = ps.string("name", config::Need::required)) {
      p.name = *n;
      if (!names.insert(*n).second) {
        ps.error("name", "duplicate period name '" + *n + "'");
        ok = false;
      }
    } else {
      ok = false;
    }
    auto times = ps.string_list("times", config::Need::required);
    if (!times) {
      ok = false;
    } else if (times->empty()) {
      ps.error("times", "needs at least one range such as \"08:00-12:00\"");
      ok = false;
    }
    for (const auto& r : times.value_or(std::vector<std::string>{})) {
      auto dash = r.find('-');
      auto a = dash == std::string::npos ? std::nullopt : parse_hhmm(std::string_view(r).substr(0, dash));
      auto b = dash == std::string::npos ? std::nullopt : parse_hhmm(std::string_view(r).substr(dash + 1));
      if (!a || !b || *a == *b || *a == minutes_per_day) {
        ps.error("times", "'" + r + "' is not a time range such as \"08:00-12:00\" (24:00 may end one)");
        ok = false;
        continue;
      }
      if (*a < *b) {
        p.ranges.emplace_back(*a, *b);
      } else {  // wraps midnight: 23:00-07:00
        p.ranges.emplace_back(*a, minutes_per_day);
        if (*b > 0) p.ranges.emplace_back(0, *b);
      }
    }
    for (auto [a, b] : p.ranges) {
      for (int m = a; m < b; ++m) {
        if (owner[static_cast<std::size_t>(m)] >= 0) {
          ps.error("times", "overlaps period '" +
                                items[static_cast<std::size_t>(owner[static_cast<std::size_t>(m)])]
                                    .node()["name"].as<std::string>("?") +
                                "' at " + hhmm(m));
          ok = false;
          break;
        }
        owner[static_cast<std::size_t>(m)] = static_cast<int>(i);
      }
    }
    const bool has_price = ps.has("price"), has_tiers = ps.has("tiers");
    if (has_price == has_tiers) {
      ps.error_here("a period needs exactly one of price or tiers");
      ps.accept("price");
      ps.accept("tiers");
      ok = false;
    } else if (has_price) {
      if (auto price = read_price(ps, "price")) p.tiers.push_back({std::nullopt, *price});
      else ok = false;
    } else {
      if (auto tiers = read_tiers(ps)) p.tiers = std::move(*tiers);
      else ok = false;
    }
    ps.finish();
    t.periods.push_back(std::move(p));
  }
  if (ok) {
    for (int m = 0; m < minutes_per_day; ++m) {
      if (owner[static_cast<std::size_t>(m)] >= 0) continue;
      int e = m;
      while (e < minutes_per_day && owner[static_cast<std::size_t>(e)] < 0) ++e;
      s.error("periods", "the periods must cover the whole day: " + hhmm(m) + "-" + hhmm(e) +
                             " is in no period");
      ok = false;
      m = e;
    }
  }
  return ok;
}

}  // namespace

void parse_tariffs(config::Section& document, std::vector<Tariff>& out) {
  std::map<std::string, config::Location> ids;
  for (auto& s : document.list_of_maps("tariffs")) {
    Tariff t;
    t.origin = s.location();
    bool ok = true;
    if (auto id = s.string("id", config::Need::required)) {
      t.id = *id;
      auto [it, fresh] = ids.emplace(*id, s.location_of("id"));
      if (!fresh) {
        s.error("id", "duplicate tariff id '" + *id + "'; first defined at " +
                          it->second.to_string());
        ok = false;
      }
    } else {
      ok = false;
    }
    auto q = s.one_of("quantity", {"water", "hot_water", "electricity", "gas", "heat"},
                      config::Need::required);
    if (q) t.quantity = *quantity_from(*q);
    else ok = false;
    if (auto unit = s.string("unit", config::Need::required)) {
      t.unit = *unit;
      if (q) {
        auto units = units_for(t.quantity);
        if (std::find(units.begin(), units.end(), *unit) == units.end()) {
          std::string list;
          for (auto u : units) list += (list.empty() ? "" : ", ") + std::string(u);
          s.error("unit", "unknown unit '" + *unit + "' for " + *q + " (known: " + list + ")");
          ok = false;
        }
      }
    } else {
      ok = false;
    }
    if (auto c = s.one_of("cycle", {"month", "year", "none"})) {
      t.cycle = *c == "month" ? Cycle::month : *c == "year" ? Cycle::year : Cycle::none;
    } else if (s.has("cycle")) {
      ok = false;
    }
    const int kinds = int(s.has("price")) + int(s.has("tiers")) + int(s.has("periods"));
    if (kinds != 1) {
      s.error_here("a tariff needs exactly one of price (flat), tiers (tiered) or periods "
                   "(time-of-use)");
      s.accept("price");
      s.accept("tiers");
      s.accept("periods");
      ok = false;
    } else if (s.has("price")) {
      t.kind = Tariff::Kind::flat;
      if (auto p = read_price(s, "price")) t.tiers.push_back({std::nullopt, *p});
      else ok = false;
    } else if (s.has("tiers")) {
      t.kind = Tariff::Kind::tiered;
      if (auto tiers = read_tiers(s)) t.tiers = std::move(*tiers);
      else ok = false;
    } else {
      t.kind = Tariff::Kind::time_of_use;
      if (!read_periods(s, t)) ok = false;
    }
    s.finish();
    if (ok) out.push_back(std::move(t));
  }
}

std::optional<std::vector<Tariff>> load_tariff_file(const std::filesystem::path& file,
                                                    config::Diagnostics& diag) {
  std::vector<Tariff> out;
  if (!config::load_document_file(file, "tariffs", diag,
                                  [&](config::Section& doc) { parse_tariffs(doc, out); })) {
    return std::nullopt;
  }
  return out;
}

std::optional<LocalSeconds> parse_local_time(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  using namespace std::chrono;
  LocalSeconds day = 0;
  std::size_t p = 0;
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-') {
    auto y = num(0, 4), mo = num(5, 2), d = num(8, 2);
    if (!y || !mo || !d) return std::nullopt;
    year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, std::chrono::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) return std::nullopt;
    day = sys_days{ymd}.time_since_epoch().count() * seconds_per_day;
    if (s.size() == 10) return day;
    if (s[10] != 'T' && s[10] != ' ') return std::nullopt;
    p = 11;
  }
  auto h = num(p, 2), mi = num(p + 3, 2);
  if (!h || !mi || s.size() < p + 5 || s[p + 2] != ':' || *h > 23 || *mi > 59) return std::nullopt;
  int sec = 0;
  p += 5;
  if (p < s.size() && s[p] == ':') {
    auto sv = num(p + 1, 2);
    if (!sv || *sv > 60) return std::nullopt;
    sec = *sv;
    p += 3;
    if (p < s.size() && s[p] == '.') {
      ++p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
    }
  }
  // An offset or Z may follow; the wall-clock time as written is what tariffs use.
  if (p < s.size()) {
    std::string_view rest = s.substr(p);
    bool ok = rest == "Z" || ((rest[0] == '+' || rest[0] == '-') &&
                              (rest.size() == 6 || rest.size() == 5 || rest.size() == 3));
    if (!ok) return std::nullopt;
  }
  return day + *h * 3600 + *mi * 60 + sec;
}

}  // namespace estate::billing
