// The daemon's security duties (docs/security.md), one component started first and stopped
// last:
//  - holds the state directory's lock (backup::acquire_state_lock) so `estate-edge restore`
//    refuses to run beside the daemon;
//  - keeps the outbox seq high-water mark file a reservation ahead of the store's counter;
//  - anchors the audit chain head to the platform every security.audit.anchor_interval_s
//    through the outbox, stream "audit" (only when the log grew since the last anchor);
//  - records the config files' digest in the audit log at start (config.load) and on each
//    successful reload (config.reload) when it changed, with the file as the actor;
//  - writes the scheduled daily encrypted backup (the store and the config's conf.d drop-ins) to
//    security.backup.dir and keeps the newest security.backup.keep of them; a failed backup
//    counts in meta.backup_failures (/metrics estate_backup_failures_total) and raises the
//    alarm backup_failed on the outbox stream "alarms", cleared by the next backup written;
//  - hourly, deletes access events older than security.privacy.access_event_retention_days
//    once delivered (store::expire_access_events), counted and logged.
// Blocking work (backups, file writes, reading the counter) runs on its own worker thread,
// never on the io_context; timers run on a strand. Thread-safety: Component contract.
// Errors: the constructor throws when the state lock is held elsewhere or the backup key file
// is unusable (the daemon refuses to start); later failures are logged and retried next time.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "daemon/audit/security_config.hpp"
#include "daemon/backup/state_lock.hpp"
#include "daemon/privacy/key_file.hpp"
#include "daemon/runtime/component.hpp"
#include "daemon/store/retention.hpp"

namespace estate::audit {

class SecurityComponent : public runtime::Component {
 public:
  explicit SecurityComponent(runtime::Services& services);
  ~SecurityComponent() override;

  std::string_view name() const override { return "security"; }
  void start() override;
  void stop(std::function<void()> done) override;
  void reload(std::shared_ptr<const config::SiteConfig> cfg) override;

  // Runs a backup to security.backup.dir now, on the worker (as the daily schedule does,
  // retention and the failure report included). The future holds the backup's error, if any.
  std::future<void> backup_now();
  // Runs the access event retention now (as the hourly timer does); the future holds what it
  // deleted, or its error.
  std::future<store::AccessRetention> expire_access_events_now();

  // The least reservation kept above the store's counter in the high-water file.
  static constexpr std::int64_t min_seq_reserve = 1'000'000;

 private:
  struct Settings {
    SecurityConfig cfg;
    std::optional<privacy::Key> backup_key;
    std::string gateway;
    int utc_offset_minutes = 0;
  };
  static Settings load(const config::SiteConfig& site);
  Settings settings() const;

  void arm_anchor();
  void arm_highwater();
  void arm_backup();
  void arm_retention(std::chrono::seconds after);
  void run_retention(std::function<void(std::exception_ptr, store::AccessRetention)> done);
  void anchor_now(std::function<void()> then = {});
  // Appends config.load / config.reload to the audit log when the config files' digest
  // differs from the one recorded last.
  void record_config(const config::SiteConfig& site, const char* kind);
  void check_highwater();  // worker thread
  void run_backup();       // worker thread; throws on failure
  // Worker thread: run_backup(), then its result counted and alarmed (report_backup); throws
  // the backup's error.
  void run_reported_backup();
  // Counts a failure (meta.backup_failures) or notes the success time
  // (meta.backup_last_success); raises the backup_failed alarm on the first failure and clears
  // it on the next success (meta.backup_alarm keeps its state across restarts).
  void report_backup(const std::string& failure, const std::filesystem::path& dir);

  runtime::Services& services_;
  std::shared_ptr<backup::StateLock> lock_;
  mutable std::mutex mutex_;
  Settings settings_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer anchor_timer_;
  boost::asio::steady_timer highwater_timer_;
  boost::asio::system_timer backup_timer_;
  boost::asio::steady_timer retention_timer_;
  boost::asio::thread_pool worker_{1};
  std::atomic<bool> stopping_{false};
  // Worker-thread state.
  std::optional<store::Database> reader_;
  std::int64_t last_counter_ = -1;
  std::int64_t highwater_ = -1;
};

// Test build only (estate-edge-test, daemon/backup/test_hooks.cpp): scheduled backups run every
// `every` (0: daily, as configured) so a test sees a failure and the recovery without waiting
// for daily_at. The installed binary never calls it.
void set_backup_test_interval(std::chrono::milliseconds every);

}  // namespace estate::audit
