#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "drivers/meter/model_registry.hpp"

namespace estate::cli {

void add_check_config_command(CLI::App& app) {
  struct Options {
    std::string file;
    bool json = false;
    bool verbose = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("check-config",
                                 "Validate a site config file and its conf.d/ drop-ins");
  cmd->add_option("file", o->file, "Site config file (YAML)")->required();
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  cmd->add_flag("-v,--verbose", o->verbose,
                "Also list the meter models and the file each came from (site models in "
                "/etc/estate-edge/models override the package's by name)");
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
    if (o->verbose && !o->json) {
      drivers::meter::ModelRegistry models;
      auto errors = models.load_default_dirs();
      std::cout << "models: " << drivers::meter::default_models_dir().string() << ", then "
                << drivers::meter::site_models_dir().string() << " (site, overrides)\n";
      for (const auto& n : models.names()) {
        std::cout << "model " << n << ": " << models.origin(n) << "\n";
      }
      for (const auto& e : errors) std::cerr << "model error: " << e.to_string() << "\n";
      if (!errors.empty()) fail(exit_usage);
    }
    if (!cfg) fail(exit_usage);
  });
}

}  // namespace estate::cli
