#include "cloud-bridge/topics.hpp"

namespace estate::cloud_bridge {

Topics::Topics(std::string site, std::string gateway)
    : prefix_("estate/" + site + "/" + gateway + "/") {}

std::string Topics::stream(std::string_view name) const { return prefix_ + std::string(name); }

std::optional<std::string> Topics::command_name(std::string_view topic) const {
  const std::string cmd = prefix_ + "cmd/";
  if (topic.size() <= cmd.size() || topic.substr(0, cmd.size()) != cmd) return std::nullopt;
  auto name = topic.substr(cmd.size());
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(name);
}

}  // namespace estate::cloud_bridge
