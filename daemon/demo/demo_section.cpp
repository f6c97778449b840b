#include "daemon/demo/demo_section.hpp"

namespace estate::demo {

void validate_demo_section(config::Section& document) {
  auto s = document.map("demo");
  if (!s) return;
  s->integer("heartbeat_interval_ms", 1, 3'600'000);
  s->finish();
}

std::optional<DemoSettings> demo_settings(const config::SiteConfig& cfg) {
  auto it = cfg.domain_sections.find("demo");
  if (it == cfg.domain_sections.end() || it->second.empty()) return std::nullopt;
  DemoSettings s;
  for (const auto& occurrence : it->second) {
    const auto& n = occurrence.node;
    if (n.IsMap() && n["heartbeat_interval_ms"]) {
      s.heartbeat_interval = std::chrono::milliseconds(n["heartbeat_interval_ms"].as<std::int64_t>());
    }
  }
  return s;
}

}  // namespace estate::demo
