#include "daemon/kiosk/kiosk_config.hpp"

#include "daemon/config/domain_sections.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::kiosk {

namespace {

void parse_into(config::Section& document, KioskConfig& c) {
  auto s = document.map("kiosk");
  if (!s) return;
  if (auto v = s->integer("qr_answer_timeout_ms", 1000, 600000)) {
    c.qr_answer_timeout = std::chrono::milliseconds(*v);
  }
  if (auto v = s->integer("qr_query_interval_ms", 200, 3600000)) {
    c.qr_query_interval = std::chrono::milliseconds(*v);
  }
  s->finish();
}

}  // namespace

void validate_kiosk_section(config::Section& document) {
  KioskConfig c;
  parse_into(document, c);
}

KioskConfig kiosk_config_of(const config::SiteConfig& site) {
  KioskConfig c;
  config::for_each_domain_section(site, "kiosk", [&c](config::Section& s) { parse_into(s, c); });
  return c;
}

}  // namespace estate::kiosk
