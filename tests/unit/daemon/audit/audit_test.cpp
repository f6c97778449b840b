// The audit chain: appends, verify against every kind of tampering (with the append-only
// triggers dropped, as an attacker with the sqlite3 CLI would), anchors, queries, time parsing.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "daemon/audit/audit.hpp"
#include "daemon/audit/security_config.hpp"
#include "daemon/store/store.hpp"

namespace estate::audit {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("estate-audit-test-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = store::open_store(dir_.path(), store::OpenMode::read_write_create); }

  StoredEntry add(const std::string& kind, const std::string& room, const std::string& ts,
                  const std::string& detail = "{}") {
    store::Transaction tx(db_);
    Entry e;
    e.ts = ts;
    e.kind = kind;
    e.actor = "platform:cmd-1";
    e.subject = room.empty() ? "config" : "room:" + room;
    e.room = room;
    e.detail_json = detail;
    auto s = append(db_, e);
    tx.commit();
    return s;
  }

  void fill(int n) {
    for (int i = 1; i <= n; ++i) {
      add(i % 2 ? "money.topup" : "supply.valve", "1-10" + std::to_string(i % 3),
          "2026-11-23T08:0" + std::to_string(i) + ":00.000+08:00",
          R"({"amount_fen":)" + std::to_string(i * 100) + "}");
    }
  }

  void drop_triggers() {
    db_.exec(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
        "DROP TRIGGER audit_head_forward; DROP TRIGGER audit_anchors_no_delete;"
        "DROP TRIGGER audit_anchors_no_update;");
  }

  Break broken(const std::vector<AnchorRef>& ext = {}) {
    auto r = verify(db_, ext);
    EXPECT_FALSE(r.ok);
    if (!r.broken) return {};
    return *r.broken;
  }

  TempDir dir_;
  store::Database db_;
};

TEST(AuditHash, MatchesTheDocumentedConstruction) {
  // Computed independently with Python's hashlib from docs/security.md's description.
  StoredEntry e;
  e.seq = 1;
  e.ts = "2026-11-23T18:16:01.123+08:00";
  e.unix_ms = 1795428961123;
  e.kind = "money.topup";
  e.actor = "platform:cmd-7";
  e.subject = "room:1-101";
  e.room = "1-101";
  e.detail = R"({"amount_fen":5000,"ref":"T1"})";
  e.prev_hash = genesis_hash;
  EXPECT_EQ(entry_hash(e), "988967f3b5fb713adc916c632d3842d898bfe251435347e2b06cc93ef3e8d8fe");
}

TEST_F(AuditTest, AppendsChainAndVerifies) {
  StoredEntry first;
  {
    store::Transaction tx(db_);
    Entry e;
    e.ts = "2026-11-23T18:16:01.123+08:00";
    e.kind = "money.topup";
    e.actor = "platform:cmd-7";
    e.subject = "room:1-101";
    e.room = "1-101";
    e.detail_json = R"({"ref":"T1","amount_fen":5000})";
    first = append(db_, e);
    tx.commit();
  }
  EXPECT_EQ(first.seq, 1);
  EXPECT_EQ(first.prev_hash, genesis_hash);
  EXPECT_EQ(first.detail, R"({"amount_fen":5000,"ref":"T1"})");  // canonical: sorted, compact
  EXPECT_EQ(first.unix_ms, 1795428961123);
  EXPECT_EQ(first.hash, "988967f3b5fb713adc916c632d3842d898bfe251435347e2b06cc93ef3e8d8fe");
  fill(5);
  auto r = verify(db_);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.entries, 6);
  EXPECT_EQ(r.head.count, 6);
  EXPECT_EQ(r.head.hash, head(db_).hash);
}

TEST_F(AuditTest, EmptyLogVerifies) {
  auto r = verify(db_);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.entries, 0);
}

TEST_F(AuditTest, RejectsMalformedEntries) {
  Entry e;
  e.actor = "system";
  e.kind = "Money Topup";
  EXPECT_THROW(append(db_, e), std::invalid_argument);
  e.kind = "money.topup";
  e.detail_json = "[1,2]";
  EXPECT_THROW(append(db_, e), std::invalid_argument);
  e.detail_json = "{";
  EXPECT_THROW(append(db_, e), std::invalid_argument);
  e.detail_json = "{}";
  e.ts = "yesterday";
  EXPECT_THROW(append(db_, e), std::invalid_argument);
  e.ts.clear();
  e.actor.clear();
  EXPECT_THROW(append(db_, e), std::invalid_argument);
  EXPECT_EQ(head(db_).count, 0);
}

TEST_F(AuditTest, TriggersRefuseUpdateAndDelete) {
  fill(3);
  EXPECT_THROW(db_.exec("UPDATE audit_log SET detail = '{}' WHERE seq = 2"), store::Error);
  EXPECT_THROW(db_.exec("DELETE FROM audit_log WHERE seq = 3"), store::Error);
  EXPECT_THROW(db_.exec("UPDATE audit_head SET seq = 2"), store::Error);
  EXPECT_TRUE(verify(db_).ok);
}

TEST_F(AuditTest, EntryCommitsOnlyWithItsTransaction) {
  {
    store::Transaction tx(db_);
    Entry e;
    e.kind = "money.charge";
    e.actor = "system";
    append(db_, e);
    // no commit: the money movement and its entry roll back together
  }
  EXPECT_EQ(head(db_).count, 0);
  EXPECT_TRUE(verify(db_).ok);
}

TEST_F(AuditTest, CatchesEditedDetail) {
  fill(5);
  drop_triggers();
  db_.exec(R"(UPDATE audit_log SET detail = '{"amount_fen":1}' WHERE seq = 3)");
  auto b = broken();
  EXPECT_EQ(b.seq, 3);
  EXPECT_EQ(b.problem, "modified");
}

TEST_F(AuditTest, CatchesEditedHash) {
  fill(5);
  drop_triggers();
  db_.exec("UPDATE audit_log SET hash = '" + std::string(64, 'a') + "' WHERE seq = 2");
  auto b = broken();
  EXPECT_EQ(b.seq, 2);
  EXPECT_EQ(b.problem, "modified");
}

TEST_F(AuditTest, CatchesRewrittenEntryWithRecomputedHash) {
  fill(5);
  drop_triggers();
  auto rows = query(db_, {});
  StoredEntry e = rows[2];
  e.detail = R"({"amount_fen":1})";
  e.hash = entry_hash(e);
  db_.prepare("UPDATE audit_log SET detail = ?1, hash = ?2 WHERE seq = 3")
      .bind(1, e.detail)
      .bind(2, e.hash)
      .run();
  auto b = broken();
  EXPECT_EQ(b.seq, 3);
  EXPECT_EQ(b.problem, "rewritten");
}

TEST_F(AuditTest, CatchesDeletedMiddleEntry) {
  fill(5);
  drop_triggers();
  db_.exec("DELETE FROM audit_log WHERE seq = 3");
  auto b = broken();
  EXPECT_EQ(b.seq, 3);
  EXPECT_EQ(b.problem, "missing");
  EXPECT_NE(b.message.find("entry 3 is missing"), std::string::npos) << b.message;
}

TEST_F(AuditTest, CatchesDeletedFirstEntry) {
  fill(3);
  drop_triggers();
  db_.exec("DELETE FROM audit_log WHERE seq = 1");
  auto b = broken();
  EXPECT_EQ(b.seq, 1);
  EXPECT_EQ(b.problem, "missing");
}

TEST_F(AuditTest, DeletedTailIsCaughtByTheRecordedHead) {
  fill(5);
  drop_triggers();
  db_.exec("DELETE FROM audit_log WHERE seq = 5");
  auto b = broken();
  EXPECT_EQ(b.seq, 5);
  EXPECT_EQ(b.problem, "tail_missing");
}

TEST_F(AuditTest, DeletedTailWithForgedHeadIsCaughtOnlyByAnAnchor) {
  fill(5);
  const Head anchored = head(db_);
  {
    store::Transaction tx(db_);
    ASSERT_TRUE(anchor(db_, "gw-1", "2026-11-23T09:00:00.000+08:00"));
    tx.commit();
  }
  drop_triggers();
  auto rows = query(db_, {});
  db_.exec("DELETE FROM audit_log WHERE seq = 5");
  db_.prepare("UPDATE audit_head SET seq = 4, hash = ?1").bind(1, rows[3].hash).run();
  auto b = broken();
  EXPECT_EQ(b.problem, "tail_missing");
  EXPECT_EQ(b.seq, 5);
  EXPECT_NE(b.message.find("5 entries were anchored"), std::string::npos) << b.message;

  // With the local anchors deleted as well, only the platform's copy of the head tells.
  db_.exec("DELETE FROM audit_anchors");
  EXPECT_TRUE(verify(db_).ok);
  auto ext = broken({{anchored.count, anchored.hash}});
  EXPECT_EQ(ext.problem, "tail_missing");
  EXPECT_NE(ext.message.find("given anchor"), std::string::npos) << ext.message;
}

TEST_F(AuditTest, AnchorMismatchWhenTheWholeChainIsRecomputed) {
  fill(4);
  const Head anchored = head(db_);
  drop_triggers();
  // An attacker who rewrites entry 2 and recomputes every hash after it.
  auto rows = query(db_, {});
  rows[1].detail = R"({"amount_fen":0})";
  std::string prev = rows[0].hash;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    rows[i].prev_hash = prev;
    rows[i].hash = entry_hash(rows[i]);
    prev = rows[i].hash;
    db_.prepare("UPDATE audit_log SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4")
        .bind(1, rows[i].detail)
        .bind(2, rows[i].prev_hash)
        .bind(3, rows[i].hash)
        .bind(4, rows[i].seq)
        .run();
  }
  db_.prepare("UPDATE audit_head SET hash = ?1").bind(1, prev).run();
  EXPECT_TRUE(verify(db_).ok);  // locally consistent...
  auto b = broken({{anchored.count, anchored.hash}});  // ...but not what the platform was sent
  EXPECT_EQ(b.problem, "anchor_mismatch");
  EXPECT_EQ(b.seq, 4);
}

TEST_F(AuditTest, CatchesReorderedEntries) {
  fill(5);
  drop_triggers();
  db_.exec(
      "UPDATE audit_log SET seq = -4 WHERE seq = 4;"
      "UPDATE audit_log SET seq = 4 WHERE seq = 2;"
      "UPDATE audit_log SET seq = 2 WHERE seq = -4;");
  auto b = broken();
  EXPECT_EQ(b.seq, 2);
  EXPECT_EQ(b.problem, "reordered");
}

TEST_F(AuditTest, CatchesAdjacentSwap) {
  fill(5);
  drop_triggers();
  db_.exec(
      "UPDATE audit_log SET seq = -1 WHERE seq = 3;"
      "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
      "UPDATE audit_log SET seq = 4 WHERE seq = -1;");
  auto b = broken();
  EXPECT_EQ(b.seq, 3);
  EXPECT_EQ(b.problem, "reordered");
}

TEST_F(AuditTest, CatchesInsertedEntries) {
  fill(3);
  drop_triggers();
  auto last = head(db_);
  // A forged entry after the last one, with a made-up hash.
  db_.prepare(
        "INSERT INTO audit_log VALUES(4, '2026-11-23T09:00:00+08:00', 0, 'money.refund', 'x', "
        "'room:1-101', '1-101', '{}', ?1, ?2)")
      .bind(1, last.hash)
      .bind(2, std::string(64, 'b'))
      .run();
  auto b = broken();
  EXPECT_EQ(b.seq, 4);
  EXPECT_EQ(b.problem, "modified");

  // The same forged entry with a correctly computed hash: beyond the recorded head.
  StoredEntry f;
  f.seq = 4;
  f.ts = "2026-11-23T09:00:00+08:00";
  f.kind = "money.refund";
  f.actor = "x";
  f.subject = "room:1-101";
  f.room = "1-101";
  f.detail = "{}";
  f.prev_hash = last.hash;
  f.hash = entry_hash(f);
  db_.prepare("UPDATE audit_log SET hash = ?1 WHERE seq = 4").bind(1, f.hash).run();
  b = broken();
  EXPECT_EQ(b.seq, 4);
  EXPECT_EQ(b.problem, "inserted");

  db_.exec("DELETE FROM audit_log WHERE seq = 4");
  EXPECT_TRUE(verify(db_).ok);
  db_.prepare(
        "INSERT INTO audit_log VALUES(0, '2026-11-23T09:00:00+08:00', 0, 'money.refund', 'x', "
        "'', '', '{}', ?1, ?1)")
      .bind(1, genesis_hash)
      .run();
  b = broken();
  EXPECT_EQ(b.seq, 0);
  EXPECT_EQ(b.problem, "inserted");
}

TEST_F(AuditTest, AnchorsOnlyWhenTheLogGrew) {
  {
    store::Transaction tx(db_);
    EXPECT_FALSE(anchor(db_, "gw-1", "2026-11-23T09:00:00.000+08:00"));  // empty log
    tx.commit();
  }
  fill(2);
  std::optional<std::int64_t> seq;
  {
    store::Transaction tx(db_);
    seq = anchor(db_, "gw-1", "2026-11-23T09:00:00.000+08:00");
    EXPECT_FALSE(anchor(db_, "gw-1", "2026-11-23T09:00:01.000+08:00"));
    tx.commit();
  }
  ASSERT_TRUE(seq);
  auto st = db_.prepare("SELECT stream, payload FROM outbox WHERE seq = ?1");
  st.bind(1, *seq);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), "audit");
  auto payload = st.text(1);
  EXPECT_NE(payload.find(R"("kind":"audit.anchor")"), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("count":2)"), std::string::npos) << payload;
  EXPECT_NE(payload.find(head(db_).hash), std::string::npos) << payload;
  EXPECT_NE(payload.find(R"("id":"gw-1-)"), std::string::npos) << payload;
  auto r = verify(db_);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.anchors_checked, 1);
}

TEST_F(AuditTest, QueryFilters) {
  fill(6);  // odd i: money.topup, even: supply.valve; rooms 1-10(i%3); 08:0i
  EXPECT_EQ(query(db_, {}).size(), 6u);
  Filter f;
  f.kind = "money";
  EXPECT_EQ(query(db_, f).size(), 3u);
  f.kind = "money.topup";
  EXPECT_EQ(query(db_, f).size(), 3u);
  f.kind = "mone";  // not a family
  EXPECT_EQ(query(db_, f).size(), 0u);
  f = {};
  f.room = "1-100";  // i = 3, 6
  auto by_room = query(db_, f);
  ASSERT_EQ(by_room.size(), 2u);
  EXPECT_EQ(by_room[0].seq, 3);
  f = {};
  f.since_ms = parse_time_ms("2026-11-23T08:02", 480);
  f.until_ms = parse_time_ms("2026-11-23T00:05:00Z", 0);
  auto by_time = query(db_, f);
  ASSERT_EQ(by_time.size(), 3u);  // 08:02, 08:03, 08:04
  EXPECT_EQ(by_time.front().seq, 2);
  f = {};
  f.limit = 2;
  auto newest = query(db_, f);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].seq, 5);
  EXPECT_EQ(newest[1].seq, 6);
}

TEST(AuditTime, ParsesIsoForms) {
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:00Z", 0), 0);
  EXPECT_EQ(parse_time_ms("1970-01-01T08:00:00+08:00", 0), 0);
  EXPECT_EQ(parse_time_ms("1970-01-01T08:00", 480), 0);
  EXPECT_EQ(parse_time_ms("1970-01-02", 0), 86400000);
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:01.5Z", 0), 1500);
  EXPECT_EQ(parse_time_ms("1969-12-31T23:59:59.000-00:00", 0), -1000);
  EXPECT_FALSE(parse_time_ms("2026-02-30", 0));
  EXPECT_FALSE(parse_time_ms("2026-11-23T25:00", 0));
  EXPECT_FALSE(parse_time_ms("2026-11-23T08:00+8", 0));
  EXPECT_FALSE(parse_time_ms("", 0));
}

TEST(AuditAnchorRef, Parses) {
  auto a = parse_anchor_ref("12:" + std::string(64, 'a'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->count, 12);
  EXPECT_FALSE(parse_anchor_ref("12:" + std::string(63, 'a')));
  EXPECT_FALSE(parse_anchor_ref(":" + std::string(64, 'a')));
  EXPECT_FALSE(parse_anchor_ref("x:" + std::string(64, 'a')));
}

config::Diagnostics load(const std::string& yaml) {
  config::Diagnostics diag;
  (void)config::load_site_config_text("site:\n  id: s\ngateway:\n  id: g\n" + yaml,
                                      "/etc/estate-edge/site.yaml", diag);
  return diag;
}

TEST(SecurityConfig, ParsesAndValidatesWithLocations) {
  config::Diagnostics diag;
  auto cfg = config::load_site_config_text(
      "site:\n  id: s\ngateway:\n  id: g\nsecurity:\n  backup:\n    key_file: backup.key\n"
      "    dir: /var/backups/ee\n    daily_at: \"04:15\"\n    keep: 3\n  privacy:\n"
      "    key_file: /etc/k\n    access_event_retention_days: 30\n  audit:\n"
      "    anchor_interval_s: 600\n",
      "/etc/estate-edge/site.yaml", diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  auto s = audit::security_config_of(*cfg);
  EXPECT_EQ(s.backup.key_file, "/etc/estate-edge/backup.key");
  EXPECT_EQ(s.backup.dir, "/var/backups/ee");
  EXPECT_EQ(s.backup.hour, 4);
  EXPECT_EQ(s.backup.minute, 15);
  EXPECT_EQ(s.backup.keep, 3);
  EXPECT_EQ(s.privacy.key_file, "/etc/k");
  EXPECT_EQ(s.privacy.access_event_retention_days, 30);
  EXPECT_EQ(s.audit.anchor_interval, std::chrono::seconds(600));

  auto d = load("security:\n  backup:\n    dir: /b\n    daily_at: \"25:00\"\n    kep: 3\n");
  ASSERT_EQ(d.errors().size(), 3u) << d.to_string();
  auto text = d.to_string();
  EXPECT_NE(text.find("site.yaml:7:10: security.backup.dir: scheduled backups need"),
            std::string::npos) << text;
  EXPECT_NE(text.find("site.yaml:8:15: security.backup.daily_at"), std::string::npos) << text;
  EXPECT_NE(text.find("security.backup.kep"), std::string::npos) << text;
  auto d2 = load("security:\n  audit:\n    anchor_interval_s: 1\n");
  EXPECT_NE(d2.to_string().find("security.audit.anchor_interval_s: 1 is out of range"),
            std::string::npos) << d2.to_string();
  // The retention of access events: a whole number of days, 1..3650, with its place.
  for (const char* bad : {"0", "3651", "\"a week\""}) {
    auto d3 = load(std::string("security:\n  privacy:\n    access_event_retention_days: ") + bad +
                   "\n");
    ASSERT_EQ(d3.errors().size(), 1u) << bad;
    EXPECT_NE(d3.to_string().find("site.yaml:7:34: security.privacy.access_event_retention_days"),
              std::string::npos)
        << d3.to_string();
  }
}

}  // namespace
}  // namespace estate::audit
