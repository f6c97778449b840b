#include "daemon/cli/cli.hpp"

namespace estate::cli {

void add_version_command(CLI::App& app);
void add_check_config_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_status_command(CLI::App& app);
void add_decode_command(CLI::App& app);

void add_parking_command(CLI::App& app);

void add_tariff_command(CLI::App& app);

void add_audit_command(CLI::App& app);
void add_backup_commands(CLI::App& app);

void add_demo_command(CLI::App& app);

void add_scan_command(CLI::App& app);
void add_read_command(CLI::App& app);
void add_valve_relay_commands(CLI::App& app);
void add_sign_command_command(CLI::App& app);

void register_commands(CLI::App& app) {
  add_demo_command(app);
  add_audit_command(app);
  add_backup_commands(app);
  add_tariff_command(app);
  add_version_command(app);
  add_check_config_command(app);
  add_run_command(app);
  add_status_command(app);
  add_decode_command(app);
  add_parking_command(app);
  add_scan_command(app);
  add_read_command(app);
  add_valve_relay_commands(app);
  add_sign_command_command(app);
}

}  // namespace estate::cli
