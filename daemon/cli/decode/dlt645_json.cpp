#include "daemon/cli/decode/dlt645_json.hpp"

#include "protocols/dlt645/dlt645.hpp"

namespace estate::cli {

namespace dlt = protocols::dlt645;
using nlohmann::ordered_json;

namespace {

std::string_view function_name(const dlt::Message& m) {
  using K = dlt::Message::Kind;
  switch (m.kind) {
    case K::read_request:
    case K::read_response:
      return m.frame.function() == dlt::control::kReadFollowUp ||
                     m.frame.function() == dlt::control::kReadFollowUp1997
                 ? "read_follow_up"
                 : "read";
    case K::read_address_request:
    case K::read_address_response:
      return "read_address";
    case K::time_sync:
      return "time_sync";
    case K::relay_control:
    case K::relay_control_response:
      return "relay_control";
    case K::error_response:
    case K::other:
      break;
  }
  switch (m.frame.function()) {
    case dlt::control::kRead:
    case dlt::control::kRead1997: return "read";
    case dlt::control::kReadFollowUp:
    case dlt::control::kReadFollowUp1997: return "read_follow_up";
    case dlt::control::kWrite:
    case dlt::control::kWrite1997: return "write";
    case dlt::control::kRelayControl: return "relay_control";
    case dlt::control::kReadAddress: return "read_address";
    default: return "other";
  }
}

ordered_json value_json(const dlt::Value& v) {
  if (v.number) return *v.number;
  if (v.text) return *v.text;
  return nullptr;
}

std::string plain_hex(std::span<const std::uint8_t> data) { return protocols::to_hex(data); }

}  // namespace

protocols::Result<ordered_json> decode_dlt645_json(std::span<const std::uint8_t> bytes,
                                                   const DecodeOptions&) {
  auto decoded = dlt::decode(bytes);
  if (!decoded) return decoded.error();
  const auto& m = *decoded;
  const auto& f = m.frame;
  ordered_json j;
  j["version"] = dlt::to_string(m.version);
  j["address"] = dlt::format_address(f.address);
  j["control"] = protocols::hex_byte(f.control);
  j["direction"] = f.is_response() ? "response" : "request";
  j["function"] = function_name(m);
  if (f.is_response()) j["follow_up"] = f.has_follow_up();

  using K = dlt::Message::Kind;
  if (m.di) {
    j["di"] = dlt::format_di(m.version, *m.di);
    j["name"] = m.info ? m.info->name : "unknown data identifier";
    j["unit"] = m.info ? m.info->unit : "";
  }
  if (m.seq) j["seq"] = *m.seq;
  switch (m.kind) {
    case K::read_response: {
      if (m.values.size() == 1 && (!m.info || m.info->max_count == 1 || m.length_mismatch)) {
        j["value"] = value_json(m.values[0]);
        j["raw"] = m.values[0].raw;
      } else {
        auto arr = ordered_json::array();
        for (const auto& v : m.values) {
          arr.push_back(ordered_json{{"value", value_json(v)}, {"raw", v.raw}});
        }
        j["values"] = std::move(arr);
      }
      if (m.length_mismatch && m.info) {
        j["note"] = "data length does not match the DI table (" + std::to_string(m.info->size) +
                    " bytes per value); shown raw";
      }
      // Status word 3 (DL/T 645-2007 A.5, 04000503): relay state in bit 4 (0 connected,
      // 1 disconnected), relay command in bit 6, pre-trip alarm in bit 7.
      if (m.di == 0x04000503u && m.values.size() == 1 && !m.length_mismatch) {
        const auto word = static_cast<unsigned>(std::stoul(m.values[0].raw, nullptr, 16));
        j["relay"] = {{"state", (word & 0x10) ? "disconnected" : "connected"},
                      {"command", (word & 0x40) ? "disconnect" : "connect"},
                      {"pre_trip_alarm", (word & 0x80) != 0}};
      }
      break;
    }
    case K::error_response:
      j["error"] = {{"code", protocols::hex_byte(*m.error)}, {"flags", dlt::error_flags(*m.error)}};
      break;
    case K::read_address_response:
      j["meter_address"] = dlt::format_address(*m.meter_address);
      break;
    case K::time_sync:
      j["time"] = m.time->iso8601();
      break;
    case K::relay_control:
      j["relay"] = {
          {"action", *dlt::relay_action_name(*m.relay_action)},
          {"password_level", m.password_level},
          {"password", m.password},
          {"operator", m.operator_code},
          {"valid_until", m.valid_until ? ordered_json(m.valid_until->iso8601()) : nullptr}};
      break;
    case K::other:
      j["data"] = plain_hex(f.data);
      break;
    case K::read_request:
    case K::read_address_request:
    case K::relay_control_response:
      break;
  }
  return j;
}

}  // namespace estate::cli
