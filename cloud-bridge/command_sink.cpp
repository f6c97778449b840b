#include "cloud-bridge/command_sink.hpp"

namespace estate::cloud_bridge {

std::string encode_ack(const CommandAck& ack, const std::string& ts) {
  nlohmann::ordered_json j;
  j["v"] = 1;
  if (ack.id) j["id"] = *ack.id;
  else j["id"] = nullptr;
  j["command"] = ack.command;
  j["ok"] = ack.ok;
  if (!ack.ok) j["error"] = ack.error;
  j["ts"] = ts;
  if (ack.ok && !ack.result.is_null()) j["result"] = ack.result;
  // Ids and errors may quote hostile input: replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace estate::cloud_bridge
