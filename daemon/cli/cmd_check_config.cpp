#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::cli {

void add_check_config_command(CLI::App& app) {
  struct Options {
    std::string file;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("check-config",
                                 "Validate a site config file and its conf.d/ drop-ins");
  cmd->add_option("file", o->file, "Site config file (YAML)")->required();
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  cmd->callback([o] {
    config::Diagnostics diag;
    auto cfg = config::load_site_config(o->file, diag);
    if (o->json) {
      nlohmann::json j;
      j["ok"] = cfg.has_value();
      j["errors"] = nlohmann::json::array();
      for (const auto& e : diag.errors()) {
        j["errors"].push_back({{"file", e.where.file}, {"line", e.where.line},
                               {"column", e.where.column}, {"key", e.key_path},
                               {"message", e.message}});
      }
      j["warnings"] = nlohmann::json::array();
      for (const auto& w : diag.warnings()) {
        j["warnings"].push_back({{"file", w.where.file}, {"line", w.where.line},
                                 {"column", w.where.column}, {"key", w.key_path},
                                 {"message", w.message}});
      }
      if (cfg) {
        j["site"] = cfg->site.id;
        j["gateway"] = cfg->gateway.id;
        j["buses"] = cfg->buses.size();
        j["devices"] = cfg->devices.size();
        j["files"] = cfg->files.size();
      }
      std::cout << j.dump(2) << "\n";
    } else if (cfg) {
      std::cerr << diag.warnings_to_string();
      std::cout << o->file << ": ok (site " << cfg->site.id << ", gateway " << cfg->gateway.id
                << ", " << cfg->buses.size() << " buses, " << cfg->devices.size()
                << " devices, " << cfg->files.size() << " files)\n";
    } else {
      std::cerr << diag.to_string();
      std::cerr << diag.warnings_to_string();
      std::cerr << diag.errors().size() << " error(s)\n";
    }
    if (!cfg) fail(exit_usage);
  });
}

}  // namespace estate::cli
