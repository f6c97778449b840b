// Top-level config sections owned by a domain (billing, parking, access...). Each domain
// validates its own section with the shared Section helpers; load_site_config calls it, so a
// site file is still validated in one pass with one set of file:line:column errors.
#pragma once

#include <functional>
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

// Each file's occurrence of the section `key`, in file order, wrapped as the document its
// validator read, for the domain's parser. Already validated at load: errors go to a Diagnostics
// of their own, so reading stays free of side effects.
void for_each_domain_section(const SiteConfig& config, std::string_view key,
                             const std::function<void(Section& document)>& read);

}  // namespace estate::config
