// Retention of access events against a real store: only events past the cut-off AND delivered
// (their outbox record acknowledged) are deleted, counted in meta and in a privacy.retention
// event; undelivered ones, money records and the audit log are kept.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "daemon/access/service.hpp"
#include "daemon/audit/audit.hpp"
#include "daemon/bridge/store_outbox.hpp"
#include "daemon/store/retention.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::store {
namespace {

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("estate-retention-test");
    store_ = std::make_unique<Store>(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::int64_t count(const std::string& sql) {
    store_->write_sync([](Database&) {});
    auto db = store_->open_reader();
    return db.query_int(sql);
  }
  AccessRetention expire(std::int64_t cutoff) {
    AccessRetention r;
    store_->write_sync([&](Database& db) { r = expire_access_events(db, cutoff); });
    return r;
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

constexpr std::int64_t old_time = 1'700'000'000;  // 2023-11
constexpr std::int64_t new_time = 1'800'000'000;  // 2027-01
constexpr std::int64_t cutoff = 1'750'000'000;

TEST_F(RetentionTest, DeletesOnlyDeliveredEventsPastTheCutOff) {
  access::AccessService svc(*store_, "gw1", access::AccessConfig{}, nullptr);
  ASSERT_TRUE(svc.apply_list_json({{"list", "cards"},
                                   {"version", 1},
                                   {"entries", {{{"card", "04A1B2C3"}, {"room", "1-101"}}}}})
                  .ok);
  for (std::int64_t t : {old_time, old_time + 1, old_time + 2, new_time}) {
    svc.decide({access::CredentialKind::card, "04A1B2C3", "main", access::Lane::entry, t});
  }
  // Money and audit beside them: retention never touches either.
  store_->write_sync([](Database& db) {
    db.exec("INSERT INTO billing_topups(ref, room, amount_fen, source, ts, balance_after_fen) "
            "VALUES('t-1', '1-101', 500, 'kiosk', '2023-11-01T00:00:00+08:00', 500)");
    audit::Entry e;
    e.kind = "money.topup";
    e.actor = "system";
    e.subject = "room:1-101";
    e.detail_json = "{}";
    audit::append(db, e);
  });
  ASSERT_EQ(count("SELECT count(*) FROM access_events"), 4);
  // The guard's record holds the mask and the keyed hash, never the card number.
  EXPECT_EQ(count("SELECT count(*) FROM access_events WHERE credential = '****B2C3' "
                  "AND length(credential_hash) = 64 AND credential_hash <> '04A1B2C3'"),
            4);

  // The broker acknowledged the first two old events and the new one; the third old one waits.
  std::vector<std::int64_t> seqs;
  {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT outbox_seq FROM access_events ORDER BY id");
    while (st.step()) seqs.push_back(st.int64(0));
  }
  ASSERT_EQ(seqs.size(), 4u);
  store_->write_sync(
      [&](Database& db) { bridge::StoreOutbox::retire(db, {seqs[0], seqs[1], seqs[3]}); });

  auto r = expire(cutoff);
  EXPECT_EQ(r.deleted, 2);
  EXPECT_EQ(r.undelivered, 1);
  EXPECT_EQ(r.deleted_total, 2);
  EXPECT_EQ(count("SELECT count(*) FROM access_events"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM access_events WHERE outbox_seq = " +
                  std::to_string(seqs[2])),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM access_events WHERE unix_s = " +
                  std::to_string(new_time)),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE seq = " + std::to_string(seqs[2])), 1);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'privacy.retention' AND "
                  "json_extract(detail, '$.access_events_deleted') = 2"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM billing_topups"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log"), 1);

  // Nothing more is due until the last old record is delivered; then it goes too.
  r = expire(cutoff);
  EXPECT_EQ(r.deleted, 0);
  EXPECT_EQ(r.deleted_total, 2);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'privacy.retention'"), 1);
  store_->write_sync([&](Database& db) { bridge::StoreOutbox::retire(db, {seqs[2]}); });
  r = expire(cutoff);
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(r.undelivered, 0);
  EXPECT_EQ(r.deleted_total, 3);
  EXPECT_EQ(count("SELECT count(*) FROM access_events"), 1);
  EXPECT_EQ(count("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'access_events_expired'"),
            3);
}

TEST_F(RetentionTest, TakesAtMostTheLimitPerCall) {
  store_->write_sync([](Database& db) {
    for (int i = 0; i < 7; ++i) {
      db.exec("INSERT INTO access_events(ts, unix_s, gate, lane, credential_kind, credential, "
              "credential_hash, verdict, reason, holder, outbox_seq) VALUES('t', 1, 'g', 'entry', "
              "'card', '****0001', 'h', 'open', 'r', 'resident', " + std::to_string(1000 + i) + ")");
    }
  });
  AccessRetention r;
  store_->write_sync([&](Database& db) { r = expire_access_events(db, 2, 5); });
  EXPECT_EQ(r.deleted, 5);
  store_->write_sync([&](Database& db) { r = expire_access_events(db, 2, 5); });
  EXPECT_EQ(r.deleted, 2);
  EXPECT_EQ(r.deleted_total, 7);
}

}  // namespace
}  // namespace estate::store
