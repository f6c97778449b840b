// One YAML file read for the one top-level list a tool needs (`tariffs:` for `tariff quote`,
// `parking_rules:` for `parking fee`): the file is read, parsed, checked to be a mapping holding
// `key`, and handed to `parse` as the whole document (other top-level keys are left alone, so a
// site config works too). Every problem goes to `diag` with file:line:column:
//   "<file>: cannot read the file"              unreadable (no line)
//   "<file>:L:C: YAML syntax: ..."              at the parser's mark
//   "<file>:1:1: no top-level '<key>:' list"    the document has no such key
// Returns true only when the file was read and `diag` holds no error after `parse`.
// Thread-safety: none needed (a pure function of its arguments).
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

#include "daemon/config/section.hpp"

namespace estate::config {

bool load_document_file(const std::filesystem::path& file, std::string_view key,
                        Diagnostics& diag, const std::function<void(Section& document)>& parse);

}  // namespace estate::config
