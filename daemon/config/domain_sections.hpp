// Top-level config sections owned by a domain (billing, parking, access...). Each domain
// validates its own section with the shared Section helpers; load_site_config calls it, so a
// site file is still validated in one pass with one set of file:line:column errors.
#pragma once

#include <span>
#include <string_view>

#include "daemon/config/section.hpp"

namespace estate::config {

struct DomainSectionSpec {
  std::string_view key;  // top-level key, e.g. "tariffs"
  // Validates one file's occurrence of the section; `section` wraps the whole document so the
  // validator reads `key` itself (list or mapping, as the domain defines).
  void (*validate)(Section& document);
};

std::span<const DomainSectionSpec> domain_section_specs();

struct SiteConfig;
// Checks across sections and files that a domain owns (billing's meters and tariffs exist, ...),
// run by load_site_config once every file parsed cleanly, so check-config catches what `run`
// would refuse at start.
void cross_check_domains(const SiteConfig& config, Diagnostics& diag);

}  // namespace estate::config
