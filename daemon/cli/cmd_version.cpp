#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"

namespace estate::cli {

void add_version_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version of estate-edge");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([json] {
    if (*json) {
      std::cout << nlohmann::json{{"version", ESTATE_EDGE_VERSION}}.dump() << "\n";
    } else {
      std::cout << "estate-edge " << ESTATE_EDGE_VERSION << "\n";
    }
  });
}

}  // namespace estate::cli
