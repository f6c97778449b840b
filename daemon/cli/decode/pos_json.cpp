#include "daemon/cli/decode/pos_json.hpp"

#include "protocols/pos/ecr.hpp"

namespace estate::cli {

namespace ecr = protocols::pos;
using nlohmann::ordered_json;

protocols::Result<ordered_json> decode_pos_json(std::span<const std::uint8_t> bytes,
                                                const DecodeOptions& options) {
  const auto* p = ecr::find_protocol(options.model.empty() ? ecr::default_protocol
                                                           : std::string_view(options.model));
  if (!p) {
    return protocols::decode_error("unknown POS protocol '" + options.model + "' (known: " +
                                       ecr::known_protocols() + ")",
                                   0);
  }
  ordered_json j{{"protocol", p->name}};
  if (bytes.size() == 1 && (bytes[0] == p->ack || bytes[0] == p->nak)) {
    j["control"] = bytes[0] == p->ack ? "ACK" : "NAK";
    return j;
  }
  auto m = ecr::decode(*p, bytes);
  if (!m) return m.error();
  const auto* layout = ecr::find_message(*p, m->command);
  j["command"] = m->command;
  j["message"] = layout ? layout->meaning : "";
  ordered_json fields = ordered_json::object();
  for (const auto& [k, v] : m->fields) {
    fields[k] = (k == "account") ? ecr::mask_card_number(v) : v;
  }
  j["fields"] = fields;
  if (auto code = m->get("code")) {
    auto use = m->command == p->query_response  ? ecr::Use::query
               : m->command == p->void_response ? ecr::Use::void_
                                                : ecr::Use::sale;
    const auto* c = ecr::find_code(*p, *code);
    j["result"] = {{"code", *code},
                   {"meaning", c ? c->meaning : "not in the protocol's table"},
                   {"class", ecr::to_string(ecr::classify(*p, use, *code))}};
  }
  return j;
}

}  // namespace estate::cli
