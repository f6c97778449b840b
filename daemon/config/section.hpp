// A typed, validating view of one YAML mapping. Every getter marks its key as known;
// finish() reports the keys nobody asked for (misspellings) with their file:line:column.
// Problems go to the shared Diagnostics; getters return std::nullopt (or a default) on error,
// so one pass reports every problem of a file. Not thread-safe; used while loading only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/diagnostics.hpp"

namespace estate::config {

enum class Need { optional, required };

class Section {
 public:
  Section(YAML::Node node, std::string file, std::string path, Diagnostics& diag);

  // False (and an error reported) when the node is not a mapping.
  bool expect_map();

  bool has(std::string_view key) const;
  std::optional<std::string> string(std::string_view key, Need need = Need::optional);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      Need need = Need::optional);
  std::optional<bool> boolean(std::string_view key, Need need = Need::optional);
  std::optional<std::string> one_of(std::string_view key,
                                    std::initializer_list<std::string_view> choices,
                                    Need need = Need::optional);
  // A decimal written as a string or a plain YAML number, kept as its exact text.
  std::optional<std::string> decimal_text(std::string_view key, Need need = Need::optional);
  std::optional<Section> map(std::string_view key, Need need = Need::optional);
  std::vector<Section> list_of_maps(std::string_view key, Need need = Need::optional);
  std::optional<std::vector<std::string>> string_list(std::string_view key,
                                                      Need need = Need::optional);
  // Marks a key as known without reading it (the caller handles it through node()).
  void accept(std::string_view key);

  void error(std::string_view key, std::string message);  // at the key's value
  void error_here(std::string message);                   // at this mapping
  void finish();                                          // unknown keys -> errors

  Location location() const;
  Location location_of(std::string_view key) const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  std::string child_path(std::string_view key) const;
  const YAML::Node& node() const { return node_; }
  Diagnostics& diagnostics() const { return *diag_; }

 private:
  std::optional<YAML::Node> scalar(std::string_view key, Need need);

  YAML::Node node_;
  std::string file_;
  std::string path_;
  Diagnostics* diag_;
  std::set<std::string, std::less<>> known_;
};

Location location_of(const YAML::Node& node, const std::string& file);

}  // namespace estate::config
