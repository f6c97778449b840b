// The domains append to the audit log in the transaction that makes the change: billing's
// charges, top-ups and valve/relay actions, and every state change of a kiosk payment. Real
// store on disk; the chain verifies afterwards and every money entry points at its outbox
// record.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <mutex>

#include "daemon/audit/audit.hpp"
#include "daemon/billing/engine.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/kiosk/journal.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::audit {
namespace {

namespace fs = std::filesystem;

const char* kSite = R"(site: { id: s, utc_offset: "+08:00" }
gateway: { id: gw }
buses:
  - { id: water-bus, kind: serial, protocol: cjt188, device: /dev/null }
  - { id: power-bus, kind: serial, protocol: dlt645, device: /dev/null }
devices:
  - { id: w101, kind: meter, bus: water-bus, address: "00000000000101", medium: water, valve_policy: close_on_zero }
  - { id: p101, kind: meter, bus: power-bus, address: "000000000101", medium: electricity, valve_policy: close_on_zero }
tariffs:
  - { id: water, quantity: water, unit: m3, price: "5.00" }
  - { id: power, quantity: electricity, unit: kWh, price: "0.50" }
accounts:
  - room: "101"
    prepaid: { low_balance_fen: [1000], credit_limit_fen: 0, grace_minutes: 0 }
    meters:
      - { meter: w101, tariff: water }
      - { meter: p101, tariff: power }
)";

class Valves : public billing::DeviceActions {
 public:
  void request(const std::string&, billing::SupplyAction a, std::function<void(Answer)> done) override {
    done({true, "ack " + std::string(billing::to_string(a))});
  }
};

class DomainAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("domain-audit");
    store_ = std::make_unique<store::Store>(dir_);
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void start_billing() {
    config::Diagnostics diag;
    auto site = config::load_site_config_text(kSite, "site.yaml", diag);
    ASSERT_TRUE(site) << diag.to_string();
    auto cfg = billing::billing_config_from(*site, diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    engine_ = std::make_unique<billing::Engine>(
        *store_, std::make_shared<const billing::BillingConfig>(std::move(*cfg)), "gw", 480,
        &valves_);
    engine_->start();
  }
  std::vector<StoredEntry> entries(const std::string& kind = "") {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    Filter f;
    f.kind = kind;
    return query(db, f);
  }
  void expect_chain_ok() {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    auto r = verify(db);
    EXPECT_TRUE(r.ok) << (r.broken ? r.broken->message : "");
  }
  std::int64_t count(const std::string& sql) {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    return db.query_int(sql);
  }
  billing::TimePoint at(std::int64_t minute) {
    return billing::TimePoint{std::chrono::seconds{1772323200 + minute * 60}};
  }

  fs::path dir_;
  Valves valves_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<billing::Engine> engine_;
};

TEST_F(DomainAuditTest, BillingAuditsEveryMoneyMovementAndSupplyAction) {
  start_billing();
  engine_->top_up_sync("101", 2000, "kiosk", "pay-1", at(0));
  // 3 m3 x 5.00 = 15.00, then 2 m3 = 10.00: the balance goes below zero and both meters close.
  engine_->post_reading_sync({"w101", 3000, 1, at(10), std::nullopt});
  engine_->post_reading_sync({"w101", 2000, 2, at(20), std::nullopt});
  // The same reading and the same payment again: nothing moves, nothing is audited.
  engine_->post_reading_sync({"w101", 2000, 2, at(20), std::nullopt});
  engine_->top_up_sync("101", 2000, "kiosk", "pay-1", at(0));
  // A top-up re-opens both.
  auto t = engine_->top_up_sync("101", 5000, "pos", "pay-2", at(30));
  EXPECT_TRUE(t.reopened);

  auto charges = entries("money.charge");
  auto topups = entries("money.topup");
  ASSERT_EQ(charges.size(), 2u);
  ASSERT_EQ(topups.size(), 2u);
  EXPECT_EQ(static_cast<std::int64_t>(charges.size()), count("SELECT count(*) FROM billing_charges"));
  EXPECT_EQ(static_cast<std::int64_t>(topups.size()), count("SELECT count(*) FROM billing_topups"));
  auto c = nlohmann::json::parse(charges[1].detail);
  EXPECT_EQ(charges[1].room, "101");
  EXPECT_EQ(charges[1].subject, "room:101");
  EXPECT_EQ(charges[1].actor, "system");
  EXPECT_EQ(c["amount_fen"], 1000);
  EXPECT_EQ(c["balance_fen"], -500);
  EXPECT_EQ(c["ref"], "reading:w101:2");
  EXPECT_EQ(c["meter"], "w101");
  auto p = nlohmann::json::parse(topups[1].detail);
  EXPECT_EQ(p["amount_fen"], 5000);
  EXPECT_EQ(p["source"], "pos");
  EXPECT_EQ(p["ref"], "pay-2");
  // Every money entry names the outbox record the platform receives.
  for (const auto& e : entries("money")) {
    auto seq = nlohmann::json::parse(e.detail)["outbox_seq"].get<std::int64_t>();
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'transactions' AND seq = " +
                    std::to_string(seq)),
              1)
        << e.detail;
  }

  // Valve and relay: close requested and done, open requested and done, for each meter.
  auto valve = entries("supply.valve");
  auto relay = entries("supply.relay");
  ASSERT_EQ(valve.size(), 4u);
  ASSERT_EQ(relay.size(), 4u);
  std::map<std::string, int> seen;
  for (const auto& e : valve) {
    auto d = nlohmann::json::parse(e.detail);
    EXPECT_EQ(e.subject, "device:w101");
    EXPECT_EQ(e.room, "101");
    ++seen[d["action"].get<std::string>() + "/" + d["state"].get<std::string>()];
  }
  EXPECT_EQ(seen, (std::map<std::string, int>{{"close/done", 1}, {"close/requested", 1},
                                              {"open/done", 1}, {"open/requested", 1}}));
  EXPECT_EQ(nlohmann::json::parse(relay.front().detail)["action"], "trip");
  expect_chain_ok();
}

TEST_F(DomainAuditTest, EveryPaymentStateChangeIsAudited) {
  kiosk::Journal journal(*store_, "gw", 480);
  auto p = journal.create("1-2-301", "pay", "card", 3000, "kiosk-lobby");
  ASSERT_TRUE(journal.to_authorising(p.id));
  ASSERT_TRUE(journal.to_approved(p.id, {"00", "A1", "R1", "****5678", "approved"}));
  ASSERT_TRUE(journal.to_receipt_printed(p.id));
  auto q = journal.create("1-2-301", "topup", "card", 500, "kiosk-lobby");
  ASSERT_TRUE(journal.to_authorising(q.id));
  ASSERT_TRUE(journal.to_reversed(q.id, {"00", "A2", "R2", "", "reversed: amount mismatch"}));
  // A refused transition changes nothing and is not audited.
  EXPECT_FALSE(journal.to_approved(q.id, {"00", "", "", "", ""}));

  auto all = entries("money");
  ASSERT_EQ(all.size(), 7u);
  std::vector<std::string> seen;
  for (const auto& e : all) {
    auto d = nlohmann::json::parse(e.detail);
    seen.push_back(e.kind + ":" + d["state"].get<std::string>());
    EXPECT_EQ(e.room, "1-2-301");
    EXPECT_FALSE(e.detail.find("5678") != std::string::npos) << "no card digits in the audit";
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "money.payment:intent", "money.payment:authorising",
                      "money.payment:approved", "money.payment:receipt_printed",
                      "money.payment:intent", "money.payment:authorising",
                      "money.reversal:declined"}));
  EXPECT_EQ(all[0].actor, "token:kiosk-lobby");
  EXPECT_EQ(all[0].subject, "payment:" + p.id);
  EXPECT_EQ(all[2].actor, "system");
  expect_chain_ok();
}

}  // namespace
}  // namespace estate::audit
