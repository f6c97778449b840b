// The `demo:` config section (docs/config.md): the gateway heartbeat (daemon/runtime/heartbeat.hpp)
// at a demo's pace, with or without an uplink.
//   demo:
//     heartbeat_interval_ms: 1000   # 1 .. 3600000
#pragma once

#include <chrono>
#include <optional>

#include "daemon/config/section.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::demo {

struct DemoSettings {
  std::chrono::milliseconds heartbeat_interval{1000};
};

// Validator registered in daemon/config/domain_sections.cpp.
void validate_demo_section(config::Section& document);
// The settings when the config has a `demo:` section (a later file's keys win).
std::optional<DemoSettings> demo_settings(const config::SiteConfig& cfg);

}  // namespace estate::demo
