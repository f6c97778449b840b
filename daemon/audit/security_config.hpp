// The site's `security` section (docs/security.md, docs/config.md):
//   security:
//     backup:
//       key_file: /etc/estate-edge/backup.key  # 32 bytes, raw or hex (head -c32 /dev/urandom)
//       dir: /var/backups/estate-edge          # scheduled daily backups; absent = none
//       daily_at: "03:30"                      # site local time (site.utc_offset)
//       keep: 7                                # newest backups kept in dir
//     privacy:
//       key_file: /etc/estate-edge/privacy.key # site key of card UID / plate hashes
//       access_event_retention_days: 180       # access events older than this are deleted
//     audit:
//       anchor_interval_s: 3600                # how often the chain head goes to the platform
//     platform_public_keys: [<64 hex>, ...]    # Ed25519 keys that sign platform commands
//     command_max_age_s: { default: 86400, gate-open: 60, valve: 60, relay: 60, parking-pay: 300 }
//     command_clock_skew_s: 60                 # issued_at may be this far in the future
// Relative paths are read from the directory of the file that names them.
// Immutable after loading; safe to share between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/section.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::audit {

struct SecurityConfig {
  struct Backup {
    std::filesystem::path key_file;
    std::filesystem::path dir;  // empty: no scheduled backups
    int hour = 3, minute = 30;  // daily, site local time
    int keep = 7;
  } backup;
  struct Privacy {
    std::filesystem::path key_file;
    int access_event_retention_days = 180;
  } privacy;
  struct Audit {
    std::chrono::seconds anchor_interval{3600};
  } audit;
  // Platform commands (docs/mqtt-api.md): the keys that sign them (validated 64-hex Ed25519
  // keys; empty: commands need no signature), max age by command name over the built-in ones
  // ("default" for the rest), and the clock skew allowed for issued_at.
  struct Commands {
    std::vector<std::string> platform_public_keys;
    std::map<std::string, std::int64_t, std::less<>> max_age_s;
    std::optional<std::int64_t> default_max_age_s;
    std::optional<std::int64_t> clock_skew_s;
  } commands;
};

// Reads `security` from a whole document; problems go to its Diagnostics.
SecurityConfig parse_security_section(config::Section& document);
// The domain-section validator registered in daemon/config/domain_sections.cpp.
void validate_security_section(config::Section& document);
// The effective security config of a loaded site (later files override earlier keys).
SecurityConfig security_config_of(const config::SiteConfig& site);

}  // namespace estate::audit
