// The site's access policy: the top-level `access` section of a site config (docs/parking.md):
//   access:
//     arrears:                 # arrears level -> warn | charge_as_visitor | deny
//       1: warn
//       2: charge_as_visitor
//       3: deny
//     anti_passback: true      # a credential inside must exit before it enters again
//     anti_tailgate: true      # one passage per open: close as soon as the loop clears
//     visitor_rule: visitor    # parking rule charged to visitors and charge_as_visitor
//     unknown_plates: visitor  # visitor (let in, charged) | deny (a residents-only barrier)
//     qr_pass_public_key: 64 hex digits  # the platform's Ed25519 key of signed QR passes
// A level not listed takes the policy of the nearest lower listed level; level 0 (no arrears)
// is never restricted. Nothing is hard-coded: with no `arrears` key, arrears only warn.
// Immutable after loading; safe to share between threads.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config/section.hpp"
#include "daemon/access/signed_pass.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::access {

enum class ArrearsAction { none, warn, charge_as_visitor, deny };

struct AccessConfig {
  std::map<int, ArrearsAction> arrears;  // level (1..99) -> action
  bool anti_passback = false;
  bool anti_tailgate = false;
  std::string visitor_rule = "visitor";
  bool deny_unknown_plates = false;  // unknown_plates: deny
  int utc_offset_minutes = 480;  // site.utc_offset: how reasons write times
  std::string site_id;           // site.id: a signed pass must name it
  std::shared_ptr<const PassVerifier> qr_passes;  // null: signed passes are refused
  // security.privacy.key_file: the key of the credential hashes kept in the store; empty = the
  // gateway's own key, made once in the state directory (privacy.key). Read at start only.
  std::filesystem::path privacy_key_file;

  // The action for an arrears level under the rule above.
  ArrearsAction action_for(int level) const;
};

// Reads `access` from a whole document; problems go to its Diagnostics.
AccessConfig parse_access_section(config::Section& document);
// The domain-section validator registered in daemon/config/domain_sections.cpp.
void validate_access_section(config::Section& document);
// The effective access config of a loaded site (later files override earlier keys).
AccessConfig access_config_of(const config::SiteConfig& site);

std::string_view to_string(ArrearsAction a);

}  // namespace estate::access
