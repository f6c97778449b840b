// The demo site: an embedded site config (YAML, shown by `estate-edge demo --print-config`)
// for a simulated compound. Other simulated devices join through daemon/wiring.cpp.
#pragma once

#include <string_view>

namespace estate::demo {

// Valid YAML for load_site_config_text(); mqtt.url is filled in by the demo command.
std::string_view demo_site_yaml();

}  // namespace estate::demo
