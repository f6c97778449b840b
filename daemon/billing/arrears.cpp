#include "daemon/billing/arrears.hpp"

#include <nlohmann/json.hpp>

namespace estate::billing {

ArrearsLevel compute_arrears_level(const ArrearsPolicy& p, int days_overdue, Fen overdue_fen) {
  ArrearsLevel out;
  out.overdue_fen = std::max<Fen>(0, overdue_fen);
  out.days_overdue = std::max(0, days_overdue);
  if (out.overdue_fen <= 0) return out;
  for (const auto& r : p.levels) {
    if (out.days_overdue >= r.min_days && out.overdue_fen >= r.min_fen && r.level > out.level) {
      out.level = r.level;
      out.actions = r.actions;
      out.source = ArrearsLevel::Source::computed;
    }
  }
  return out;
}

ArrearsListParse parse_arrears_list(std::string_view text, const ArrearsPolicy& policy) {
  ArrearsListParse out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    out.error = std::string("not JSON: ") + e.what();
    return out;
  }
  if (!j.is_object()) {
    out.error = "expected a JSON object";
    return out;
  }
  ArrearsList list;
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() <= 0) {
    out.error = "version: a positive integer is required";
    return out;
  }
  list.version = v->get<std::int64_t>();
  auto rooms = j.find("rooms");
  if (rooms == j.end() || !rooms->is_array()) {
    out.error = "rooms: a list is required";
    return out;
  }
  for (std::size_t i = 0; i < rooms->size(); ++i) {
    const auto& e = (*rooms)[i];
    const std::string where = "rooms[" + std::to_string(i) + "]";
    if (!e.is_object()) {
      out.error = where + ": expected an object with room and level";
      return out;
    }
    auto r = e.find("room");
    auto l = e.find("level");
    if (r == e.end() || !r->is_string() || r->get<std::string>().empty()) {
      out.error = where + ".room: a non-empty string is required";
      return out;
    }
    if (l == e.end() || !l->is_number_integer()) {
      out.error = where + ".level: an integer is required";
      return out;
    }
    const auto level = l->get<std::int64_t>();
    if (level != 0 && (level < 0 || level > 99 || !policy.find(static_cast<int>(level)))) {
      out.error = where + ".level: " + std::to_string(level) +
                  " is not a level of the site's arrears policy";
      return out;
    }
    if (!list.rooms.emplace(r->get<std::string>(), static_cast<int>(level)).second) {
      out.error = where + ".room: '" + r->get<std::string>() + "' is listed twice";
      return out;
    }
  }
  out.list = std::move(list);
  return out;
}

std::string_view to_string(ArrearsLevel::Source s) {
  switch (s) {
    case ArrearsLevel::Source::none: return "none";
    case ArrearsLevel::Source::computed: return "computed";
    case ArrearsLevel::Source::pushed: return "pushed";
  }
  return "?";
}

}  // namespace estate::billing
