// The topic contract with the platform (docs/mqtt-api.md): everything under
// estate/<site>/<gateway>/. Uplink streams: readings, events, transactions, acks, state.
// Downlink: cmd/<name>.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace estate::cloud_bridge {

class Topics {
 public:
  Topics(std::string site, std::string gateway);

  std::string stream(std::string_view name) const;  // estate/<site>/<gateway>/<name>
  std::string state() const { return stream("state"); }
  std::string acks() const { return stream("acks"); }
  std::string command_filter() const { return prefix_ + "cmd/+"; }
  // "tariffs" for estate/<site>/<gateway>/cmd/tariffs; nullopt for any other topic.
  std::optional<std::string> command_name(std::string_view topic) const;

 private:
  std::string prefix_;  // "estate/<site>/<gateway>/"
};

}  // namespace estate::cloud_bridge
