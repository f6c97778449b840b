#include "daemon/cli/cli.hpp"

namespace estate::cli {

void add_version_command(CLI::App& app);
void add_check_config_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_status_command(CLI::App& app);
void add_decode_command(CLI::App& app);

void register_commands(CLI::App& app) {
  add_version_command(app);
  add_check_config_command(app);
  add_run_command(app);
  add_status_command(app);
  add_decode_command(app);
}

}  // namespace estate::cli
