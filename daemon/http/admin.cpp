#include "daemon/http/admin.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <future>

#include "daemon/audit/audit.hpp"
#include "daemon/runtime/bounded_json.hpp"

namespace estate::http {

namespace {

// The lists the admin API manages: the platform's list commands of the gates.
bool is_list(const std::string& name) {
  return name == "cards" || name == "plates" || name == "visitor-passes" || name == "blocklist" ||
         name == "monthly-passes";
}

// Every list is kept by the cloud bridge (items with a key, credentials hashed), shown as it
// keeps them.
bool is_bridge_list(const std::string& name) { return is_list(name); }

bool is_secret_key(const std::string& k) {
  auto ends = [&k](const char* s) {
    const std::string suffix(s);
    return k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return k == "secret" || k == "password" || k == "sha256" || k == "operator" || ends("_secret") ||
         ends("_password");
}

nlohmann::json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : n) out[kv.first.as<std::string>()] = to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : n) out.push_back(to_json(v));
      return out;
    }
    case YAML::NodeType::Scalar: return n.Scalar();
    default: return nullptr;
  }
}

std::int64_t query_int(const Request& req, const char* key, std::int64_t dflt, std::int64_t lo,
                       std::int64_t hi, std::string& error) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return dflt;
  try {
    std::size_t used = 0;
    const auto v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  error = std::string(key) + ": expected a whole number " + std::to_string(lo) + ".." +
          std::to_string(hi);
  return dflt;
}

std::string actor_of(const Request& req) { return "token:" + req.token_name; }

Response get_config(runtime::Services& services) {
  auto cfg = services.config();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : cfg->files) {
    nlohmann::json one{{"file", f.string()}};
    try {
      one["config"] = redact_secrets(to_json(YAML::LoadFile(f.string())));
    } catch (const std::exception& e) {
      one["error"] = std::string("cannot read: ") + e.what();
    }
    files.push_back(std::move(one));
  }
  return Response::json(200, {{"gateway", cfg->gateway.id},
                              {"files", files},
                              {"dropin", std::string("conf.d/") + admin_dropin_name}});
}

Response post_config(runtime::Services& services, const Request& req) {
  auto body = runtime::parse_json_bounded(req.body);
  if (!body.is_object()) return Response::error(400, "bad_request", "expected a JSON object");
  for (auto& [k, v] : body.items()) {
    if (k != "yaml") return Response::error(400, "bad_request", "unknown field '" + k.substr(0, 64) + "'");
  }
  auto y = body.find("yaml");
  if (y == body.end() || !y->is_string()) {
    return Response::error(400, "bad_request",
                           "yaml: expected a string (the drop-in's YAML text; \"\" removes it)");
  }
  if (!services.apply_dropin) {
    return Response::error(409, "no_conf_d", "the daemon runs an embedded config: no conf.d");
  }
  const config::DropIn dropin{admin_dropin_name, y->get<std::string>()};
  // The drop-in is validated, written and reloaded by the one path the platform uses; the
  // change is audited once it is in force (a file and a reload cannot share the store's
  // transaction; a refused drop-in writes nothing and is not an entry).
  auto why = services.apply_dropin(dropin);
  if (!why.empty()) {
    spdlog::warn("http: {}: conf.d/{} refused: {}", req.token_name, dropin.name, why);
    return Response::error(422, "invalid_config", why);
  }
  audit::Entry e;
  e.kind = "config.change";
  e.actor = actor_of(req);
  e.subject = "file:conf.d/" + dropin.name;
  e.detail_json = nlohmann::json{{"removed", dropin.text.empty()}, {"bytes", dropin.text.size()}}.dump();
  services.store.write_sync([&e](store::Database& db) { audit::append(db, e); });
  spdlog::info("http: {}: configuration reloaded with conf.d/{}", req.token_name, dropin.name);
  return Response::json(200, {{"file", "conf.d/" + dropin.name}, {"removed", dropin.text.empty()}});
}

Response get_list(runtime::Services& services, const std::string& name, const Request& req) {
  std::string error;
  const auto offset = query_int(req, "offset", 0, 0, INT64_MAX, error);
  const auto limit = query_int(req, "limit", 1000, 1, 10000, error);
  if (!error.empty()) return Response::error(400, "bad_request", error);
  auto db = services.store.open_reader();
  nlohmann::json entries = nlohmann::json::array();
  std::int64_t version = 0, total = 0;
  if (is_bridge_list(name)) {
    // Items as the bridge stores them: credentials as keyed hashes with a masked "shown".
    version = db.query_int("SELECT version FROM bridge_lists WHERE name = '" + name + "'", 0);
    total = db.query_int("SELECT count(*) FROM bridge_list_items WHERE name = '" + name + "'", 0);
    auto st = db.prepare(
        "SELECT item FROM bridge_list_items WHERE name = ?1 ORDER BY key LIMIT ?2 OFFSET ?3");
    st.bind(1, name).bind(2, limit).bind(3, offset);
    while (st.step()) entries.push_back(nlohmann::json::parse(st.text(0)));
  } else {
    const std::string list = name == "monthly-passes" ? "monthly_passes" : name;
    version = db.query_int("SELECT version FROM access_lists WHERE list = '" + list + "'", 0);
    total = db.query_int("SELECT count(*) FROM access_entries WHERE list = '" + list + "'", 0);
    // The credential as stored: its masked form and keyed hash, never the value.
    auto st = db.prepare(
        "SELECT kind, value, room, vehicle_class, valid_from, valid_to, note, shown, pass_id "
        "FROM access_entries WHERE list = ?1 ORDER BY kind, value LIMIT ?2 OFFSET ?3");
    st.bind(1, list).bind(2, limit).bind(3, offset);
    while (st.step()) {
      nlohmann::json e{{"kind", st.text(0)}, {"shown", st.is_null(7) ? "***" : st.text(7)},
                       {"hash", st.text(1)}};
      if (!st.text(8).empty()) e["pass_id"] = st.text(8);
      if (!st.text(2).empty()) e["room"] = st.text(2);
      if (!st.text(3).empty()) e["vehicle_class"] = st.text(3);
      if (!st.is_null(4)) e["valid_from_unix_s"] = st.int64(4);
      if (!st.is_null(5)) e["valid_to_unix_s"] = st.int64(5);
      if (!st.text(6).empty()) e["reason"] = st.text(6);
      entries.push_back(std::move(e));
    }
  }
  return Response::json(200, {{"list", name},
                              {"version", version},
                              {"total", total},
                              {"offset", offset},
                              {"entries", entries}});
}

Response post_list(runtime::Services& services, const std::string& name, const Request& req) {
  auto body = runtime::parse_json_bounded(req.body);
  if (!body.is_object()) return Response::error(400, "bad_request", "expected a JSON object");
  if (body.contains("v") || body.contains("id")) {
    return Response::error(400, "bad_request", "v and id are set by the gateway");
  }
  if (!services.apply_list) {
    return Response::error(409, "no_lists",
                           "lists are kept by the cloud bridge: mqtt.url is not configured");
  }
  static std::atomic<std::uint64_t> counter{0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  // The command id the list records as its source (bridge_lists.command_id): unique per call.
  body["v"] = 1;
  body["id"] = "admin-" + req.token_name + "-" + std::to_string(ms) + "-" + std::to_string(++counter);
  struct Answer {
    bool ok = false;
    std::string error;
    nlohmann::json result;
  };
  auto promise = std::make_shared<std::promise<Answer>>();
  auto answer = promise->get_future();
  services.apply_list(name, std::move(body), actor_of(req),
                      [promise](bool ok, std::string error, nlohmann::json result) {
                        promise->set_value(Answer{ok, std::move(error), std::move(result)});
                      });
  if (answer.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    return Response::error(504, "timeout", "the list was not answered within 60 s");
  }
  auto a = answer.get();
  if (!a.ok) {
    spdlog::warn("http: {}: list {} refused: {}", req.token_name, name, a.error);
    return Response::error(422, "refused", a.error);
  }
  spdlog::info("http: {}: list {} applied: {}", req.token_name, name, a.result.dump());
  return Response::json(200, a.result);
}

}  // namespace

nlohmann::json redact_secrets(const nlohmann::json& doc) {
  if (doc.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, v] : doc.items()) {
      out[k] = is_secret_key(k) && !v.is_null() ? nlohmann::json("<redacted>") : redact_secrets(v);
    }
    return out;
  }
  if (doc.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : doc) out.push_back(redact_secrets(v));
    return out;
  }
  return doc;
}

void mount_admin_routes(const std::shared_ptr<Web>& web, runtime::Services& services) {
  auto& r = web->router;
  r.add_route("GET", "/api/admin/config", Role::admin,
              [&services](const Request&) { return get_config(services); });
  r.add_route("POST", "/api/admin/config", Role::admin,
              [&services](const Request& req) { return post_config(services, req); });
  auto list_route = [&services](bool post) {
    return [&services, post](const Request& req) {
      const std::string name = req.rest;
      if (!is_list(name)) {
        return Response::error(404, "not_found",
                               "lists: cards, plates, visitor-passes, blocklist, monthly-passes");
      }
      return post ? post_list(services, name, req) : get_list(services, name, req);
    };
  };
  r.add_route("GET", "/api/admin/lists/", Role::admin, list_route(false));
  r.add_route("POST", "/api/admin/lists/", Role::admin, list_route(true));
}

}  // namespace estate::http
