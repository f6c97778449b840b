// Downlink: what the bridge hands over when a message arrives on estate/<site>/<gateway>/cmd/<name>,
// and the acknowledgement it publishes on .../acks for it.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

namespace estate::cloud_bridge {

// {"v":1,"id":<command id>,"command":<name>,"ok":true|false,"error":"...","ts":...,"result":{...}}
// `id` is null when the message was refused before its id could be read (oversized, not JSON).
struct CommandAck {
  std::optional<std::string> id;
  std::string command;
  bool ok = false;
  std::string error;               // set when !ok
  nlohmann::ordered_json result;   // optional details when ok (null: omitted)
};

std::string encode_ack(const CommandAck& ack, const std::string& ts);

// Implemented by the daemon. on_command is called on the bridge's strand, one message at a time
// in arrival order; `reply` may be called later from any thread, exactly once.
class CommandSink {
 public:
  using Reply = std::function<void(CommandAck)>;
  virtual ~CommandSink() = default;
  virtual void on_command(const std::string& name, std::string payload, Reply reply) = 0;
};

}  // namespace estate::cloud_bridge
