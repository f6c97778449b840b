// The HTTP listener as a daemon component: binds http.listen, mounts /healthz, /metrics and
// the kiosk assets, loads the tokens of http.tokens (again on reload), and publishes the store's
// outbox figures as metrics. Other components mount their routes on the shared Web.
// Thread-safety: driven by the daemon (start/stop/reload from its io_context).
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>

#include "daemon/http/server.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::http {

class HttpComponent : public runtime::Component {
 public:
  HttpComponent(runtime::Services& services, std::shared_ptr<Web> web);
  ~HttpComponent() override;
  std::string_view name() const override { return "http"; }
  void start() override;
  void stop(std::function<void()> done) override;
  void reload(std::shared_ptr<const config::SiteConfig> cfg) override;
  // The routes and metrics the listener serves.
  const std::shared_ptr<Web>& web() const { return web_; }

 private:
  void apply(const config::SiteConfig& cfg);
  void audit_lockout(const LockoutDigest::Entry& entry);
  runtime::Services& services_;
  std::shared_ptr<Web> web_;
  LockoutDigest digest_;
  std::atomic<bool> flush_armed_{false};
  boost::asio::steady_timer flush_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::unique_ptr<Server> server_;
  int collector_ = 0;
  std::string listen_;
  std::pair<std::string, std::string> tls_;  // cert and key files in use
};

// The tokens of a config as the router wants them.
std::vector<TokenEntry> tokens_from(const config::HttpConfig& http);

}  // namespace estate::http
