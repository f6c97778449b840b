#include "daemon/http/http_component.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "daemon/audit/audit.hpp"

#include "daemon/http/admin.hpp"
#include "daemon/http/dashboard.hpp"


namespace estate::http {

std::vector<TokenEntry> tokens_from(const config::HttpConfig& http) {
  std::vector<TokenEntry> out;
  for (const auto& t : http.tokens) {
    auto hash = parse_sha256_hex(t.sha256);
    auto role = parse_role(t.role);
    if (!hash || !role) continue;  // the config loader already rejected these
    out.push_back({t.name, *role, *hash});
  }
  return out;
}

HttpComponent::HttpComponent(runtime::Services& services, std::shared_ptr<Web> web)
    : services_(services), web_(std::move(web)) {
  mount_builtin_routes(web_, default_assets_dir());
  // A client locked out for failed tokens is a security event: audited (address, never token).
  web_->router.set_on_lockout([&store = services_.store](const std::string& host,
                                                         const std::string& path) {
    audit::Entry e;
    e.kind = "security.token_lockout";
    e.actor = "remote:" + host;
    e.subject = "http:" + path;
    e.detail_json = nlohmann::json{{"failures", Router::max_token_failures},
                                   {"window_s", Router::token_failure_window.count()}}
                        .dump();
    store.write([e](store::Database& db) { audit::append(db, e); });
  });
  // Config and lists for an admin token (docs/security.md).
  mount_admin_routes(web_, services_);
  mount_dashboard(
      web_, services_.store, [&services] { return services.config()->site.utc_offset_minutes; },
      default_assets_dir(), default_chart_js());
  // Backlog per stream, read at scrape time from the store's own counters.
  collector_ = web_->metrics.add_collector([&store = services_.store] {
    std::vector<Sample> out;
    try {
      auto db = store.open_reader();
      auto st = db.prepare("SELECT stream, appended, acknowledged, dropped FROM stream_counts");
      while (st.step()) {
        Labels l{{"stream", st.text(0)}};
        out.push_back({"estate_outbox_appended_total", "records appended to the outbox", "counter",
                       l, st.int64(1)});
        out.push_back({"estate_outbox_acknowledged_total",
                       "outbox records acknowledged by the broker", "counter", l, st.int64(2)});
        out.push_back({"estate_outbox_dropped_total", "telemetry dropped by retention", "counter",
                       l, st.int64(3)});
        out.push_back({"estate_outbox_backlog", "records waiting for the broker", "gauge", l,
                       st.int64(1) - st.int64(2) - st.int64(3)});
      }
      out.push_back({"estate_store_commits_total", "write transactions committed", "counter", {},
                     static_cast<std::int64_t>(store.commits())});
      out.push_back({"estate_access_events_expired_total",
                     "delivered access events deleted by retention", "counter", {},
                     db.query_int("SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                                  "WHERE key = 'access_events_expired'), 0)")});
    } catch (const std::exception& e) {
      spdlog::warn("metrics: store figures unavailable: {}", e.what());
    }
    return out;
  });
}

HttpComponent::~HttpComponent() {
  if (server_) server_->stop();
  web_->router.set_on_lockout({});
  web_->metrics.remove_collector(collector_);
}

void HttpComponent::apply(const config::SiteConfig& cfg) {
  web_->router.set_tokens(tokens_from(cfg.http));
  web_->router.set_metrics_token_required(cfg.http.metrics_token_required);
}

void HttpComponent::start() {
  auto cfg = services_.config();
  apply(*cfg);
  auto listen = parse_listen(cfg->http.listen);
  if (!listen) throw std::runtime_error("http.listen: expected HOST:PORT, got '" + cfg->http.listen + "'");
  ServerOptions o;
  o.host = listen->first;
  o.port = listen->second;
  server_ = std::make_unique<Server>(services_.io, web_, o);
  server_->start();
  listen_ = cfg->http.listen;
  spdlog::info("http listening on {}:{} ({} token(s))", o.host, server_->port(),
               cfg->http.tokens.size());
}

void HttpComponent::stop(std::function<void()> done) {
  if (server_) server_->stop();
  done();
}

void HttpComponent::reload(std::shared_ptr<const config::SiteConfig> cfg) {
  apply(*cfg);
  if (cfg->http.listen != listen_) {
    spdlog::warn("http.listen changed: takes effect after a restart");
  }
}

}  // namespace estate::http
