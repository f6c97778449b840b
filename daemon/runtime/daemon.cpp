#include "daemon/runtime/daemon.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/backup/state_lock.hpp"
#include "daemon/runtime/component.hpp"
#include "daemon/runtime/notify.hpp"
#include "daemon/store/store.hpp"

namespace estate::runtime {

namespace asio = boost::asio;

namespace {

// The store remembers which gateway it belongs to: a state dir copied to another gateway, or a
// config naming another gateway, must not mix two gateways' sequence numbers.
void bind_gateway(store::Store& s, const std::string& gateway_id) {
  s.write_sync([&](store::Database& db) {
    auto get = db.prepare("SELECT value FROM meta WHERE key = 'gateway_id'");
    if (get.step()) {
      auto stored = get.text(0);
      if (stored != gateway_id) {
        throw store::Error(SQLITE_ERROR, "state dir belongs to gateway '" + stored +
                                             "', but the config names '" + gateway_id + "'");
      }
      return;
    }
    db.prepare("INSERT INTO meta(key, value) VALUES('gateway_id', ?1)").bind(1, gateway_id).run();
  });
}

class Runner {
 public:
  Runner(std::shared_ptr<const config::SiteConfig> cfg, const DaemonOptions& options)
      : options_(options), signals_(io_, SIGTERM, SIGINT, SIGHUP), watchdog_(io_) {
    auto state_dir = options.state_dir ? *options.state_dir : cfg->storage.state_dir;
    // One daemon per state dir, and no restore under a running one: held until exit.
    state_lock_ = backup::acquire_state_lock(state_dir);
    store_ = std::make_unique<store::Store>(state_dir, cfg->storage.commit_batch);
    bind_gateway(*store_, cfg->gateway.id);
    services_ = std::make_unique<Services>(io_, *store_, std::move(cfg));
    if (!options_.config_file.empty()) {
      services_->apply_dropin = [this](const config::DropIn& d) { return apply_dropin(d); };
      services_->config_file = options_.config_file;
    }
  }

  int run() {
    auto cfg = services_->config();
    components_ = make_components(*services_);
    for (auto& c : components_) {
      spdlog::info("starting {}", c->name());
      c->start();
    }
    wait_signal();
    arm_watchdog();
    release_freed_memory();
    spdlog::info("estate-edge {} running: site {}, gateway {}, state {}", ESTATE_EDGE_VERSION,
                 cfg->site.id, cfg->gateway.id, store_->state_dir().string());
    notify("READY=1\nSTATUS=running");

    auto work = asio::make_work_guard(io_);
    work_ = &work;
    unsigned n = options_.threads > 0 ? static_cast<unsigned>(options_.threads)
                                      : std::max(2u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < n; ++i) pool.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : pool) t.join();
    // Jobs still queued for the writer (a meter's last readings, a status row) point into the
    // components that queued them: they run before any component is destroyed.
    try {
      store_->write_sync([](store::Database&) {});
    } catch (const std::exception& e) {
      spdlog::error("store: the last writes before stopping failed: {}", e.what());
    }
    components_.clear();
    store_->stop();
    spdlog::info("stopped");
    return exit_code_;
  }

 private:
  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      spdlog::info("{} received: draining and stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
      notify("STOPPING=1\nSTATUS=stopping");
      stop_next(components_.size());
    });
  }

  // Stops components in reverse start order, each after the previous one drained.
  void stop_next(std::size_t remaining) {
    if (remaining == 0) {
      watchdog_.cancel();
      signals_.cancel();
      work_->reset();
      return;
    }
    auto& c = components_[remaining - 1];
    spdlog::info("stopping {}", c->name());
    c->stop([this, remaining] {
      asio::post(io_, [this, remaining] { stop_next(remaining - 1); });
    });
  }

  void reload() {
    notify("RELOADING=1\nSTATUS=reloading configuration");
    if (options_.config_file.empty()) {
      spdlog::warn("SIGHUP: running on the embedded config, nothing to reload");
      notify("READY=1\nSTATUS=running (embedded config, reload ignored)");
      return;
    }
    std::lock_guard lock(reload_mutex_);
    config::Diagnostics diag;
    auto fresh = config::load_site_config(options_.config_file, diag);
    if (auto why = swap_in(std::move(fresh), diag); !why.empty()) {
      notify("READY=1\nSTATUS=reload failed: " + why);
      return;
    }
    spdlog::info("configuration reloaded from {}", options_.config_file.string());
    notify("READY=1\nSTATUS=config reloaded");
  }

  // cmd/config and the tariffs list: validate with the drop-in, write it, swap.
  std::string apply_dropin(const config::DropIn& dropin) {
    std::lock_guard lock(reload_mutex_);
    config::Diagnostics diag;
    auto fresh = config::load_site_config(options_.config_file, dropin, diag);
    if (!fresh) return swap_in(std::nullopt, diag);
    // Checked before anything is written: a refused drop-in leaves the file as it was.
    if (fresh->gateway.id != services_->config()->gateway.id) {
      return swap_in(std::move(fresh), diag);
    }
    try {
      config::write_dropin(options_.config_file, dropin);
    } catch (const std::exception& e) {
      spdlog::error("conf.d/{}: {}", dropin.name, e.what());
      return e.what();
    }
    auto why = swap_in(std::move(fresh), diag);
    if (why.empty()) {
      spdlog::info("configuration reloaded with conf.d/{} from the platform", dropin.name);
    }
    return why;
  }

  // Makes `fresh` the running config; "" when done, else why not (logged).
  std::string swap_in(std::optional<config::SiteConfig> fresh, const config::Diagnostics& diag) {
    if (!fresh) {
      for (const auto& e : diag.errors()) spdlog::error("reload: {}", e.to_string());
      spdlog::error("reload failed: keeping the running configuration ({} error(s))",
                    diag.errors().size());
      std::string why;
      for (const auto& e : diag.errors()) {
        if (!why.empty()) why += "; ";
        why += e.to_string();
        if (why.size() > 1500) break;
      }
      return why.empty() ? std::string("invalid configuration") : why;
    }
    auto current = services_->config();
    if (fresh->gateway.id != current->gateway.id) {
      spdlog::error("reload failed: gateway.id changed from '{}' to '{}'; restart to change it",
                    current->gateway.id, fresh->gateway.id);
      return "gateway.id cannot change on reload";
    }
    if (!options_.http_listen.empty()) fresh->http.listen = options_.http_listen;
    auto ptr = std::make_shared<const config::SiteConfig>(std::move(*fresh));
    services_->set_config(ptr);
    for (auto& c : components_) c->reload(ptr);
    release_freed_memory();
    return {};
  }

  // Loading a config builds its YAML tree (a 2000-meter site: tens of megabytes of small
  // nodes) and frees it once parsed; glibc keeps freed pages below the heap's top resident, so
  // they are handed back here, once the components hold what they need.
  static void release_freed_memory() { ::malloc_trim(0); }

  void arm_watchdog() {
    auto interval = watchdog_interval();
    if (!interval) return;
    // Pinging from a timer on the io_context proves the event loop is turning.
    watchdog_.expires_after(*interval / 2);
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      notify("WATCHDOG=1");
      arm_watchdog();
    });
  }

  DaemonOptions options_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_;
  std::shared_ptr<backup::StateLock> state_lock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Services> services_;
  std::mutex reload_mutex_;  // SIGHUP and the platform's drop-ins, one at a time
  std::vector<std::unique_ptr<Component>> components_;
  asio::executor_work_guard<asio::io_context::executor_type>* work_ = nullptr;
  int exit_code_ = 0;
};

}  // namespace

int run_daemon(std::shared_ptr<const config::SiteConfig> cfg, const DaemonOptions& options) {
  // glibc gives each allocating thread an arena of its own (up to eight per core), and each
  // keeps its freed chunks resident: the pollers, the store's writer and the MQTT client's
  // threads. Two arenas keep a 2000-meter site about 8 MB smaller at the same delivery
  // (tests/bench/meter_fleet.py); MALLOC_ARENA_MAX in the environment still decides.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) ::mallopt(M_ARENA_MAX, 2);
  try {
    Runner r(std::move(cfg), options);
    return r.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    notify(std::string("STATUS=failed: ") + e.what());
    return 1;
  }
}

}  // namespace estate::runtime
