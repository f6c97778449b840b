// A part of the running daemon (meter scheduler, cloud bridge, HTTP listener, gate service...).
// The daemon starts components in order once the store is open, hands them a new config on a
// valid reload, and stops them in reverse order on SIGTERM, waiting for each to drain.
#pragma once

#include <boost/asio/io_context.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include "daemon/config/site_config.hpp"
#include "daemon/store/store.hpp"

namespace estate::runtime {

// What every component gets. The config pointer is swapped on reload (under the mutex);
// components keep the shared_ptr they were given until reload() hands them a new one.
class Services {
 public:
  Services(boost::asio::io_context& io, store::Store& store,
           std::shared_ptr<const config::SiteConfig> cfg)
      : io(io), store(store), config_(std::move(cfg)) {}

  boost::asio::io_context& io;
  store::Store& store;

  std::shared_ptr<const config::SiteConfig> config() const {
    std::lock_guard lock(mutex_);
    return config_;
  }
  void set_config(std::shared_ptr<const config::SiteConfig> c) {
    std::lock_guard lock(mutex_);
    config_ = std::move(c);
  }

  // Validates the site config with `dropin` in place of conf.d/<name>; when valid, writes it and
  // reloads every component as SIGHUP does. Returns "" on success, else what is wrong (the
  // config's own file:line:column errors). Unset (null) when the daemon runs an embedded
  // config, which has no conf.d. Callable from any thread except the store's writer.
  std::function<std::string(const config::DropIn& dropin)> apply_dropin;
  // Applies a list exactly as the platform's cmd/<name> does (docs/mqtt-api.md: validated,
  // versioned, audited, swapped into the gates once committed): `body` is the command's JSON
  // ({"v":1,"id":..,"version":..,"items"|"entries":[..]}); `source` is the audit actor
  // ("token:<name>"). `done` gets the answer (ok, error, result) exactly once, from any thread.
  // Set by the cloud bridge (its command registry, so every list has one code path); unset
  // (null) without one. `name` must be a list command (list_command_names()).
  using ListDone = std::function<void(bool ok, std::string error, nlohmann::json result)>;
  std::function<void(const std::string& name, nlohmann::json body, std::string source,
                     ListDone done)>
      apply_list;
  // The site config file (empty for an embedded config).
  std::filesystem::path config_file;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const config::SiteConfig> config_;
};

class Component {
 public:
  virtual ~Component() = default;
  virtual std::string_view name() const = 0;
  virtual void start() = 0;
  // Begins an orderly stop; calls done() (from any thread) once drained. Default: at once.
  virtual void stop(std::function<void()> done) { done(); }
  virtual void reload(std::shared_ptr<const config::SiteConfig>) {}
};

// Builds the site's components from its config, in start order (daemon/wiring.cpp).
std::vector<std::unique_ptr<Component>> make_components(Services& services);

}  // namespace estate::runtime
