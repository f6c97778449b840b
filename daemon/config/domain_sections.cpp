#include "daemon/config/domain_sections.hpp"

#include <array>

namespace estate::config {

namespace {
// One line per domain section; the validators live with their domain.
const std::array<DomainSectionSpec, 0> specs{{
}};
}  // namespace

std::span<const DomainSectionSpec> domain_section_specs() { return specs; }

}  // namespace estate::config
