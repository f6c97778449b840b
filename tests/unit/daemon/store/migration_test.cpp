// A store written by the first release of every schema area, with data in it, opened by this
// build: every later migration runs once, in order, and the rows a site already had come through
// (renamed where the migration renames, kept where it only adds).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/store/schema.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::store {
namespace {

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = estate::testing::fresh_test_dir("estate-migration-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The store as the first release of each area left it: migrations[0] only, versions 1.
  Database first_release() {
    std::filesystem::create_directories(dir_);
    Database db(store_file(dir_), OpenMode::read_write_create);
    db.exec("CREATE TABLE schema_versions(area TEXT PRIMARY KEY, version INTEGER NOT NULL)");
    for (const auto& a : schema_areas()) {
      db.exec(a.migrations[0]);
      auto st = db.prepare("INSERT INTO schema_versions(area, version) VALUES(?1, 1)");
      st.bind(1, a.name).run();
    }
    return db;
  }

  std::filesystem::path dir_;
};

TEST_F(MigrationTest, EveryAreaReachesItsLatestVersionOnceAndKeepsItsRows) {
  {
    auto db = first_release();
    // Readings under the names the first release used (DL/T 645, Modbus point, M-Bus).
    db.exec(
        "INSERT INTO readings(seq, meter, quantity, value, unit, delta, quality, cumulative, ts,"
        " ts_ms) VALUES"
        " (1, 'em-1', 'energy_import', '1234.50', 'kWh', '1.25', 'good', 1, 'T1', 1000),"
        " (2, 'em-2', 'import_active_energy', '10.0', 'kWh', NULL, 'good', 1, 'T1', 1000),"
        " (3, 'hm-1', 'energy', '77', 'kWh', '2', 'good', 1, 'T1', 1000),"
        " (4, 'em-1', 'voltage_l1', '230.1', 'V', NULL, 'good', 0, 'T1', 1000),"
        " (5, 'wm-1', 'valve_open', '1', '', NULL, 'good', 0, 'T1', 1000)");
    db.exec(
        "INSERT INTO payments(id, seq, room, kind, method, amount_fen, state, source, created_at,"
        " updated_at, applied, settled_fen) VALUES"
        " ('p-1', 1, '1-101', 'pay', 'card', 12345, 'uploaded', 'kiosk-1', 'T0', 'T1', 1, 12345)");
    db.exec("INSERT INTO outbox(stream, payload, created_at) VALUES ('readings', '{}', 1)");
    db.exec("UPDATE counters SET value = 1 WHERE name = 'outbox_seq'");
  }

  auto db = open_store(dir_, OpenMode::read_write);
  for (const auto& a : schema_areas()) {
    auto st = db.prepare("SELECT version FROM schema_versions WHERE area = ?1");
    st.bind(1, a.name);
    ASSERT_TRUE(st.step()) << a.name;
    EXPECT_EQ(st.int64(0), static_cast<std::int64_t>(a.migrations.size())) << a.name;
  }

  // readings 2: one quantity vocabulary, and the billed register marked.
  std::vector<std::tuple<std::string, std::string, std::string, std::int64_t>> rows;
  auto st = db.prepare("SELECT meter, quantity, value, billed FROM readings ORDER BY seq");
  while (st.step()) rows.emplace_back(st.text(0), st.text(1), st.text(2), st.int64(3));
  const decltype(rows) expected{{"em-1", "active_energy_import", "1234.50", 1},
                                {"em-2", "active_energy_import", "10.0", 1},
                                {"hm-1", "heat_energy", "77", 1},
                                {"em-1", "voltage_l1", "230.1", 0},
                                {"wm-1", "valve_state", "1", 0}};
  EXPECT_EQ(rows, expected);

  // payments 2 and 3: the table rebuilt for the parking kind, the idempotency key added; the
  // payment a kiosk took before the upgrade is all there.
  auto p = db.prepare(
      "SELECT room, kind, amount_fen, state, source, settled_fen, idem_key FROM payments "
      "WHERE id = 'p-1'");
  ASSERT_TRUE(p.step());
  EXPECT_EQ(p.text(0), "1-101");
  EXPECT_EQ(p.text(1), "pay");
  EXPECT_EQ(p.int64(2), 12345);
  EXPECT_EQ(p.text(3), "uploaded");
  EXPECT_EQ(p.text(4), "kiosk-1");
  EXPECT_EQ(p.int64(5), 12345);
  EXPECT_TRUE(p.is_null(6));
  db.exec(
      "INSERT INTO payments(id, seq, room, kind, method, amount_fen, state, source, created_at,"
      " updated_at, idem_key) VALUES ('p-2', 2, '', 'parking', 'qr', 500, 'intent', 'kiosk-1',"
      " 'T2', 'T2', 'k-1')");
  EXPECT_THROW(db.exec("INSERT INTO payments(id, seq, room, kind, method, amount_fen, state, "
                       "source, created_at, updated_at, idem_key) VALUES ('p-3', 3, '', 'pay', "
                       "'qr', 500, 'intent', 'kiosk-1', 'T3', 'T3', 'k-1')"),
               Error);  // one Idempotency-Key per source

  // The outbox and its counter are untouched: nothing acknowledged is renumbered.
  EXPECT_EQ(db.query_int("SELECT value FROM counters WHERE name = 'outbox_seq'"), 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM outbox"), 1);
}

TEST_F(MigrationTest, AnAreaHalfwayIsTakenOnFromWhereItStands) {
  // Every area at its first version but readings, already at its last: reopening runs the
  // others' migrations and none of readings' again (they would fail: the column exists).
  {
    auto db = first_release();
    for (const auto& a : schema_areas()) {
      if (a.name != "readings") continue;
      for (std::size_t i = 1; i < a.migrations.size(); ++i) db.exec(a.migrations[i]);
      auto up = db.prepare("UPDATE schema_versions SET version = ?1 WHERE area = 'readings'");
      up.bind(1, static_cast<std::int64_t>(a.migrations.size())).run();
    }
  }
  auto db = open_store(dir_, OpenMode::read_write);
  for (const auto& a : schema_areas()) {
    auto st = db.prepare("SELECT version FROM schema_versions WHERE area = ?1");
    st.bind(1, a.name);
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.int64(0), static_cast<std::int64_t>(a.migrations.size())) << a.name;
  }
}

}  // namespace
}  // namespace estate::store
