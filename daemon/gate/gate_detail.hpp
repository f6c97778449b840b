// Small pieces the gate component's units share (gate_component.cpp, gate_routes.cpp,
// gate_downlinks.cpp). Internal to daemon/gate.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "daemon/access/service.hpp"
#include "daemon/gate/gate_component.hpp"

namespace estate::gate::detail {

inline std::int64_t now_utc() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline access::Lane lane_of(const std::string& s) {
  return s == "exit" ? access::Lane::exit : access::Lane::entry;
}

// A parking payment body: {"session": N, "amount_fen": N, "reference": text}. Returns the
// problem, or "" when the body is good.
inline std::string parse_payment(const nlohmann::json& body, std::initializer_list<std::string_view> also,
                          std::int64_t& session, std::int64_t& amount, std::string& reference) {
  if (!body.is_object()) return "expected a JSON object";
  for (auto& [k, v] : body.items()) {
    if (k == "session" || k == "amount_fen" || k == "reference") continue;
    if (std::find(also.begin(), also.end(), k) != also.end()) continue;
    return "unknown field '" + k.substr(0, 64) + "'";
  }
  auto s = body.find("session");
  if (s == body.end() || !s->is_number_integer() || s->get<std::int64_t>() <= 0) {
    return "session: expected the id of a parking session (an integer above 0)";
  }
  auto a = body.find("amount_fen");
  if (a == body.end() || !a->is_number_integer() || a->get<std::int64_t>() <= 0 ||
      a->get<std::int64_t>() > 1'000'000'000) {
    return "amount_fen: expected integer fen from 1 to 1000000000";
  }
  auto r = body.find("reference");
  if (r == body.end() || !r->is_string() || r->get_ref<const std::string&>().empty() ||
      r->get_ref<const std::string&>().size() > 128) {
    return "reference: expected the payment's reference (a string of 1 to 128 bytes)";
  }
  session = s->get<std::int64_t>();
  amount = a->get<std::int64_t>();
  reference = r->get<std::string>();
  return "";
}

}  // namespace estate::gate::detail
