#include "daemon/audit/security_component.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include "daemon/audit/audit.hpp"
#include "daemon/backup/backup.hpp"
#include "daemon/backup/seq_highwater.hpp"
#include "daemon/record/record.hpp"

namespace estate::audit {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// How often the counter is compared with the high-water reservation. The reservation is at
// least min_seq_reserve and 8 intervals' worth of the observed rate, so the counter cannot
// pass it between two checks unless the append rate jumps eightfold above 200k records/s.
constexpr std::chrono::seconds highwater_interval{5};

std::atomic<std::int64_t> backup_test_interval_ms{0};

// "20261123T031500.123" in the site's local time: backup file names sort by time.
std::string stamp(std::chrono::system_clock::time_point t, int offset_minutes) {
  auto iso = store::iso8601(t, offset_minutes);  // 2026-11-23T03:15:00.123+08:00
  std::string out;
  for (std::size_t i = 0; i < 23 && i < iso.size(); ++i) {
    if (iso[i] != '-' && iso[i] != ':') out.push_back(iso[i]);
  }
  return out;
}

}  // namespace

void set_backup_test_interval(std::chrono::milliseconds every) {
  backup_test_interval_ms = every.count();
}

SecurityComponent::Settings SecurityComponent::load(const config::SiteConfig& site) {
  Settings s;
  s.cfg = security_config_of(site);
  s.gateway = site.gateway.id;
  s.utc_offset_minutes = site.site.utc_offset_minutes;
  if (!s.cfg.backup.key_file.empty()) {
    try {
      s.backup_key = privacy::read_key_file(s.cfg.backup.key_file);
    } catch (const privacy::KeyFileError& e) {
      throw std::runtime_error(std::string("security.backup.key_file: ") + e.what());
    }
  }
  return s;
}

SecurityComponent::SecurityComponent(runtime::Services& services)
    : services_(services),
      lock_(backup::acquire_state_lock(services.store.state_dir())),
      settings_(load(*services.config())),
      strand_(asio::make_strand(services.io)),
      anchor_timer_(strand_),
      highwater_timer_(strand_),
      backup_timer_(strand_),
      retention_timer_(strand_) {}

SecurityComponent::~SecurityComponent() {
  stopping_ = true;
  worker_.join();
}

SecurityComponent::Settings SecurityComponent::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void SecurityComponent::start() {
  // Before any other component appends: the reservation must already cover the first seqs.
  check_highwater();
  record_config(*services_.config(), "config.load");
  arm_anchor();
  arm_highwater();
  arm_backup();
  arm_retention(std::chrono::seconds(30));
}

void SecurityComponent::stop(std::function<void()> done) {
  stopping_ = true;
  asio::post(strand_, [this, done = std::move(done)]() mutable {
    anchor_timer_.cancel();
    highwater_timer_.cancel();
    backup_timer_.cancel();
    retention_timer_.cancel();
    // Let a running backup finish on the worker before reporting drained.
    asio::post(worker_, [this, done = std::move(done)] {
      check_highwater();
      done();
    });
  });
}

void SecurityComponent::reload(std::shared_ptr<const config::SiteConfig> cfg) {
  record_config(*cfg, "config.reload");
  try {
    auto fresh = load(*cfg);
    {
      std::lock_guard lock(mutex_);
      settings_ = std::move(fresh);
    }
    asio::post(strand_, [this] {
      if (stopping_) return;
      arm_anchor();
      arm_backup();
    });
  } catch (const std::exception& e) {
    spdlog::error("security: keeping the previous settings: {}", e.what());
  }
}

void SecurityComponent::record_config(const config::SiteConfig& site, const char* kind) {
  // The digest covers each file's name and bytes; the contents themselves (which may hold
  // secrets) never enter the log.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : site.files) {
    std::ifstream in(f, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name = f.string();
    EVP_DigestUpdate(ctx.get(), name.data(), name.size() + 1);
    EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
    files.push_back(name);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return;
  static constexpr char digits[] = "0123456789abcdef";
  std::string digest;
  for (unsigned i = 0; i < len; ++i) {
    digest.push_back(digits[md[i] >> 4]);
    digest.push_back(digits[md[i] & 0xF]);
  }
  audit::Entry e;
  e.ts = store::iso8601_now(site.site.utc_offset_minutes);
  e.kind = kind;
  e.actor = site.files.empty() ? "embedded" : "file:" + site.files.front().string();
  e.subject = "config";
  // Synchronous: the entry is durable before start-up or the reload is reported done (READY),
  // so what systemd and the technician see as applied is already in the audit log. One
  // commit, on a rare event.
  try {
    services_.store.write_sync([e, files, digest](store::Database& db) mutable {
      auto st = db.prepare(
          "SELECT detail FROM audit_log WHERE kind IN ('config.load', 'config.reload') "
          "ORDER BY seq DESC LIMIT 1");
      std::string previous;
      if (st.step()) {
        auto d = nlohmann::json::parse(st.text(0), nullptr, false);
        if (d.is_object() && d.contains("sha256") && d["sha256"].is_string()) {
          previous = d["sha256"].get<std::string>();
        }
      }
      if (previous == digest) return;
      nlohmann::json detail;
      detail["files"] = files;
      detail["sha256"] = digest;
      detail["previous_sha256"] = previous;
      e.detail_json = detail.dump();
      audit::append(db, e);
    });
  } catch (const std::exception& x) {
    spdlog::error("audit {} failed: {}", kind, x.what());
  }
}

void SecurityComponent::anchor_now(std::function<void()> then) {
  auto s = settings();
  auto ts = store::iso8601_now(s.utc_offset_minutes);
  services_.store.write(
      [gateway = s.gateway, ts](store::Database& db) { audit::anchor(db, gateway, ts); },
      [then = std::move(then)](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::error("audit anchor failed: {}", x.what());
          }
        }
        if (then) then();
      });
}

void SecurityComponent::arm_anchor() {
  anchor_timer_.expires_after(settings().cfg.audit.anchor_interval);
  anchor_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    anchor_now();
    arm_anchor();
  });
}

void SecurityComponent::arm_highwater() {
  highwater_timer_.expires_after(highwater_interval);
  highwater_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    asio::post(worker_, [this] { check_highwater(); });
    arm_highwater();
  });
}

void SecurityComponent::check_highwater() {
  const fs::path dir = services_.store.state_dir();
  try {
    if (!reader_) reader_.emplace(services_.store.open_reader());
    const std::int64_t counter =
        reader_->query_int("SELECT value FROM counters WHERE name = 'outbox_seq'", 0);
    if (highwater_ < 0) highwater_ = backup::read_highwater(dir).value_or(0);
    const std::int64_t growth = last_counter_ < 0 ? 0 : counter - last_counter_;
    last_counter_ = counter;
    const std::int64_t reserve = std::max(min_seq_reserve, 8 * growth);
    if (counter + reserve / 2 > highwater_) {
      highwater_ = backup::raise_highwater(dir, counter + reserve);
      spdlog::debug("outbox seq high-water mark raised to {} (counter {})", highwater_, counter);
    }
  } catch (const std::exception& e) {
    spdlog::error("outbox seq high-water mark: {}", e.what());
    reader_.reset();
  }
}

void SecurityComponent::arm_backup() {
  backup_timer_.cancel();
  auto s = settings();
  if (s.cfg.backup.dir.empty() || !s.backup_key) return;
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto offset = minutes(s.utc_offset_minutes);
  const auto local = floor<seconds>(now) + offset;
  auto day_start = floor<days>(local);
  auto at = day_start + hours(s.cfg.backup.hour) + minutes(s.cfg.backup.minute);
  if (at <= local) at += days(1);
  if (const auto every = backup_test_interval_ms.load(); every > 0) {
    backup_timer_.expires_after(milliseconds(every));
  } else {
    backup_timer_.expires_at(at - offset);
  }
  backup_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    asio::post(worker_, [this] {
      try {
        run_reported_backup();
      } catch (const std::exception& e) {
        spdlog::error("scheduled backup failed: {}", e.what());
      }
    });
    arm_backup();
  });
}

void SecurityComponent::run_retention(
    std::function<void(std::exception_ptr, store::AccessRetention)> done) {
  const int days = settings().cfg.privacy.access_event_retention_days;
  const auto cutoff = std::chrono::duration_cast<std::chrono::seconds>(
                          (std::chrono::system_clock::now() - std::chrono::hours(24 * days))
                              .time_since_epoch())
                          .count();
  auto result = std::make_shared<store::AccessRetention>();
  services_.store.write(
      [cutoff, result](store::Database& db) { *result = store::expire_access_events(db, cutoff); },
      [result, days, done = std::move(done)](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::error("access event retention failed: {}", x.what());
          }
        } else if (result->deleted > 0 || result->undelivered > 0) {
          spdlog::info("access event retention ({} days): {} delivered event(s) deleted "
                       "({} in all), {} older undelivered kept",
                       days, result->deleted, result->deleted_total, result->undelivered);
        }
        if (done) done(e, *result);
      });
}

void SecurityComponent::arm_retention(std::chrono::seconds after) {
  retention_timer_.expires_after(after);
  retention_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    // A full chunk means more are due: the next run comes sooner.
    run_retention([this](std::exception_ptr e, store::AccessRetention r) {
      const bool more = !e && r.deleted >= 5000;
      asio::post(strand_, [this, more] {
        if (!stopping_) arm_retention(more ? std::chrono::seconds(10) : std::chrono::hours(1));
      });
    });
  });
}

std::future<store::AccessRetention> SecurityComponent::expire_access_events_now() {
  auto promise = std::make_shared<std::promise<store::AccessRetention>>();
  auto f = promise->get_future();
  run_retention([promise](std::exception_ptr e, store::AccessRetention r) {
    if (e) promise->set_exception(e);
    else promise->set_value(r);
  });
  return f;
}

std::future<void> SecurityComponent::backup_now() {
  auto task = std::make_shared<std::packaged_task<void()>>([this] { run_reported_backup(); });
  auto f = task->get_future();
  asio::post(worker_, [task] { (*task)(); });
  return f;
}

void SecurityComponent::run_reported_backup() {
  auto s = settings();
  if (s.cfg.backup.dir.empty() || !s.backup_key) return run_backup();  // throws: not configured
  try {
    run_backup();
  } catch (const std::exception& e) {
    report_backup(e.what(), s.cfg.backup.dir);
    throw;
  }
  report_backup({}, s.cfg.backup.dir);
}

void SecurityComponent::report_backup(const std::string& failure, const fs::path& dir) {
  auto s = settings();
  const auto now = std::chrono::system_clock::now();
  const std::string ts = store::iso8601(now, s.utc_offset_minutes);
  const auto unix_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  try {
    services_.store.write_sync([&](store::Database& db) {
      bool raised = false;
      {
        auto st = db.prepare("SELECT value FROM meta WHERE key = 'backup_alarm'");
        raised = st.step() && st.text(0) == "raised";
      }
      if (!failure.empty()) {
        db.exec("INSERT INTO meta(key, value) VALUES('backup_failures', 1) "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1");
      } else {
        db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('backup_last_success', ?1)")
            .bind(1, static_cast<std::int64_t>(unix_s))
            .run();
      }
      // One alarm per outage: raised by the first failure, cleared by the next success.
      const bool failed = !failure.empty();
      if (failed == raised) return;
      record::Alarm alarm;
      alarm.ts = ts;
      alarm.alarm = "backup_failed";
      alarm.state = failed ? record::AlarmState::raised : record::AlarmState::cleared;
      alarm.severity = failed ? record::Severity::major : record::Severity::info;
      alarm.detail = failed ? "scheduled backup to " + dir.string() + " failed: " + failure
                            : "scheduled backup to " + dir.string() + " written again";
      if (failure.empty()) {
        db.exec("DELETE FROM meta WHERE key = 'backup_alarm'");
      } else {
        db.exec("INSERT OR REPLACE INTO meta(key, value) VALUES('backup_alarm', 'raised')");
      }
      record::append(db, s.gateway, alarm);
    });
  } catch (const std::exception& e) {
    spdlog::error("backup {}: cannot record it in the store: {}",
                  failure.empty() ? "written" : "failed", e.what());
  }
}

void SecurityComponent::run_backup() {
  auto s = settings();
  if (s.cfg.backup.dir.empty() || !s.backup_key) {
    throw std::runtime_error("no scheduled backups: security.backup.dir and key_file are not set");
  }
  const auto& dir = s.cfg.backup.dir;
  {
    fs::create_directories(dir);
    const auto now = std::chrono::system_clock::now();
    const std::string prefix = s.gateway + "-";
    const fs::path file = dir / (prefix + stamp(now, s.utc_offset_minutes) + ".eebak");
    // The drop-ins travel with the store: the tariffs list's version and its conf.d file are
    // restored together.
    backup::BackupOptions options;
    if (!services_.config_file.empty()) {
      options.conf_d = services_.config_file.parent_path() / "conf.d";
    }
    auto r = backup::create_backup(services_.store.state_dir(), file, *s.backup_key,
                                   store::iso8601(now, s.utc_offset_minutes), options);
    spdlog::info("backup written: {} ({} bytes, outbox seq {}, audit entries {}, "
                 "conf.d drop-ins {})",
                 file.string(), r.bytes, r.header.outbox_seq, r.header.audit_count,
                 r.header.conf_d ? std::to_string(r.header.conf_d->size()) : std::string("none"));
    // The backup itself is audited after the snapshot (it cannot contain its own entry): the
    // entry names the file and the chain head the backup holds.
    audit::Entry e;
    e.ts = store::iso8601(now, s.utc_offset_minutes);
    e.kind = "backup.create";
    e.actor = "system";
    e.subject = "file:" + file.filename().string();
    e.detail_json = nlohmann::json{{"bytes", r.bytes},
                                   {"outbox_seq", r.header.outbox_seq},
                                   {"audit_count", r.header.audit_count},
                                   {"audit_head", r.header.audit_head},
                                   {"key_id", r.header.key_id},
                                   {"conf_d", r.header.conf_d ? nlohmann::json(*r.header.conf_d)
                                                              : nlohmann::json(nullptr)}}
                        .dump();
    services_.store.write_sync([&e](store::Database& db) { audit::append(db, e); });
    std::vector<fs::path> ours;
    for (const auto& e : fs::directory_iterator(dir)) {
      const auto name = e.path().filename().string();
      if (e.is_regular_file() && name.rfind(prefix, 0) == 0 && e.path().extension() == ".eebak") {
        ours.push_back(e.path());
      }
    }
    std::sort(ours.begin(), ours.end());
    const auto keep = static_cast<std::size_t>(s.cfg.backup.keep);
    for (std::size_t i = 0; i + keep < ours.size(); ++i) {
      std::error_code ec;
      fs::remove(ours[i], ec);
      if (ec) spdlog::warn("cannot remove old backup {}: {}", ours[i].string(), ec.message());
      else spdlog::info("old backup removed: {}", ours[i].string());
    }
  }
}

}  // namespace estate::audit
