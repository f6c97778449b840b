#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <stdexcept>

#include "daemon/store/schema.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("estate-store-test");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StoreTest, FreshStoreHasEveryAreaAtItsLatestVersion) {
  auto db = open_store(dir_, OpenMode::read_write_create);
  for (const auto& area : schema_areas()) {
    auto st = db.prepare("SELECT version FROM schema_versions WHERE area = ?1");
    st.bind(1, area.name);
    ASSERT_TRUE(st.step()) << area.name;
    EXPECT_EQ(st.int64(0), static_cast<std::int64_t>(area.migrations.size())) << area.name;
  }
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.text(0), "wal");
}

TEST_F(StoreTest, ReopeningAppliesNothingTwice) {
  { auto db = open_store(dir_, OpenMode::read_write_create); }
  auto db = open_store(dir_, OpenMode::read_write_create);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM counters WHERE name = 'outbox_seq'"), 1);
}

TEST_F(StoreTest, NewerSchemaIsRefusedWithAClearError) {
  {
    auto db = open_store(dir_, OpenMode::read_write_create);
    db.exec("UPDATE schema_versions SET version = 99 WHERE area = 'core'");
  }
  try {
    open_store(dir_, OpenMode::read_write_create);
    FAIL() << "a newer store must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("was written by a newer estate-edge: schema area 'core' "
                                         "is at version 99"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, UnknownAreaIsRefused) {
  {
    auto db = open_store(dir_, OpenMode::read_write_create);
    db.exec("INSERT INTO schema_versions VALUES('hologram', 1)");
  }
  EXPECT_THROW(open_store(dir_, OpenMode::read_write_create), Error);
}

TEST_F(StoreTest, OutboxSeqIsMonotonicAcrossDeletesAndRestarts) {
  {
    Store s(dir_);
    s.write_sync([](Database& db) {
      for (int i = 0; i < 3; ++i) {
        auto a = append_outbox(db, "gw", "readings", "2026-11-23T10:00:00.000+08:00",
                               R"({"meter":"m1","value":1.5})", true);
        EXPECT_EQ(a.seq, i + 1);
        EXPECT_EQ(a.id, "gw-" + std::to_string(i + 1));
      }
    });
    s.write_sync([](Database& db) { db.exec("DELETE FROM outbox"); });
  }
  Store s(dir_);
  std::int64_t seq = 0;
  s.write_sync([&](Database& db) {
    seq = append_outbox(db, "gw", "events", "2026-11-23T10:00:01.000+08:00", "{}", false).seq;
  });
  EXPECT_EQ(seq, 4);
  auto r = s.open_reader();
  auto st = r.prepare("SELECT payload FROM outbox WHERE seq = 4");
  ASSERT_TRUE(st.step());
  auto j = nlohmann::json::parse(st.text(0));
  EXPECT_EQ(j["v"], 2);
  EXPECT_EQ(j["id"], "gw-4");
  EXPECT_EQ(j["seq"], 4);
  EXPECT_EQ(j["ts"], "2026-11-23T10:00:01.000+08:00");
  EXPECT_EQ(r.query_int("SELECT appended FROM stream_counts WHERE stream = 'readings'"), 3);
}

TEST_F(StoreTest, EnvelopeFieldsCannotBeOverriddenByTheRecord) {
  Store s(dir_);
  s.write_sync([](Database& db) {
    EXPECT_THROW(
        append_outbox(db, "gw", "events", "T", R"({"seq":999,"id":"x","kind":"k"})", false),
        std::invalid_argument);
    append_outbox(db, "gw", "events", "T", R"({"kind":"k"})", false);
  });
  auto r = s.open_reader();
  auto st = r.prepare("SELECT payload FROM outbox");
  ASSERT_TRUE(st.step());
  auto j = nlohmann::json::parse(st.text(0));
  EXPECT_EQ(j["seq"], 1);
  EXPECT_EQ(j["id"], "gw-1");
  EXPECT_EQ(j["kind"], "k");
  EXPECT_FALSE(st.step());
}

TEST_F(StoreTest, AFailingJobIsUndoneAloneInItsGroupCommit) {
  Store s(dir_);
  s.write_sync([](Database& db) { db.exec("CREATE TABLE t(x INTEGER NOT NULL)"); });
  std::vector<std::future<void>> results;
  std::vector<std::shared_ptr<std::promise<void>>> promises;
  for (int i = 0; i < 50; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    results.push_back(p->get_future());
    promises.push_back(p);
    s.write(
        [i](Database& db) {
          db.prepare("INSERT INTO t(x) VALUES(?1)").bind(1, i).run();
          if (i == 17) db.exec("INSERT INTO t(x) VALUES(NULL)");  // violates NOT NULL
        },
        [p](std::exception_ptr e) {
          if (e) p->set_exception(e);
          else p->set_value();
        });
  }
  int failed = 0;
  for (auto& f : results) {
    try {
      f.get();
    } catch (const Error&) {
      ++failed;
    }
  }
  EXPECT_EQ(failed, 1);
  auto r = s.open_reader();
  EXPECT_EQ(r.query_int("SELECT count(*) FROM t"), 49);
  EXPECT_EQ(r.query_int("SELECT count(*) FROM t WHERE x = 17"), 0);
}

TEST_F(StoreTest, ManyWritersAreGroupCommitted) {
  Store s(dir_, 1000);
  std::atomic<int> done{0};
  std::promise<void> all;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    s.write([](Database& db) { append_outbox(db, "gw", "readings", "T", "{}", true); },
            [&](std::exception_ptr e) {
              ASSERT_FALSE(e);
              if (++done == n) all.set_value();
            });
  }
  all.get_future().get();
  EXPECT_LT(s.commits(), static_cast<std::uint64_t>(n));  // batched, not one commit per job
  auto r = s.open_reader();
  EXPECT_EQ(r.query_int("SELECT max(seq) FROM outbox"), n);
  EXPECT_EQ(r.query_int("SELECT count(DISTINCT seq) FROM outbox"), n);
}

TEST_F(StoreTest, WriteAfterStopFailsInsteadOfVanishing) {
  Store s(dir_);
  s.stop();
  std::exception_ptr err;
  s.write([](Database&) {}, [&](std::exception_ptr e) { err = e; });
  EXPECT_TRUE(err);
}

// A value overwritten or deleted (a list rewritten to hashes, a session's plate) does not stay
// readable in the file's free space once the WAL is checkpointed.
TEST_F(StoreTest, OverwrittenValuesLeaveNoTraceInTheFile) {
  const std::string marker = "CLEAR-PLATE-MARKER-0123456789";
  {
    auto db = open_store(dir_, OpenMode::read_write_create);
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    for (int i = 0; i < 20; ++i) {
      db.prepare("INSERT INTO t(v) VALUES(?1)").bind(1, marker + std::to_string(i)).run();
    }
    db.query_int("PRAGMA wal_checkpoint(TRUNCATE)");
    db.exec("UPDATE t SET v = 'h' WHERE id <= 10");
    db.exec("DELETE FROM t WHERE id > 10");
    db.query_int("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  std::ifstream f(store_file(dir_), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find("CLEAR-PLATE-MARKER"), std::string::npos);
}

TEST(Iso8601, CarriesTheSiteOffset) {
  using namespace std::chrono;
  auto t = sys_days{year{2026} / 11 / 23} + hours{18} + minutes{16} + seconds{1} + milliseconds{5};
  EXPECT_EQ(iso8601(t, 480), "2026-11-24T02:16:01.005+08:00");
  EXPECT_EQ(iso8601(t, -210), "2026-11-23T14:46:01.005-03:30");
  EXPECT_EQ(iso8601(t, 0), "2026-11-23T18:16:01.005+00:00");
}

}  // namespace
}  // namespace estate::store
