#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>

#include "daemon/record/record.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::record {
namespace {

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = estate::testing::fresh_test_dir("estate-record-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The stored payload text of the record at `seq`, and its stream.
  std::pair<std::string, std::string> stored(std::int64_t seq) {
    auto db = store::open_store(dir_, store::OpenMode::read_write_create);
    auto st = db.prepare("SELECT stream, payload, droppable FROM outbox WHERE seq = ?1");
    st.bind(1, seq);
    EXPECT_TRUE(st.step());
    return {st.text(0), st.text(1)};
  }
  std::filesystem::path dir_;
};

TEST_F(RecordTest, AReadingKeepsTheMetersDecimalTextAndIsStoredAsEncoded) {
  Appended a;
  {
    store::Store s(dir_);
    s.write_sync([&](store::Database& db) {
      Reading r;
      r.ts = "2026-11-23T10:00:00.000+08:00";
      r.meter = "m-1";
      r.medium = "electricity";
      r.quantity = "energy_import";
      r.value = drivers::Decimal{123450, -2};
      r.unit = "kWh";
      r.delta = drivers::Decimal{1000, -3};
      a = append(db, "gw", r);
    });
  }
  const auto [stream, payload] = stored(a.seq);
  EXPECT_EQ(stream, "readings");
  EXPECT_EQ(payload, a.payload);  // the store kept the one encoding
  EXPECT_EQ(payload,
            R"({"v":2,"id":"gw-1","seq":1,"ts":"2026-11-23T10:00:00.000+08:00","kind":"reading",)"
            R"("meter":"m-1","medium":"electricity","quantity":"energy_import","value":"1234.50",)"
            R"("unit":"kWh","quality":"good","delta":"1.000"})");
}

TEST_F(RecordTest, AnAlarmHasTheAgreedShapeOnStreamAlarms) {
  Appended raised, cleared;
  {
    store::Store s(dir_);
    s.write_sync([&](store::Database& db) {
      Alarm al;
      al.ts = "T";
      al.alarm = "backup_failed";
      al.state = AlarmState::raised;
      al.severity = Severity::critical;
      al.detail = "no space left on device";
      raised = append(db, "gw", al);
      al.state = AlarmState::cleared;
      al.severity = Severity::info;
      al.device = "m-7";
      cleared = append(db, "gw", al);
    });
  }
  auto [stream, payload] = stored(raised.seq);
  EXPECT_EQ(stream, "alarms");
  auto j = nlohmann::json::parse(payload);
  EXPECT_EQ(j, nlohmann::json::parse(
                   R"({"v":2,"id":"gw-1","seq":1,"ts":"T","kind":"alarm","alarm":"backup_failed",
                       "state":"raised","severity":"critical","detail":"no space left on device"})"));
  j = nlohmann::json::parse(stored(cleared.seq).second);
  EXPECT_EQ(j["state"], "cleared");
  EXPECT_EQ(j["severity"], "info");
  EXPECT_EQ(j["device"], "m-7");
}

TEST_F(RecordTest, KindNamesTheTypeAndPaymentKindIsItsOwnMember) {
  store::Store s(dir_);
  Appended pay, charge;
  s.write_sync([&](store::Database& db) {
    Payment p;
    p.ts = "T";
    p.payment_id = "p1";
    p.status = "approved";
    p.room = "1-101";
    p.payment_kind = "topup";
    p.method = "card";
    p.amount_fen = 500;
    p.source = "kiosk";
    pay = append(db, "gw", p);
    Charge c;
    c.ts = "T";
    c.charge_kind = "late_fee";
    c.ref = "late:1";
    c.room = "1-101";
    c.amount_fen = 3;
    c.balance_fen = -103;
    c.detail = {{"days_overdue", 4}};
    charge = append(db, "gw", c);
  });
  auto p = nlohmann::json::parse(pay.payload);
  EXPECT_EQ(p["kind"], "payment");
  EXPECT_EQ(p["payment_kind"], "topup");
  EXPECT_FALSE(p.contains("auth_code"));  // empty optional members are omitted
  auto c = nlohmann::json::parse(charge.payload);
  EXPECT_EQ(c["kind"], "charge");
  EXPECT_EQ(c["charge_kind"], "late_fee");
  EXPECT_EQ(c["days_overdue"], 4);
}

TEST_F(RecordTest, ADetailCannotOverwriteATypedMemberAndNothingIsStored) {
  store::Store s(dir_);
  Charge c;
  c.charge_kind = "usage";
  c.detail = {{"amount_fen", 1}};
  EXPECT_THROW(s.write_sync([&](store::Database& db) { append(db, "gw", c); }),
               std::invalid_argument);
  auto r = s.open_reader();
  EXPECT_EQ(r.query_int("SELECT count(*) FROM outbox"), 0);
}

TEST_F(RecordTest, TheUntypedPathKeepsTheCallersTextAndRefusesEnvelopeMembers) {
  store::Store s(dir_);
  std::string payload;
  s.write_sync([&](store::Database& db) {
    store::append_outbox(db, "gw", "audit", "T", R"({"kind":"x","value":1234.50})", false);
    EXPECT_THROW(store::append_outbox(db, "gw", "audit", "T", R"({"seq":9})", false),
                 std::invalid_argument);
    EXPECT_THROW(store::append_outbox(db, "gw", "audit", "T", "[1]", false), std::invalid_argument);
  });
  auto r = s.open_reader();
  auto st = r.prepare("SELECT payload FROM outbox");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), R"({"v":2,"id":"gw-1","seq":1,"ts":"T","kind":"x","value":1234.50})");
  EXPECT_FALSE(st.step());
}

}  // namespace
}  // namespace estate::record
