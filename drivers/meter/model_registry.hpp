// The registry of Modbus meter models: register maps loaded from YAML data files
// (config/models/*.yaml), one model per file, looked up by name. Adding a meter model means
// adding one file; a second file with the same model name is rejected with both locations.
//
// File format (all keys; unknown keys are errors):
//   name: eastron-sdm630              # registry key, unique
//   manufacturer: Eastron
//   description: ...
//   source: ...                       # where the register table comes from
//   function: input                   # input (04) | holding (03)
//   word_order: big                   # default for points: big (high word first) | little
//   max_registers: 80                 # optional, per read request (default 125)
//   points:
//     - {name: voltage_l1, register: 0x0000, type: float32, unit: V, quantity: voltage_l1,
//        scale: 1, offset: 0, word_order: big}
//     - {name: import_active_energy, register: 0x0048, type: float32, unit: kWh,
//        quantity: active_energy_import, billed: true}
//
// `scale` and `offset` (value = raw x scale + offset) are plain decimals, kept exactly as written
// ("0.01", "-40"); exponent notation ("1e-3") is rejected.
// `quantity` names an entry of the quantity vocabulary (drivers/meter/quantity.hpp), at most one
// point per quantity, and `unit` must be one of that entry's units (default: its reference unit). `billed: true` marks the
// register billing charges from: exactly one cumulative point of a model that has any
// cumulative point; a model without one (a power analyser) has none and is never billed.
//
// Thread-safety: loading mutates the registry and must not run concurrently with anything
// else; after loading, the const member functions may be called from any thread.
// Errors are returned as values, each naming file:line:column and the key.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/modbus/register_map.hpp"

namespace estate::drivers::meter {

struct ModelError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string key;  // e.g. "points[3].type"; empty for file-level problems
  std::string message;
  // "sdm630.yaml:12:11: points[3].type: unknown type 'f32' (u16, s16, ...)"
  std::string to_string() const;
};

class ModelRegistry {
 public:
  // Loads every *.yaml / *.yml file of `dir` in name order. Returns all errors found; models
  // from files without errors are added even when another file fails.
  std::vector<ModelError> load_directory(const std::filesystem::path& dir);
  // The package's models (default_models_dir()), then the site's (site_models_dir(); missing is
  // fine): a site file overrides a package model of the same name, and is never lost on upgrade.
  std::vector<ModelError> load_default_dirs();
  // Where a model came from ("file:line" of its name); "" when unknown.
  std::string origin(std::string_view name) const;
  std::vector<ModelError> load_file(const std::filesystem::path& file);
  // Parses YAML text; `file` is the name used in error messages.
  std::vector<ModelError> load_text(std::string_view text, const std::string& file);

  const protocols::modbus::ModelDef* find(std::string_view name) const;
  std::vector<std::string> names() const;
  std::size_t size() const { return models_.size(); }

 private:
  struct Entry {
    protocols::modbus::ModelDef model;
    std::string origin;  // file:line of its name
    bool site = false;   // from the site's directory (overrides the package's)
  };
  bool loading_site_ = false;
  std::map<std::string, Entry, std::less<>> models_;
};

// Where the model files are: $ESTATE_EDGE_MODELS_DIR if set; else /usr/share/estate-edge/models
// if it exists (the installed package); else the source tree's config/models.
std::filesystem::path default_models_dir();
// The site's own models: $ESTATE_EDGE_SITE_MODELS_DIR if set; else /etc/estate-edge/models.
std::filesystem::path site_models_dir();

}  // namespace estate::drivers::meter
