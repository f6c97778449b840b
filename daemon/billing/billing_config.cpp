#include "daemon/billing/billing_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

namespace estate::billing {

namespace {

using config::Need;
using config::Section;

std::optional<std::int64_t> decimal_key(Section& s, std::string_view key, int places,
                                        std::int64_t min, std::int64_t max, Need need,
                                        const char* what) {
  auto text = s.decimal_text(key, need);
  if (!text) return std::nullopt;
  std::string why;
  auto v = parse_decimal(*text, places, &why);
  if (!v) {
    s.error(key, std::string(what) + " " + why + " (at most " + std::to_string(places) +
                     " decimals)");
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    s.error(key, std::string(what) + " " + *text + " is out of range [" +
                     format_decimal(min, places) + ", " + format_decimal(max, places) + "]");
    return std::nullopt;
  }
  return v;
}

constexpr std::int64_t max_fen = 100'000'000'00;  // 100 million yuan: far above any balance

// A billing period: "month" (0) or "<N>m" with N minutes dividing a day. False on an error.
bool period_key(Section& s, std::string_view key, std::int64_t& minutes) {
  auto v = s.string(key);
  if (!v) return !s.has(key);
  if (*v == "month") {
    minutes = 0;
    return true;
  }
  std::int64_t n = 0;
  const bool digits = v->size() >= 2 && v->back() == 'm' &&
                      std::all_of(v->begin(), v->end() - 1, [](char c) { return c >= '0' && c <= '9'; });
  if (digits && v->size() <= 6) n = std::stoll(v->substr(0, v->size() - 1));
  if (n < 1 || n > 1440 || 1440 % n != 0) {
    s.error(key, "expected 'month' or '<N>m' with N minutes dividing a day (1..1440), "
                 "got '" + v->substr(0, 32) + "'");
    return false;
  }
  minutes = n;
  return true;
}

// A local time "HH:MM" as minutes after midnight. False on an error.
bool local_time_key(Section& s, std::string_view key, std::int64_t& minute) {
  auto v = s.string(key);
  if (!v) return !s.has(key);
  const bool shape = v->size() == 5 && (*v)[2] == ':' && std::isdigit(static_cast<unsigned char>((*v)[0])) &&
                     std::isdigit(static_cast<unsigned char>((*v)[1])) && std::isdigit(static_cast<unsigned char>((*v)[3])) &&
                     std::isdigit(static_cast<unsigned char>((*v)[4]));
  const int h = shape ? std::stoi(v->substr(0, 2)) : -1, mi = shape ? std::stoi(v->substr(3, 2)) : -1;
  if (!shape || h > 23 || mi > 59) {
    s.error(key, "expected a local time HH:MM (00:00..23:59), got '" + v->substr(0, 32) + "'");
    return false;
  }
  minute = h * 60 + mi;
  return true;
}

}  // namespace

const ArrearsLevelRule* ArrearsPolicy::find(int level) const {
  for (const auto& r : levels)
    if (r.level == level) return &r;
  return nullptr;
}

const Tariff* BillingConfig::find_tariff(std::string_view id) const {
  for (const auto& t : tariffs)
    if (t.id == id) return &t;
  return nullptr;
}

const Account* BillingConfig::find_account(std::string_view room) const {
  for (const auto& a : accounts)
    if (a.room == room) return &a;
  return nullptr;
}

std::pair<const Account*, const AccountMeter*> BillingConfig::find_meter(
    std::string_view meter) const {
  for (const auto& a : accounts)
    for (const auto& m : a.meters)
      if (m.meter == meter) return {&a, &m};
  return {nullptr, nullptr};
}

const SharedMeter* BillingConfig::find_shared(std::string_view id) const {
  for (const auto& s : shared_meters)
    if (s.id == id) return &s;
  return nullptr;
}

void parse_accounts(Section& document, std::vector<Account>& out) {
  std::map<std::string, config::Location> rooms;
  for (auto& s : document.list_of_maps("accounts")) {
    Account a;
    a.origin = s.location();
    bool ok = true;
    if (auto r = s.string("room", Need::required)) {
      a.room = *r;
      auto [it, fresh] = rooms.emplace(*r, s.location_of("room"));
      if (!fresh) {
        s.error("room", "duplicate room '" + *r + "'; first defined at " + it->second.to_string());
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = decimal_key(s, "area_m2", 2, 0, 100'000'000, Need::optional, "area_m2")) {
      a.area_centi_m2 = *v;
    } else if (s.has("area_m2")) {
      ok = false;
    }
    if (auto v = s.integer("headcount", 0, 1000)) a.headcount = *v;
    else if (s.has("headcount")) ok = false;
    if (auto p = s.map("prepaid")) {
      PrepaidPolicy pp;
      if (auto list = p->string_list("low_balance_fen")) {
        Fen previous = max_fen + 1;
        for (const auto& text : *list) {
          Fen v = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (ec != std::errc{} || end != text.data() + text.size() || v <= 0 || v > max_fen) {
            p->error("low_balance_fen", "'" + text + "' is not a positive amount in fen");
            ok = false;
          } else if (v >= previous) {
            p->error("low_balance_fen", "thresholds must be strictly descending (e.g. [5000, 1000])");
            ok = false;
          } else {
            pp.low_balance_fen.push_back(v);
            previous = v;
          }
        }
      } else if (p->has("low_balance_fen")) {
        ok = false;
      }
      if (auto v = p->integer("credit_limit_fen", 0, max_fen)) pp.credit_limit_fen = *v;
      else if (p->has("credit_limit_fen")) ok = false;
      if (auto v = p->integer("grace_minutes", 0, 60 * 24 * 90)) pp.grace_minutes = static_cast<int>(*v);
      else if (p->has("grace_minutes")) ok = false;
      p->finish();
      a.prepaid = pp;
    } else if (s.has("prepaid")) {
      ok = false;
    }
    std::set<std::string> meters;
    for (auto& m : s.list_of_maps("meters", Need::required)) {
      AccountMeter am;
      am.origin = m.location();
      if (auto v = m.string("meter", Need::required)) {
        am.meter = *v;
        if (!meters.insert(*v).second) {
          m.error("meter", "meter '" + *v + "' is listed twice");
          ok = false;
        }
      } else {
        ok = false;
      }
      if (auto v = m.string("tariff", Need::required)) am.tariff = *v;
      else ok = false;
      if (auto v = m.one_of("on_zero", {"warn", "close"})) {
        am.on_zero = *v == "warn" ? OnZero::warn : OnZero::close;
      } else if (m.has("on_zero")) {
        ok = false;
      }
      m.finish();
      a.meters.push_back(std::move(am));
    }
    s.finish();
    if (ok) out.push_back(std::move(a));
  }
}

void parse_shared_meters(Section& document, std::vector<SharedMeter>& out) {
  std::set<std::string> ids;
  for (auto& s : document.list_of_maps("shared_meters")) {
    SharedMeter m;
    m.origin = s.location();
    bool ok = true;
    if (auto v = s.string("id", Need::required)) {
      m.id = *v;
      if (!ids.insert(*v).second) {
        s.error("id", "duplicate shared meter id '" + *v + "'");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = s.string("master", Need::required)) m.master = *v;
    else ok = false;
    if (auto v = s.string_list("subs")) m.subs = *v;
    else if (s.has("subs")) ok = false;
    if (auto v = s.string("tariff", Need::required)) m.tariff = *v;
    else ok = false;
    if (auto v = s.one_of("basis", {"area", "headcount", "usage", "equal"}, Need::required)) {
      m.basis = *v == "area"        ? AllocationBasis::area
                : *v == "headcount" ? AllocationBasis::headcount
                : *v == "usage"     ? AllocationBasis::usage
                                    : AllocationBasis::equal;
    } else {
      ok = false;
    }
    if (auto v = s.string_list("rooms", Need::required)) {
      m.rooms = *v;
      if (v->empty()) {
        s.error("rooms", "needs at least one room");
        ok = false;
      }
      std::set<std::string> seen;
      for (const auto& r : *v) {
        if (!seen.insert(r).second) {
          s.error("rooms", "room '" + r + "' is listed twice");
          ok = false;
        }
      }
    } else {
      ok = false;
    }
    if (m.basis == AllocationBasis::usage && ok && m.subs.size() != m.rooms.size()) {
      s.error("subs", "basis usage weighs each room by its sub-meter: subs and rooms must pair "
                      "up one to one");
      ok = false;
    }
    if (auto v = decimal_key(s, "loss_alert_percent", 2, 0, 10000, Need::optional,
                             "loss_alert_percent")) {
      m.loss_alert_e2 = *v;
    } else if (s.has("loss_alert_percent")) {
      ok = false;
    }
    if (!period_key(s, "period", m.period_minutes)) ok = false;
    if (!local_time_key(s, "allocate_at", m.allocate_at_minute)) ok = false;
    s.finish();
    if (ok) out.push_back(std::move(m));
  }
}

void parse_bills(Section& document, std::optional<BillsPolicy>& out) {
  auto s = document.map("bills");
  if (!s) return;
  BillsPolicy p;
  p.origin = s->location();
  bool ok = period_key(*s, "period", p.period_minutes);
  if (!local_time_key(*s, "issue_at", p.issue_at_minute)) ok = false;
  if (auto v = s->integer("due_days", 0, 365)) p.due_days = static_cast<int>(*v);
  else if (s->has("due_days")) ok = false;
  s->finish();
  if (ok) out = p;
}

void parse_late_fees(Section& document, std::optional<LateFeePolicy>& out) {
  auto s = document.map("late_fees");
  if (!s) return;
  LateFeePolicy p;
  bool ok = true;
  if (auto v = decimal_key(*s, "daily_rate", 6, 0, 1'000'000, Need::required, "daily_rate")) {
    p.daily_rate_e6 = *v;
  } else {
    ok = false;
  }
  if (auto v = s->integer("grace_days", 0, 3650)) p.grace_days = static_cast<int>(*v);
  else if (s->has("grace_days")) ok = false;
  if (auto v = decimal_key(*s, "cap_percent", 2, 0, 100000, Need::optional, "cap_percent")) {
    p.cap_percent_e2 = *v;
  } else if (s->has("cap_percent")) {
    ok = false;
  }
  s->finish();
  if (ok) out = p;
}

void parse_arrears(Section& document, ArrearsPolicy& out) {
  auto s = document.map("arrears");
  if (!s) return;
  int previous = 0;
  for (auto& r : s->list_of_maps("levels", Need::required)) {
    ArrearsLevelRule rule;
    bool ok = true;
    if (auto v = r.integer("level", 1, 99, Need::required)) {
      rule.level = static_cast<int>(*v);
      if (rule.level <= previous) {
        r.error("level", "levels must be strictly increasing");
        ok = false;
      }
      previous = std::max(previous, rule.level);
    } else {
      ok = false;
    }
    if (auto v = r.integer("min_days", 0, 36500, Need::required)) rule.min_days = static_cast<int>(*v);
    else ok = false;
    if (auto v = r.integer("min_fen", 0, max_fen, Need::required)) rule.min_fen = *v;
    else ok = false;
    if (auto list = r.string_list("actions", Need::required)) {
      for (const auto& a : *list) {
        if (a == "warn") rule.actions |= warn;
        else if (a == "charge_as_visitor") rule.actions |= charge_as_visitor;
        else if (a == "deny_gate") rule.actions |= deny_gate;
        else if (a == "close_valve") rule.actions |= close_valve;
        else {
          r.error("actions", "unknown action '" + a +
                                 "' (known: warn, charge_as_visitor, deny_gate, close_valve)");
          ok = false;
        }
      }
    } else {
      ok = false;
    }
    r.finish();
    if (ok) out.levels.push_back(rule);
  }
  s->finish();
}

void validate_tariffs_section(Section& document) {
  std::vector<Tariff> out;
  parse_tariffs(document, out);
}
void validate_accounts_section(Section& document) {
  std::vector<Account> out;
  parse_accounts(document, out);
}
void validate_shared_meters_section(Section& document) {
  std::vector<SharedMeter> out;
  parse_shared_meters(document, out);
}
void validate_bills_section(Section& document) {
  std::optional<BillsPolicy> out;
  parse_bills(document, out);
}
void validate_late_fees_section(Section& document) {
  std::optional<LateFeePolicy> out;
  parse_late_fees(document, out);
}
void validate_arrears_section(Section& document) {
  ArrearsPolicy out;
  parse_arrears(document, out);
}

std::optional<BillingConfig> billing_config_from(const config::SiteConfig& site,
                                                 config::Diagnostics& diag) {
  BillingConfig c;
  const std::size_t errors_before = diag.errors().size();
  auto each = [&](std::string_view key, auto&& fn) {
    auto it = site.domain_sections.find(std::string(key));
    if (it == site.domain_sections.end()) return;
    for (const auto& part : it->second) {
      YAML::Node doc(YAML::NodeType::Map);
      doc[std::string(key)] = part.node;
      Section s(doc, part.file, "", diag);
      fn(s);
    }
  };
  each("tariffs", [&](Section& s) { parse_tariffs(s, c.tariffs); });
  each("accounts", [&](Section& s) { parse_accounts(s, c.accounts); });
  each("shared_meters", [&](Section& s) { parse_shared_meters(s, c.shared_meters); });
  each("bills", [&](Section& s) { parse_bills(s, c.bills); });
  each("late_fees", [&](Section& s) { parse_late_fees(s, c.late_fees); });
  each("arrears", [&](Section& s) { parse_arrears(s, c.arrears); });

  // Cross-file and cross-section checks.
  std::map<std::string, config::Location> seen;
  for (const auto& t : c.tariffs) {
    auto [it, fresh] = seen.emplace(t.id, t.origin);
    if (!fresh) diag.error(t.origin, "tariffs." + t.id, "duplicate tariff id; first defined at " + it->second.to_string());
  }
  seen.clear();
  std::map<std::string, std::string> meter_room;
  for (auto& a : c.accounts) {
    auto [it, fresh] = seen.emplace(a.room, a.origin);
    if (!fresh) diag.error(a.origin, "accounts." + a.room, "duplicate room; first defined at " + it->second.to_string());
    for (auto& m : a.meters) {
      const std::string path = "accounts." + a.room + ".meters." + m.meter;
      const auto* dev = site.find_device(m.meter);
      if (!dev || dev->kind != config::DeviceKind::meter) {
        diag.error(m.origin, path, "no meter device with id '" + m.meter + "'");
      } else if (!m.on_zero) {
        m.on_zero = dev->valve_policy == "close_on_zero" ? OnZero::close : OnZero::warn;
      }
      if (!c.find_tariff(m.tariff)) diag.error(m.origin, path + ".tariff", "no tariff with id '" + m.tariff + "'");
      auto [mit, mfresh] = meter_room.emplace(m.meter, a.room);
      if (!mfresh) diag.error(m.origin, path, "meter already bills to room '" + mit->second + "'");
    }
  }
  for (const auto& s : c.shared_meters) {
    const std::string path = "shared_meters." + s.id;
    for (const auto* id : {&s.master}) {
      if (!site.find_device(*id)) diag.error(s.origin, path + ".master", "no meter device with id '" + *id + "'");
    }
    for (const auto& id : s.subs) {
      if (!site.find_device(id)) diag.error(s.origin, path + ".subs", "no meter device with id '" + id + "'");
    }
    for (const auto& r : s.rooms) {
      if (!c.find_account(r)) diag.error(s.origin, path + ".rooms", "no account for room '" + r + "'");
    }
    if (!c.find_tariff(s.tariff)) diag.error(s.origin, path + ".tariff", "no tariff with id '" + s.tariff + "'");
  }
  if (diag.errors().size() != errors_before) return std::nullopt;
  return c;
}

std::string arrears_actions_text(unsigned actions) {
  std::string out;
  auto add = [&](unsigned bit, const char* name) {
    if (actions & bit) out += (out.empty() ? "" : ",") + std::string(name);
  };
  add(warn, "warn");
  add(charge_as_visitor, "charge_as_visitor");
  add(deny_gate, "deny_gate");
  add(close_valve, "close_valve");
  return out;
}

}  // namespace estate::billing
