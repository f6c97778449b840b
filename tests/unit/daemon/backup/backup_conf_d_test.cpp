// The conf.d drop-ins travel with the store: a drop-in changed or deleted after the backup is
// put back by the restore (mode kept), one added after it is removed, the previous ones are
// kept in the state dir; a backup holding drop-ins needs a conf.d to restore them (or
// store_only); a conf.d that cannot be written refuses the restore with nothing changed; and a
// backup taken while a writer commits versions whose drop-in it writes inside the transaction
// holds each version with its own drop-in.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <thread>

#include "daemon/backup/backup.hpp"
#include "daemon/store/store.hpp"

namespace estate::backup {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& text, fs::perms mode = fs::perms(0640)) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  fs::permissions(p, mode);
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string meta(const fs::path& state, const std::string& key) {
  store::Database db(store::store_file(state), store::OpenMode::read_only);
  auto st = db.prepare("SELECT value FROM meta WHERE key = ?1");
  st.bind(1, key);
  return st.step() ? st.text(0) : std::string();
}

class BackupConfDTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("estate-backup-confd-test-" + std::to_string(rd()));
    fs::create_directories(root_ / "etc" / "conf.d");
    for (std::size_t i = 0; i < key_.size(); ++i) key_[i] = static_cast<std::uint8_t>(i * 11 + 3);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A stopped store for gw-1 whose meta 'tariffs_version' is `version`.
  void make_store(const std::string& version) {
    store::Store s(state_);
    s.write_sync([&](store::Database& db) {
      db.exec("INSERT OR REPLACE INTO meta(key, value) VALUES('gateway_id', 'gw-1')");
      db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('tariffs_version', ?1)")
          .bind(1, version)
          .run();
    });
    s.stop();
  }

  fs::path root_;
  fs::path state_ = fs::path();
  fs::path conf_d() const { return root_ / "etc" / "conf.d"; }
  privacy::Key key_{};
};

TEST_F(BackupConfDTest, ChangedAndDeletedDropInsComeBackAndNewOnesGo) {
  state_ = root_ / "state";
  make_store("7");
  const std::string tariffs_v7 = "# version 7\ntariffs:\n  - {id: t1}\n";
  const std::string site = "meters: []\n";
  spit(conf_d() / "80-platform-tariffs.yaml", tariffs_v7, fs::perms(0640));
  spit(conf_d() / "10-site.yml", site, fs::perms(0600));
  spit(conf_d() / "README", "not a drop-in\n");

  const fs::path file = root_ / "b.eebak";
  auto made = create_backup(state_, file, key_, "2026-12-04T03:30:00.000+08:00",
                            BackupOptions{conf_d()});
  ASSERT_TRUE(made.header.conf_d);
  EXPECT_EQ(*made.header.conf_d,
            (std::vector<std::string>{"10-site.yml", "80-platform-tariffs.yaml"}));
  EXPECT_EQ(read_header(file).conf_d, made.header.conf_d);
  // Encrypted with the store: no drop-in text in the file.
  EXPECT_EQ(slurp(file).find("version 7"), std::string::npos);

  // After the backup: the platform's next tariffs version, a deleted drop-in, a new one.
  make_store("8");
  spit(conf_d() / "80-platform-tariffs.yaml", "# version 8\ntariffs:\n  - {id: t2}\n");
  fs::remove(conf_d() / "10-site.yml");
  spit(conf_d() / "90-platform.yaml", "http: {}\n");

  RestoreOptions o;
  o.conf_d = conf_d();
  auto r = restore_backup(file, state_, key_, o);
  EXPECT_TRUE(r.conf_d_restored);
  EXPECT_EQ(r.conf_d_files, *made.header.conf_d);
  EXPECT_EQ(r.conf_d_removed, std::vector<std::string>{"90-platform.yaml"});
  EXPECT_EQ(meta(state_, "tariffs_version"), "7");
  EXPECT_EQ(slurp(conf_d() / "80-platform-tariffs.yaml"), tariffs_v7);
  EXPECT_EQ(slurp(conf_d() / "10-site.yml"), site);
  EXPECT_EQ(mode_of(conf_d() / "80-platform-tariffs.yaml"), 0640u);
  EXPECT_EQ(mode_of(conf_d() / "10-site.yml"), 0600u);
  // Only the drop-ins and what is not one: no staging file left.
  EXPECT_EQ(names_in(conf_d()),
            (std::vector<std::string>{"10-site.yml", "80-platform-tariffs.yaml", "README"}));
  // What was there before is kept beside the replaced store.
  EXPECT_EQ(r.conf_d_previous, state_ / "conf.d.pre-restore");
  EXPECT_EQ(names_in(r.conf_d_previous),
            (std::vector<std::string>{"80-platform-tariffs.yaml", "90-platform.yaml"}));
  EXPECT_NE(slurp(r.conf_d_previous / "80-platform-tariffs.yaml").find("version 8"),
            std::string::npos);
  // The restore's audit entry names the drop-ins; the backup's table is not left in the store.
  store::Database db(store::store_file(state_), store::OpenMode::read_only);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM sqlite_master WHERE name = 'backup_conf_d'"), 0);
  auto st = db.prepare("SELECT detail FROM audit_log WHERE kind = 'backup.restore'");
  ASSERT_TRUE(st.step());
  EXPECT_NE(st.text(0).find(R"("conf_d":["10-site.yml","80-platform-tariffs.yaml"])"),
            std::string::npos)
      << st.text(0);
}

TEST_F(BackupConfDTest, AnEmptyConfDIsRestoredAsEmpty) {
  state_ = root_ / "state";
  make_store("0");
  const fs::path file = root_ / "b.eebak";
  auto made = create_backup(state_, file, key_, "2026-12-04T03:30:00.000+08:00",
                            BackupOptions{root_ / "etc" / "missing.d"});
  ASSERT_TRUE(made.header.conf_d);
  EXPECT_TRUE(made.header.conf_d->empty());
  spit(conf_d() / "80-platform-tariffs.yaml", "tariffs: []\n");
  RestoreOptions o;
  o.conf_d = conf_d();
  auto r = restore_backup(file, state_, key_, o);
  EXPECT_EQ(r.conf_d_removed, std::vector<std::string>{"80-platform-tariffs.yaml"});
  EXPECT_FALSE(fs::exists(conf_d() / "80-platform-tariffs.yaml"));
}

TEST_F(BackupConfDTest, DropInsNeedAConfDOrStoreOnly) {
  state_ = root_ / "state";
  make_store("7");
  spit(conf_d() / "80-platform-tariffs.yaml", "# version 7\n");
  const fs::path file = root_ / "b.eebak";
  create_backup(state_, file, key_, "2026-12-04T03:30:00.000+08:00", BackupOptions{conf_d()});
  make_store("8");
  spit(conf_d() / "80-platform-tariffs.yaml", "# version 8\n");

  try {
    restore_backup(file, state_, key_, {});
    FAIL() << "restored without a conf.d";
  } catch (const BackupError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::conf_d_needed);
    EXPECT_NE(std::string(e.what()).find("--store-only"), std::string::npos) << e.what();
  }
  EXPECT_EQ(meta(state_, "tariffs_version"), "8");  // nothing restored

  RestoreOptions o;
  o.store_only = true;
  auto r = restore_backup(file, state_, key_, o);
  EXPECT_FALSE(r.conf_d_restored);
  EXPECT_EQ(meta(state_, "tariffs_version"), "7");
  EXPECT_EQ(slurp(conf_d() / "80-platform-tariffs.yaml"), "# version 8\n");

  // A backup made without a conf.d holds none and leaves conf.d alone.
  const fs::path plain = root_ / "plain.eebak";
  auto made = create_backup(state_, plain, key_, "2026-12-04T03:31:00.000+08:00");
  EXPECT_FALSE(made.header.conf_d);
  o = {};
  o.conf_d = conf_d();
  r = restore_backup(plain, state_, key_, o);
  EXPECT_FALSE(r.conf_d_restored);
  EXPECT_EQ(slurp(conf_d() / "80-platform-tariffs.yaml"), "# version 8\n");
}

TEST_F(BackupConfDTest, AConfDThatCannotBeWrittenChangesNothing) {
  state_ = root_ / "state";
  make_store("7");
  spit(conf_d() / "80-platform-tariffs.yaml", "# version 7\n");
  const fs::path file = root_ / "b.eebak";
  create_backup(state_, file, key_, "2026-12-04T03:30:00.000+08:00", BackupOptions{conf_d()});
  make_store("8");
  const auto before = slurp(store::store_file(state_));

  RestoreOptions o;
  o.conf_d = root_ / "not-a-dir";
  spit(o.conf_d, "a file where conf.d should be\n");
  try {
    restore_backup(file, state_, key_, o);
    FAIL() << "restored into a file";
  } catch (const BackupError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_NE(std::string(e.what()).find("nothing was restored"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(store::store_file(state_)), before);
  EXPECT_EQ(meta(state_, "tariffs_version"), "8");
}

// The writer commits version after version, writing each version's drop-in inside its
// transaction (as the tariffs list does). Every backup taken meanwhile holds a version and that
// version's drop-in, never one without the other.
TEST_F(BackupConfDTest, BackupsBesideAWriterHoldEachVersionWithItsDropIn) {
  state_ = root_ / "state";
  make_store("0");
  spit(conf_d() / "80-platform-tariffs.yaml", "version: 0\n");
  store::Store s(state_, 1);
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    for (int v = 1; !stop; ++v) {
      s.write_sync([&](store::Database& db) {
        db.prepare("UPDATE meta SET value = ?1 WHERE key = 'tariffs_version'")
            .bind(1, std::to_string(v))
            .run();
        // Written before the commit, as a list's apply does: tmp, rename.
        spit(conf_d() / ".80.new", "version: " + std::to_string(v) + "\n");
        fs::rename(conf_d() / ".80.new", conf_d() / "80-platform-tariffs.yaml");
        // Widen the window between the file and the commit.
        std::this_thread::yield();
      });
      committed = v;
    }
  });
  std::vector<fs::path> files;
  for (int i = 0; i < 20; ++i) {
    const int at_least = committed + 3;
    while (committed < at_least) std::this_thread::yield();
    files.push_back(root_ / ("b" + std::to_string(i) + ".eebak"));
    create_backup(state_, files.back(), key_, "2026-12-04T03:30:00.000+08:00",
                  BackupOptions{conf_d()});
  }
  stop = true;
  writer.join();
  s.stop();

  std::set<std::string> versions;
  for (const auto& f : files) {
    const fs::path target = root_ / ("r-" + f.stem().string());
    RestoreOptions o;
    o.conf_d = target / "conf.d";
    restore_backup(f, target / "state", key_, o);
    const std::string v = meta(target / "state", "tariffs_version");
    versions.insert(v);
    EXPECT_EQ(slurp(o.conf_d / "80-platform-tariffs.yaml"), "version: " + v + "\n") << f;
  }
  EXPECT_GT(versions.size(), 10u);  // the backups did see the writer moving
}

}  // namespace
}  // namespace estate::backup
