#include "daemon/cli/decode/cjt188_json.hpp"

#include <cstdio>

#include "protocols/cjt188/cjt188.hpp"

namespace estate::cli {

namespace cjt = protocols::cjt188;
using nlohmann::ordered_json;

namespace {

std::string_view kind_name(cjt::Message::Kind k) {
  using K = cjt::Message::Kind;
  switch (k) {
    case K::read_request:
    case K::read_response: return "read_data";
    case K::read_address_request:
    case K::read_address_response: return "read_address";
    case K::valve_request:
    case K::valve_response: return "valve_control";
    case K::write_request:
    case K::write_response: return "write_data";
    case K::error_response: return "error";
    case K::other: break;
  }
  return "other";
}

std::string hex4(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(v));
  return buf;
}

ordered_json status_json(const cjt::Status& s) {
  return {{"raw", protocols::to_hex(s.bytes)},
          {"valve", cjt::to_string(s.valve())},
          {"battery_low", s.battery_low()}};
}

}  // namespace

protocols::Result<ordered_json> decode_cjt188_json(std::span<const std::uint8_t> bytes,
                                                   const DecodeOptions&) {
  auto decoded = cjt::decode(bytes);
  if (!decoded) return decoded.error();
  const auto& m = *decoded;
  const auto& f = m.frame;
  ordered_json j;
  j["type"] = protocols::to_hex(std::span(&f.type, 1));
  if (auto name = cjt::meter_type_name(f.type)) {
    j["type_name"] = *name;
  } else {
    j["type_name"] = nullptr;
  }
  j["address"] = cjt::format_address(f.address);
  j["control"] = protocols::hex_byte(f.control);
  j["direction"] = f.is_response() ? "response" : "request";
  j["function"] = kind_name(m.kind);
  if (m.di) {
    j["di"] = hex4(*m.di);
    if (auto name = cjt::di_name(*m.di)) j["di_name"] = *name;
    if (m.di_low_byte_first) j["di_low_byte_first"] = true;
  }
  if (m.ser) j["ser"] = *m.ser;
  if (!m.quantities.empty()) {
    auto values = ordered_json::array();
    for (const auto& q : m.quantities) {
      ordered_json v;
      v["name"] = q.name;
      v["value"] = q.number ? ordered_json(*q.number) : ordered_json(nullptr);
      v["unit"] = q.unit;
      v["raw"] = q.raw;
      if (q.unit_code) v["unit_code"] = protocols::hex_byte(*q.unit_code);
      values.push_back(std::move(v));
    }
    j["values"] = std::move(values);
  }
  if (!m.meter_time_raw.empty()) {
    j["meter_time"] = m.meter_time ? ordered_json(m.meter_time->iso8601()) : ordered_json(nullptr);
    if (!m.meter_time) j["meter_time_raw"] = m.meter_time_raw;
  }
  if (m.settlement_day) j["settlement_day"] = *m.settlement_day;
  if (m.valve_action) {
    const auto a = *m.valve_action;
    j["valve_action"] = a == static_cast<std::uint8_t>(cjt::ValveAction::open)    ? "open"
                        : a == static_cast<std::uint8_t>(cjt::ValveAction::close) ? "close"
                                                                                   : "vendor";
    j["valve_action_code"] = protocols::hex_byte(a);
  }
  if (m.status) j["status"] = status_json(*m.status);
  if (!m.extra.empty()) j["extra"] = protocols::to_hex(m.extra);
  return j;
}

}  // namespace estate::cli
