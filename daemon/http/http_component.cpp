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
    : services_(services), web_(std::move(web)), flush_timer_(services.io) {
  mount_builtin_routes(web_, default_assets_dir());
  // A client locked out for failed tokens is a security event: audited (address, never token),
  // at most one entry at once and one summary per minute (LockoutDigest), so an attacker
  // cycling addresses cannot fill the disk with them.
  web_->router.set_on_lockout([this](const std::string& host, const std::string& path) {
    if (auto e = digest_.note(host, path, LockoutDigest::Clock::now())) return audit_lockout(*e);
    auto due = digest_.due();
    if (!due || flush_armed_.exchange(true)) return;
    flush_timer_.expires_at(*due);
    flush_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
      if (ec || alive.expired()) return;
      flush_armed_ = false;
      if (auto e = digest_.flush(LockoutDigest::Clock::now())) audit_lockout(*e);
    });
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
      // The security component's scheduled backups (docs/operations.md, "Backup and restore").
      out.push_back({"estate_backup_failures_total", "scheduled backups that failed", "counter",
                     {},
                     db.query_int("SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                                  "WHERE key = 'backup_failures'), 0)")});
      out.push_back({"estate_backup_last_success_timestamp_seconds",
                     "Unix time of the last scheduled backup written (0: none yet)", "gauge", {},
                     db.query_int("SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                                  "WHERE key = 'backup_last_success'), 0)")});
      // The broker as the bridge last recorded it (docs/mqtt-api.md, "Reconnecting"): 1 for the
      // current state, 0 for the others, so `refused` (credentials, ACL) can be alerted on.
      auto bs = db.prepare("SELECT value FROM meta WHERE key = 'broker_state'");
      const std::string broker = bs.step() ? bs.text(0) : "";
      for (const char* s : {"connecting", "connected", "disconnected", "refused", "stopped"}) {
        out.push_back({"estate_broker_state", "the MQTT broker connection's state", "gauge",
                       Labels{{"state", s}}, broker == s ? 1 : 0});
      }
    } catch (const std::exception& e) {
      spdlog::warn("metrics: store figures unavailable: {}", e.what());
    }
    return out;
  });
}

void HttpComponent::audit_lockout(const LockoutDigest::Entry& entry) {
  audit::Entry e;
  e.kind = "security.token_lockout";
  e.actor = entry.actor;
  e.subject = entry.subject;
  e.detail_json = entry.detail.dump();
  services_.store.write([e](store::Database& db) { audit::append(db, e); });
}

HttpComponent::~HttpComponent() {
  if (server_) server_->stop();
  web_->router.set_on_lockout({});
  alive_.reset();
  flush_timer_.cancel();
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
  o.max_connections_per_client = static_cast<std::size_t>(cfg->http.max_connections_per_client);
  if (!cfg->http.tls_cert_file.empty()) {
    o.tls = make_tls_context(cfg->http.tls_cert_file, cfg->http.tls_key_file);
  }
  server_ = std::make_unique<Server>(services_.io, web_, o);
  server_->start();
  listen_ = cfg->http.listen;
  tls_ = {cfg->http.tls_cert_file, cfg->http.tls_key_file};
  spdlog::info("http listening on {}:{} ({}; {} token(s))", o.host, server_->port(),
               o.tls ? "HTTPS, plain HTTP for loopback clients only" : "plain HTTP",
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
  if (std::pair{cfg->http.tls_cert_file, cfg->http.tls_key_file} != tls_) {
    spdlog::warn("http.tls_cert_file/tls_key_file changed: take effect after a restart");
  }
}

}  // namespace estate::http
