// The daemon's security component: scheduled-backup runs with retention, a failed backup counted
// and alarmed (cleared by the next success), the seq high-water reservation, the config.load
// audit entry, and the state lock it holds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "daemon/audit/audit.hpp"
#include "daemon/audit/security_component.hpp"
#include "daemon/backup/backup.hpp"
#include "daemon/backup/seq_highwater.hpp"
#include "daemon/backup/state_lock.hpp"

namespace estate::audit {
namespace {

namespace fs = std::filesystem;

class SecurityComponentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("estate-security-test-" + std::to_string(rd()));
    fs::create_directories(root_);
    std::ofstream(root_ / "backup.key") << std::string(64, 'c') << "\n";
    ::chmod((root_ / "backup.key").c_str(), 0600);
    config::Diagnostics diag;
    auto cfg = config::load_site_config_text(
        "site:\n  id: s\ngateway:\n  id: gw-1\nsecurity:\n  backup:\n    key_file: " +
            (root_ / "backup.key").string() + "\n    dir: " + (root_ / "backups").string() +
            "\n    keep: 2\n",
        (root_ / "site.yaml").string(), diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    store_ = std::make_unique<store::Store>(root_ / "state");
    store_->write_sync([](store::Database& db) {
      db.exec("INSERT INTO meta(key, value) VALUES('gateway_id', 'gw-1')");
    });
    services_ = std::make_unique<runtime::Services>(
        io_, *store_, std::make_shared<const config::SiteConfig>(std::move(*cfg)));
  }
  void TearDown() override {
    services_.reset();
    if (store_) store_->stop();
    store_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  fs::path root_;
  boost::asio::io_context io_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runtime::Services> services_;
};

TEST_F(SecurityComponentTest, BackupRunsKeepTheNewestAndAreRestorable) {
  SecurityComponent c(*services_);
  for (int i = 0; i < 3; ++i) c.backup_now().get();
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(root_ / "backups")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 2u);
  for (const auto& f : files) {
    EXPECT_EQ(f.filename().string().rfind("gw-1-", 0), 0u) << f;
    EXPECT_EQ(f.extension(), ".eebak");
    EXPECT_EQ(backup::read_header(f).gateway, "gw-1");
  }
  // Each backup is audited after its snapshot: the entry names the chain head the file holds.
  auto db = store_->open_reader();
  auto entries = audit::query(db, {});
  ASSERT_EQ(entries.size(), 3u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].kind, "backup.create");
    EXPECT_EQ(entries[i].actor, "system");
    auto d = nlohmann::json::parse(entries[i].detail);
    EXPECT_EQ(d["audit_count"], static_cast<std::int64_t>(i));
  }
  EXPECT_TRUE(audit::verify(db).ok);
}

// The alarm records on stream "alarms", in seq order.
std::vector<nlohmann::json> alarms(store::Store& s) {
  std::vector<nlohmann::json> out;
  auto db = s.open_reader();
  auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'alarms' ORDER BY seq");
  while (st.step()) out.push_back(nlohmann::json::parse(st.text(0)));
  return out;
}

std::int64_t meta_int(store::Store& s, const char* key) {
  auto db = s.open_reader();
  auto st = db.prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1");
  st.bind(1, key);
  return st.step() ? st.int64(0) : -1;
}

TEST_F(SecurityComponentTest, AFailedBackupIsCountedAndAlarmedUntilTheNextOneIsWritten) {
  SecurityComponent c(*services_);
  // The backup dir is a file: nothing can be written there.
  std::ofstream(root_ / "backups") << "in the way\n";
  for (int i = 0; i < 2; ++i) EXPECT_THROW(c.backup_now().get(), std::exception);
  EXPECT_EQ(meta_int(*store_, "backup_failures"), 2);
  EXPECT_EQ(meta_int(*store_, "backup_last_success"), -1);
  auto a = alarms(*store_);
  ASSERT_EQ(a.size(), 1u);  // one alarm for the outage, not one per failure
  EXPECT_EQ(a[0]["kind"], "alarm");
  EXPECT_EQ(a[0]["alarm"], "backup_failed");
  EXPECT_EQ(a[0]["state"], "raised");
  EXPECT_EQ(a[0]["severity"], "major");
  const std::string detail = a[0]["detail"];
  EXPECT_NE(detail.find((root_ / "backups").string()), std::string::npos) << detail;
  EXPECT_NE(detail.find("Not a directory"), std::string::npos) << detail;
  EXPECT_TRUE(a[0].contains("seq") && a[0].contains("id") && a[0].contains("ts"));

  fs::remove(root_ / "backups");
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  c.backup_now().get();
  c.backup_now().get();
  EXPECT_EQ(meta_int(*store_, "backup_failures"), 2);
  EXPECT_GE(meta_int(*store_, "backup_last_success"), before);
  a = alarms(*store_);
  ASSERT_EQ(a.size(), 2u);  // cleared once
  EXPECT_EQ(a[1]["alarm"], "backup_failed");
  EXPECT_EQ(a[1]["state"], "cleared");
  EXPECT_EQ(a[1]["severity"], "info");
  EXPECT_GT(a[1]["seq"].get<std::int64_t>(), a[0]["seq"].get<std::int64_t>());
}

TEST_F(SecurityComponentTest, StartReservesSeqsAndAuditsTheConfig) {
  auto work = boost::asio::make_work_guard(io_);
  std::thread runner([this] { io_.run(); });
  {
    SecurityComponent c(*services_);
    c.start();
    auto hw = backup::read_highwater(root_ / "state");
    ASSERT_TRUE(hw);
    EXPECT_GE(*hw, SecurityComponent::min_seq_reserve);
    std::promise<void> stopped;
    c.stop([&] { stopped.set_value(); });
    stopped.get_future().get();
  }
  work.reset();
  runner.join();
  store_->write_sync([](store::Database&) {});  // everything queued before is committed
  auto db = store_->open_reader();
  auto entries = audit::query(db, {});
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "config.load");
  EXPECT_EQ(entries[0].actor, "file:" + (root_ / "site.yaml").string());
  EXPECT_NE(entries[0].detail.find("sha256"), std::string::npos);
  EXPECT_TRUE(audit::verify(db).ok);
}

TEST_F(SecurityComponentTest, HoldsTheStateLockAgainstOtherProcesses) {
  auto c = std::make_unique<SecurityComponent>(*services_);
  auto child_sees_lock = [this] {
    pid_t pid = ::fork();
    if (pid == 0) {
      // A fresh open file description, as another process would have.
      int fd = ::open(backup::state_lock_file(root_ / "state").c_str(), O_RDONLY);
      ::_exit(fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  };
  EXPECT_TRUE(child_sees_lock());
  c.reset();
  EXPECT_FALSE(child_sees_lock());
}

}  // namespace
}  // namespace estate::audit
