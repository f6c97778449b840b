#include "daemon/config/document_file.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace estate::config {

bool load_document_file(const std::filesystem::path& file, std::string_view key,
                        Diagnostics& diag, const std::function<void(Section& document)>& parse) {
  const std::string name = file.string();
  std::ifstream in(file);
  if (!in) {
    diag.error({name, 0, 0}, "", "cannot read the file");
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::ParserException& e) {
    diag.error({name, e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax: " + e.msg);
    return false;
  }
  Section doc(root, name, "", diag);
  if (!doc.expect_map()) return false;
  if (!doc.has(key)) {
    doc.error_here("no top-level '" + std::string(key) + ":' list");
    return false;
  }
  parse(doc);
  return diag.ok();
}

}  // namespace estate::config
