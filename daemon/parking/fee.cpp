#include "daemon/parking/fee.hpp"


namespace estate::parking {

std::optional<FeeQuote> compute_fee(const FeeRule& rule, const Instant& entry, const Instant& exit,
                                    std::string_view vehicle_class, FeeError& error) {
  if (exit.utc_seconds < entry.utc_seconds) {
    error.message = "the exit time is before the entry time";
    return std::nullopt;
  }
  ClassPrices prices = rule.base_prices();
  if (!vehicle_class.empty()) {
    const ClassPrices* c = rule.find_class(vehicle_class);
    if (!c) {
      error.message = "rule '" + rule.id + "' has no vehicle class '" + std::string(vehicle_class) +
                      "'";
      return std::nullopt;
    }
    prices.unit_price_fen = c->unit_price_fen;
    if (c->night_unit_price_fen) prices.night_unit_price_fen = c->night_unit_price_fen;
    if (c->daily_cap_fen) prices.daily_cap_fen = c->daily_cap_fen;
    if (c->stay_cap_fen) prices.stay_cap_fen = c->stay_cap_fen;
  }

  FeeQuote q;
  q.rule_id = rule.id;
  q.vehicle_class = std::string(vehicle_class);
  q.entry = entry;
  q.exit = exit;
  q.duration_seconds = exit.utc_seconds - entry.utc_seconds;
  if (q.duration_seconds <= static_cast<std::int64_t>(rule.free_minutes) * 60) {
    q.free = true;
    return q;
  }

  const std::int64_t unit_s = static_cast<std::int64_t>(rule.unit_minutes) * 60;
  q.units = (q.duration_seconds + unit_s - 1) / unit_s;
  constexpr std::int64_t window_s = 24 * 3600;
  FeeWindow* w = nullptr;
  for (std::int64_t k = 0; k < q.units; ++k) {
    const std::int64_t offset = k * unit_s;
    const int index = static_cast<int>(offset / window_s);
    if (!w || w->index != index) {
      w = &q.windows.emplace_back();
      w->index = index;
      w->start_utc = entry.utc_seconds + index * window_s;
    }
    const std::int64_t start = entry.utc_seconds + offset;
    const bool night =
        rule.night && rule.night->contains(local_minute_of_day(start, entry.offset_minutes));
    const std::int64_t price = night ? *prices.night_unit_price_fen : prices.unit_price_fen;
    ++w->units;
    ++(night ? w->night_units : w->day_units);
    ++(night ? q.night_units : q.day_units);
    w->uncapped_fen += price;
  }
  std::int64_t total = 0;
  for (auto& win : q.windows) {
    q.uncapped_fen += win.uncapped_fen;
    win.charged_fen = win.uncapped_fen;
    if (prices.daily_cap_fen && win.uncapped_fen > *prices.daily_cap_fen) {
      win.charged_fen = *prices.daily_cap_fen;
      win.capped = true;
    }
    total += win.charged_fen;
  }
  if (prices.stay_cap_fen && total > *prices.stay_cap_fen) {
    total = *prices.stay_cap_fen;
    q.stay_capped = true;
  }
  q.fee_fen = total;
  return q;
}


nlohmann::ordered_json to_json(const FeeQuote& q) {
  nlohmann::ordered_json j;
  j["fee_fen"] = q.fee_fen;
  j["rule"] = q.rule_id;
  if (!q.vehicle_class.empty()) j["vehicle_class"] = q.vehicle_class;
  j["entry"] = format_iso8601(q.entry.utc_seconds, q.entry.offset_minutes);
  j["exit"] = format_iso8601(q.exit.utc_seconds, q.exit.offset_minutes);
  j["duration_seconds"] = q.duration_seconds;
  j["free"] = q.free;
  j["units"] = q.units;
  j["day_units"] = q.day_units;
  j["night_units"] = q.night_units;
  j["uncapped_fen"] = q.uncapped_fen;
  auto& ws = j["windows"] = nlohmann::ordered_json::array();
  for (const auto& w : q.windows) {
    ws.push_back({{"index", w.index},
                  {"start", format_iso8601(w.start_utc, q.entry.offset_minutes)},
                  {"units", w.units},
                  {"day_units", w.day_units},
                  {"night_units", w.night_units},
                  {"uncapped_fen", w.uncapped_fen},
                  {"charged_fen", w.charged_fen},
                  {"daily_capped", w.capped}});
  }
  j["stay_capped"] = q.stay_capped;
  return j;
}

}  // namespace estate::parking
