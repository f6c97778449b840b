#include "daemon/access/access_config.hpp"

#include <charconv>
#include <iterator>

#include "daemon/audit/security_config.hpp"
#include "daemon/config/domain_sections.hpp"

namespace estate::access {

ArrearsAction AccessConfig::action_for(int level) const {
  if (level <= 0) return ArrearsAction::none;
  auto it = arrears.upper_bound(level);
  if (it == arrears.begin()) return ArrearsAction::warn;  // below every listed level
  return std::prev(it)->second;
}

std::string_view to_string(ArrearsAction a) {
  switch (a) {
    case ArrearsAction::none: return "none";
    case ArrearsAction::warn: return "warn";
    case ArrearsAction::charge_as_visitor: return "charge_as_visitor";
    case ArrearsAction::deny: return "deny";
  }
  return "none";
}

namespace {

void parse_into(config::Section& document, AccessConfig& c) {
  auto s = document.map("access");
  if (!s) return;
  if (auto a = s->map("arrears")) {
    for (auto it = a->node().begin(); it != a->node().end(); ++it) {
      const std::string key = it->first.Scalar();
      a->accept(key);
      int level = 0;
      auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), level);
      if (ec != std::errc{} || end != key.data() + key.size() || level < 1 || level > 99) {
        a->diagnostics().error(config::location_of(it->first, a->file()), a->child_path(key),
                               "an arrears level is a whole number 1..99, got '" + key + "'");
        continue;
      }
      if (auto v = a->one_of(key, {"warn", "charge_as_visitor", "deny"})) {
        c.arrears[level] = *v == "warn"                ? ArrearsAction::warn
                           : *v == "charge_as_visitor" ? ArrearsAction::charge_as_visitor
                                                       : ArrearsAction::deny;
      }
    }
  }
  if (auto v = s->boolean("anti_passback")) c.anti_passback = *v;
  if (auto v = s->boolean("anti_tailgate")) c.anti_tailgate = *v;
  if (auto v = s->string("visitor_rule")) c.visitor_rule = *v;
  if (auto v = s->one_of("unknown_plates", {"visitor", "deny"})) c.deny_unknown_plates = *v == "deny";
  if (auto v = s->string("qr_pass_public_key")) {
    std::string error;
    c.qr_passes = PassVerifier::from_hex(*v, error);
    if (!c.qr_passes) s->error("qr_pass_public_key", error);
  }
  s->finish();
}

}  // namespace

AccessConfig parse_access_section(config::Section& document) {
  AccessConfig c;
  parse_into(document, c);
  return c;
}

void validate_access_section(config::Section& document) { (void)parse_access_section(document); }

AccessConfig access_config_of(const config::SiteConfig& site) {
  AccessConfig c;
  c.utc_offset_minutes = site.site.utc_offset_minutes;
  c.site_id = site.site.id;
  c.privacy_key_file = audit::security_config_of(site).privacy.key_file;
  config::for_each_domain_section(site, "access", [&c](config::Section& s) { parse_into(s, c); });
  return c;
}

}  // namespace estate::access
