#include "daemon/config/domain_sections.hpp"
#include "daemon/demo/demo_section.hpp"

#include <array>
#include <map>
#include <string>
#include <utility>

#include "daemon/billing/billing_config.hpp"
#include "daemon/access/access_config.hpp"
#include "daemon/audit/security_config.hpp"
#include "daemon/kiosk/kiosk_config.hpp"
#include "daemon/parking/fee_rules.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::config {

namespace {
// One line per domain section; the validators live with their domain.
const std::array<DomainSectionSpec, 11> specs{{
    {"demo", &demo::validate_demo_section},
    {"tariffs", &billing::validate_tariffs_section},
    {"accounts", &billing::validate_accounts_section},
    {"shared_meters", &billing::validate_shared_meters_section},
    {"bills", &billing::validate_bills_section},
    {"late_fees", &billing::validate_late_fees_section},
    {"arrears", &billing::validate_arrears_section},
    {"parking_rules", &parking::validate_parking_rules_section},
    {"access", &access::validate_access_section},
    {"security", &audit::validate_security_section},
    {"kiosk", &kiosk::validate_kiosk_section},
}};
}  // namespace

std::span<const DomainSectionSpec> domain_section_specs() { return specs; }

void cross_check_domains(const SiteConfig& config, Diagnostics& diag) {
  // Tariff ids unique across files, account and shared meters are configured meters with a
  // known tariff, one account per meter, rooms unique.
  (void)billing::billing_config_from(config, diag);
  // Parking rule ids unique across files (within one file the section's parser checks them).
  if (auto it = config.domain_sections.find("parking_rules"); it != config.domain_sections.end()) {
    std::map<std::string, std::pair<Location, std::string>> seen;  // id -> (where, file)
    for (const auto& part : it->second) {
      if (!part.node.IsSequence()) continue;
      for (const auto& rule : part.node) {
        if (!rule.IsMap() || !rule["id"] || !rule["id"].IsScalar()) continue;
        const auto id = rule["id"].as<std::string>();
        const auto mark = rule["id"].Mark();
        Location where{part.file, mark.line + 1, mark.column + 1};
        auto [first, fresh] = seen.emplace(id, std::make_pair(where, part.file));
        if (!fresh && first->second.second != part.file) {
          diag.error(where, "parking_rules." + id,
                     "duplicate parking rule id; first defined at " +
                         first->second.first.to_string());
        }
      }
    }
  }
  // A working but open door: the platform's commands would be obeyed from anyone who can
  // publish on the broker.
  if (!config.mqtt.url.empty() &&
      audit::security_config_of(config).commands.platform_public_keys.empty()) {
    diag.warning(config.mqtt.origin, "security.platform_public_keys",
                 "not set: commands from the platform (gate-open, topup, valve, config ...) are "
                 "obeyed without a signature; list the platform's Ed25519 key (docs/security.md)");
  }
}

void for_each_domain_section(const SiteConfig& config, std::string_view key,
                             const std::function<void(Section& document)>& read) {
  auto it = config.domain_sections.find(std::string(key));
  if (it == config.domain_sections.end()) return;
  for (const auto& part : it->second) {
    Diagnostics diag;
    YAML::Node doc(YAML::NodeType::Map);
    doc[std::string(key)] = part.node;
    Section s(doc, part.file, "", diag);
    read(s);
  }
}

}  // namespace estate::config
