#include "daemon/audit/security_config.hpp"

#include <algorithm>
#include <cctype>

#include "daemon/bridge/command_proof.hpp"
#include "daemon/config/domain_sections.hpp"

namespace estate::audit {

namespace {

std::filesystem::path resolve(const config::Section& s, const std::string& value) {
  std::filesystem::path p(value);
  if (p.is_absolute()) return p;
  return std::filesystem::path(s.file()).parent_path() / p;
}

void parse_into(config::Section& document, SecurityConfig& c) {
  auto s = document.map("security");
  if (!s) return;
  if (auto b = s->map("backup")) {
    if (auto v = b->string("key_file")) c.backup.key_file = resolve(*b, *v);
    if (auto v = b->string("dir")) c.backup.dir = resolve(*b, *v);
    if (auto v = b->string("daily_at")) {
      const auto& t = *v;
      bool ok = t.size() == 5 && t[2] == ':' && std::isdigit(static_cast<unsigned char>(t[0])) &&
                std::isdigit(static_cast<unsigned char>(t[1])) &&
                std::isdigit(static_cast<unsigned char>(t[3])) &&
                std::isdigit(static_cast<unsigned char>(t[4]));
      int h = ok ? (t[0] - '0') * 10 + (t[1] - '0') : 0;
      int m = ok ? (t[3] - '0') * 10 + (t[4] - '0') : 0;
      if (!ok || h > 23 || m > 59) {
        b->error("daily_at", "expected a time of day such as \"03:30\", got '" + t + "'");
      } else {
        c.backup.hour = h;
        c.backup.minute = m;
      }
    }
    if (auto v = b->integer("keep", 1, 1000)) c.backup.keep = static_cast<int>(*v);
    if (b->has("dir") && c.backup.key_file.empty()) {
      b->error("dir", "scheduled backups need security.backup.key_file (the encryption key)");
    }
    b->finish();
  }
  if (auto p = s->map("privacy")) {
    if (auto v = p->string("key_file")) c.privacy.key_file = resolve(*p, *v);
    if (auto v = p->integer("access_event_retention_days", 1, 3650)) {
      c.privacy.access_event_retention_days = static_cast<int>(*v);
    }
    p->finish();
  }
  if (auto a = s->map("audit")) {
    if (auto v = a->integer("anchor_interval_s", 10, 86400)) {
      c.audit.anchor_interval = std::chrono::seconds(*v);
    }
    a->finish();
  }
  if (auto keys = s->string_list("platform_public_keys")) {
    std::string error;
    if (!bridge::PlatformKeys::from_hex(*keys, error)) {
      s->error("platform_public_keys", "entry" + error);
    } else {
      c.commands.platform_public_keys = *keys;
    }
  }
  if (auto m = s->map("command_max_age_s")) {
    if (m->expect_map()) {
      for (const auto& kv : m->node()) {
        const auto name = kv.first.as<std::string>("");
        const auto& known = bridge::downlink_command_names();
        // Another name is left unread: finish() calls it an unknown key and names the command
        // it is closest to.
        if (name != "default" && std::find(known.begin(), known.end(), name) == known.end()) {
          continue;
        }
        auto v = m->integer(name, 1, 30 * 86400);
        if (!v) continue;
        if (name == "default") c.commands.default_max_age_s = *v;
        else c.commands.max_age_s[name] = *v;
      }
    }
    m->accept("default");
    for (auto n : bridge::downlink_command_names()) m->accept(n);
    m->finish();
  }
  if (auto v = s->integer("command_clock_skew_s", 0, 3600)) c.commands.clock_skew_s = *v;
  s->finish();
}

}  // namespace

SecurityConfig parse_security_section(config::Section& document) {
  SecurityConfig c;
  parse_into(document, c);
  return c;
}

void validate_security_section(config::Section& document) {
  (void)parse_security_section(document);
}

SecurityConfig security_config_of(const config::SiteConfig& site) {
  SecurityConfig c;
  config::for_each_domain_section(site, "security", [&c](config::Section& s) { parse_into(s, c); });
  return c;
}

}  // namespace estate::audit
