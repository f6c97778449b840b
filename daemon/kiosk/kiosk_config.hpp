// The site config's `kiosk:` section (docs/config.md): how long the kiosk waits for the
// platform's answer to a QR payment-code payment and how often it asks again.
//   kiosk:
//     qr_answer_timeout_ms: 30000   # 1000..600000: then the payment is unknown and asked about
//     qr_query_interval_ms: 10000   # 200..3600000: how often an unknown one is asked again
// Validated where the config is read (the domain-section table, daemon/config/domain_sections),
// so check-config refuses a value out of range at its file:line:column.
// Thread-safety: plain values; validation runs while loading.
#pragma once

#include <chrono>

#include "daemon/config/section.hpp"

namespace estate::config {
struct SiteConfig;
}

namespace estate::kiosk {

struct KioskConfig {
  std::chrono::milliseconds qr_answer_timeout{30000};
  std::chrono::milliseconds qr_query_interval{10000};
};

// The domain-section validator registered in daemon/config/domain_sections.cpp.
void validate_kiosk_section(config::Section& document);
// The section as validated (defaults where absent).
KioskConfig kiosk_config_of(const config::SiteConfig& site);

}  // namespace estate::kiosk
