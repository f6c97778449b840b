// The admin routes of the local HTTP API (docs/security.md, "Local roles"): the site config and
// the access lists, for an `admin` token.
//   GET  /api/admin/config          the config files in load order, secrets redacted
//   POST /api/admin/config          {"yaml": "..."} becomes conf.d/70-admin.yaml ("" removes it)
//   GET  /api/admin/lists/<list>    a list's version and entries (?offset=&limit=)
//   POST /api/admin/lists/<list>    a new version of a list, in the platform's cmd/<list> form
// The config drop-in takes the path of the platform's cmd/config (Services::apply_dropin:
// validated with the whole site config, written atomically, reloaded as on SIGHUP; refused
// with the config's file:line:column errors and nothing changed). Lists take the platform's
// list path (Services::apply_list: the cloud bridge's handlers, so the gates' index is swapped
// atomically once the version committed). Each change is audited with the token's name as its
// source (actor `token:<name>`), never the token.
// Thread-safety: handlers run on the HTTP server's threads; they block on the reload or the
// list's commit (bounded), never on the store's writer thread.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/http/server.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::http {

// The drop-in the admin API writes (the platform's is 90-platform.yaml, which wins over it).
inline constexpr const char* admin_dropin_name = "70-admin.yaml";

void mount_admin_routes(const std::shared_ptr<Web>& web, runtime::Services& services);

// A config document with the values of secret keys (secret, password, sha256, operator, and
// any key ending in _secret or _password) replaced by "<redacted>". Exposed for tests.
nlohmann::json redact_secrets(const nlohmann::json& doc);

}  // namespace estate::http
