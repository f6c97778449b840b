// The billing engine against a real store on disk and a simulated valve/relay behind the
// DeviceActions boundary: prepaid run-down, valve closed and re-opened, exactly-once posting
// across a restart, the carry-forward rounding, shared meters, late fees and arrears.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "daemon/billing/engine.hpp"
#include "daemon/config/site_config.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::billing {
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
  - { id: w102, kind: meter, bus: water-bus, address: "00000000000102", medium: water }
  - { id: w103, kind: meter, bus: water-bus, address: "00000000000103", medium: water }
  - { id: w104, kind: meter, bus: water-bus, address: "00000000000104", medium: water }
  - { id: wmain, kind: meter, bus: water-bus, address: "00000000000999", medium: water }
tariffs:
  - id: water-res
    quantity: water
    unit: m3
    cycle: year
    tiers:
      - { upto: 180, price: "5.00" }
      - { upto: 260, price: "7.00" }
      - { price: "9.00" }
  - id: water-month
    quantity: water
    unit: m3
    cycle: month
    tiers:
      - { upto: 10, price: "3.4567" }
      - { upto: 20, price: "4.5678" }
      - { price: "6.7891" }
  - { id: water-common, quantity: water, unit: m3, price: "3.3333" }
  - id: power-tou
    quantity: electricity
    unit: kWh
    cycle: month
    periods:
      - { name: peak, times: ["08:00-12:00", "17:00-21:00"], price: "0.9500" }
      - { name: flat, times: ["12:00-17:00", "21:00-23:00"], price: "0.6500" }
      - { name: valley, times: ["23:00-08:00"], price: "0.3500" }
accounts:
  - room: "101"
    area_m2: "80.00"
    headcount: 3
    prepaid: { low_balance_fen: [5000, 1000], credit_limit_fen: 0, grace_minutes: 0 }
    meters:
      - { meter: w101, tariff: water-res }
      - { meter: p101, tariff: power-tou }
  - room: "102"
    area_m2: "80.00"
    prepaid: { grace_minutes: 60 }
    meters: [{ meter: w102, tariff: water-res }]
  - room: "103"
    area_m2: "80.00"
    meters: [{ meter: w103, tariff: water-month }]
  - room: "104"
    meters: [{ meter: w104, tariff: water-month }]
shared_meters:
  - { id: common, master: wmain, subs: [w101, w102, w103], tariff: water-common, basis: area,
      rooms: ["101", "102", "103"], loss_alert_percent: "10" }
late_fees: { daily_rate: "0.0005", grace_days: 15, cap_percent: "100" }
arrears:
  levels:
    - { level: 1, min_days: 1, min_fen: 1, actions: [warn] }
    - { level: 2, min_days: 30, min_fen: 10000, actions: [warn, charge_as_visitor, deny_gate] }
    - { level: 3, min_days: 90, min_fen: 10000, actions: [warn, deny_gate, close_valve] }
)";

// A valve and relay per meter, as the bus driver would drive them: answers at once.
class SimulatedValves : public DeviceActions {
 public:
  void request(const std::string& meter, SupplyAction action,
               std::function<void(Answer)> done) override {
    {
      std::lock_guard lock(mutex_);
      log_.push_back(meter + ":" + std::string(to_string(action)));
      const bool close = action == SupplyAction::valve_close || action == SupplyAction::relay_trip;
      state_[meter] = close ? "closed" : "open";
    }
    done({true, "ack " + std::string(to_string(action))});
  }
  std::string state(const std::string& meter) {
    std::lock_guard lock(mutex_);
    auto it = state_.find(meter);
    return it == state_.end() ? "open" : it->second;
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> state_;
  std::vector<std::string> log_;
};

TimePoint at(const char* local) {
  auto s = parse_local_time(local);
  if (!s) throw std::invalid_argument(local);
  return TimePoint{std::chrono::seconds{*s - 8 * 3600}};
}

UsageMilli u(const char* text) { return *parse_decimal(text, usage_places); }

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("billing-engine");
    config::Diagnostics diag;
    auto site = config::load_site_config_text(kSite, "site.yaml", diag);
    ASSERT_TRUE(site) << diag.to_string();
    auto cfg = billing_config_from(*site, diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    config_ = std::make_shared<const BillingConfig>(std::move(*cfg));
    open();
  }
  void TearDown() override {
    close();
    fs::remove_all(dir_);
  }
  void open(DeviceActions* actions = nullptr) {
    store_ = std::make_unique<store::Store>(dir_);
    engine_ = std::make_unique<Engine>(*store_, config_, "gw", 480, actions ? actions : &valves_);
    engine_->start();
  }
  void close() {
    engine_.reset();
    store_.reset();
  }
  void flush() { store_->write_sync([](store::Database&) {}); }
  std::int64_t count(const std::string& sql) {
    flush();
    auto db = store_->open_reader();
    return db.query_int(sql);
  }
  PostResult post(const char* meter, const char* usage, std::int64_t seq, const char* when,
                  const char* previous = nullptr) {
    ReadingDelta d{meter, u(usage), seq, at(when), std::nullopt};
    if (previous) d.previous = at(previous);
    return engine_->post_reading_sync(d);
  }

  fs::path dir_;
  std::shared_ptr<const BillingConfig> config_;
  SimulatedValves valves_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, PrepaidRunsDownClosesTheValveAndATopUpReopensIt) {
  EXPECT_EQ(engine_->top_up_sync("101", 10000, "kiosk", "pay-1", at("2026-03-01T09:00")).balance_fen, 10000);
  auto r = post("w101", "10", 1, "2026-03-01T10:00");  // 10 x 5.00 = 50.00
  EXPECT_EQ(r.status, PostResult::Status::posted);
  EXPECT_EQ(r.amount_fen, 5000);
  EXPECT_EQ(r.balance_fen, 5000);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.low_balance'"), 1);
  EXPECT_EQ(post("w101", "8", 2, "2026-03-02T10:00").balance_fen, 1000);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.low_balance'"), 2);
  EXPECT_EQ(valves_.state("w101"), "open");
  EXPECT_EQ(engine_->supply_state("101"), "open");

  // 2.5 m3 = 12.50: the balance goes to -2.50; no credit, no grace: both meters are cut.
  EXPECT_EQ(post("w101", "2.5", 3, "2026-03-03T10:00").balance_fen, -250);
  flush();
  EXPECT_EQ(valves_.state("w101"), "closed");
  EXPECT_EQ(valves_.state("p101"), "closed");
  EXPECT_EQ(engine_->supply_state("101"), "closed");
  EXPECT_EQ(count("SELECT count(*) FROM billing_actions WHERE state = 'done'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.supply_action_result' "
                  "AND detail LIKE '%\"ok\":true%'"), 2);

  // A further reading while closed is still billed; no second close is asked for.
  post("w101", "0.1", 4, "2026-03-03T11:00");
  EXPECT_EQ(count("SELECT count(*) FROM billing_actions"), 2);

  auto t = engine_->top_up_sync("101", 5000, "pos", "pay-2", at("2026-03-04T09:00"));
  EXPECT_TRUE(t.reopened);
  EXPECT_EQ(t.balance_fen, 5000 - 250 - 50);
  flush();
  EXPECT_EQ(valves_.state("w101"), "open");
  EXPECT_EQ(valves_.state("p101"), "open");
  EXPECT_EQ(engine_->supply_state("101"), "open");
  EXPECT_EQ(valves_.log(), (std::vector<std::string>{"w101:valve_close", "p101:relay_trip",
                                                     "w101:valve_open", "p101:relay_close"}));
  // The same payment again changes nothing.
  auto again = engine_->top_up_sync("101", 5000, "pos", "pay-2", at("2026-03-04T09:00"));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(engine_->balance_fen("101"), 4700);

  // Money on "transactions", actions and answers on "events".
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'transactions'"), 2 + 4);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'events' AND payload LIKE '%supply_action_requested%'"), 4);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'events' AND payload LIKE '%supply_action_result%'"), 4);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'events' AND payload LIKE '%balance_exhausted%'"), 1);
  EXPECT_EQ(count("SELECT sum(amount_fen) FROM billing_charges WHERE room = '101'"), 5000 + 4000 + 1250 + 50);
}

TEST_F(EngineTest, WarnOnlyPolicyWaitsForTheGraceThenWarns) {
  engine_->top_up_sync("102", 1000, "platform", "p-102", at("2026-03-01T09:00"));
  EXPECT_EQ(post("w102", "3", 1, "2026-03-01T10:00").balance_fen, -500);
  EXPECT_EQ(engine_->supply_state("102"), "open");
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.balance_exhausted'"), 1);
  engine_->tick_sync(at("2026-03-01T10:59:59"));
  EXPECT_EQ(engine_->supply_state("102"), "open");
  engine_->tick_sync(at("2026-03-01T11:00"));
  EXPECT_EQ(engine_->supply_state("102"), "warned");
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.supply_warning'"), 1);
  EXPECT_TRUE(valves_.log().empty());
  engine_->top_up_sync("102", 1000, "platform", "p-102b", at("2026-03-02T09:00"));
  EXPECT_EQ(engine_->supply_state("102"), "open");
}

TEST_F(EngineTest, AChargeIsPostedExactlyOncePerReadingAcrossARestart) {
  auto first = post("w103", "12.345", 7, "2026-03-01T10:00");
  ASSERT_EQ(first.status, PostResult::Status::posted);
  const auto outbox = count("SELECT count(*) FROM outbox");
  close();  // the process goes away; the store is all that is left
  open();
  auto again = post("w103", "12.345", 7, "2026-03-01T10:00");
  EXPECT_EQ(again.status, PostResult::Status::duplicate);
  EXPECT_EQ(again.amount_fen, first.amount_fen);
  EXPECT_EQ(again.balance_fen, first.balance_fen);
  EXPECT_EQ(count("SELECT count(*) FROM billing_charges WHERE meter = 'w103' AND reading_seq = 7"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), outbox);
  EXPECT_EQ(engine_->balance_fen("103"), first.balance_fen);
  // The cycle's usage was counted once too: the next reading starts where the first ended.
  auto next = post("w103", "1", 8, "2026-03-01T11:00");
  EXPECT_EQ(next.amount_fen, 457);  // tier 2 at 4.5678
}

TEST_F(EngineTest, CycleRollOverRestartsTheTiers) {
  EXPECT_EQ(post("w103", "20", 1, "2026-01-31T23:59").amount_fen, 3457 + 4568);  // 34.567 + 45.678
  // Tier 3: 6.7891 alone would be 679 fen, but the cycle's running total 87.0341 rounds to
  // 8703 and 8025 were posted (80.245 rounded up): 678. See the carry-forward rule.
  EXPECT_EQ(post("w103", "1", 2, "2026-01-31T23:59:30").amount_fen, 678);
  EXPECT_EQ(post("w103", "1", 3, "2026-02-01T00:00").amount_fen, 346);            // tier 1 again
  EXPECT_EQ(count("SELECT count(*) FROM billing_cycles WHERE meter = 'w103'"), 2);
}

TEST_F(EngineTest, TimeOfUseReadingAcrossAPeriodBoundary) {
  auto r = post("p101", "2", 1, "2026-03-01T08:30", "2026-03-01T07:30");
  EXPECT_EQ(r.amount_fen, 130);  // 1 kWh valley 0.35 + 1 kWh peak 0.95
  EXPECT_EQ(count("SELECT count(*) FROM billing_charges WHERE detail LIKE '%\"period\":\"valley\"%' "
                  "AND detail LIKE '%\"period\":\"peak\"%'"), 1);
}

// However a cycle's usage is cut into readings, the fen posted add up to the same total: each
// charge posts round(running exact total) - fen already posted.
TEST_F(EngineTest, SplittingReadingsNeverChangesTheCycleTotal) {
  std::mt19937_64 rng(8);
  std::int64_t seq = 1;
  for (int trial = 0; trial < 24; ++trial) {
    const int year = 2030 + trial / 12, month = 1 + trial % 12;
    char when[32];
    std::snprintf(when, sizeof when, "%04d-%02d-10T10:00", year, month);
    const UsageMilli total = static_cast<UsageMilli>(rng() % 40000);
    ReadingDelta whole{"w103", total, seq++, at(when), std::nullopt};
    const Fen one = engine_->post_reading_sync(whole).amount_fen;
    UsageMilli left = total;
    Fen sum = 0;
    for (int piece = 0; left > 0 || piece == 0; ++piece) {
      const UsageMilli part = piece == 3 ? left : static_cast<UsageMilli>(rng() % (left + 1));
      ReadingDelta d{"w104", part, seq++, at(when) + std::chrono::seconds(piece), std::nullopt};
      sum += engine_->post_reading_sync(d).amount_fen;
      left -= part;
    }
    ASSERT_EQ(sum, one) << "trial " << trial << " usage " << total;
  }
}

TEST_F(EngineTest, SharedMeterAllocationWithTiedRemainders) {
  // master 100, subs 30 + 30 + 25: common 15 m3 x 3.3333 = 49.9995 yuan -> 5000 fen; equal
  // areas: 1666.67 each, remainders tie: the first two rooms in the list get the extra fen.
  auto r = engine_->allocate_shared_sync("common", "2026-03", u("100"),
                                         {{"w101", u("30")}, {"w102", u("30")}, {"w103", u("25")}},
                                         at("2026-04-01T00:00"));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.common_usage, u("15"));
  EXPECT_EQ(r.total_fen, 5000);
  EXPECT_EQ(r.parts, (std::map<std::string, Fen>{{"101", 1667}, {"102", 1667}, {"103", 1666}}));
  EXPECT_TRUE(r.loss_alert);  // 15 % > 10 %
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.shared_loss'"), 1);
  EXPECT_EQ(count("SELECT sum(amount_fen) FROM billing_charges WHERE kind = 'shared'"), 5000);
  auto again = engine_->allocate_shared_sync("common", "2026-03", u("100"),
                                             {{"w101", u("30")}, {"w102", u("30")}, {"w103", u("25")}},
                                             at("2026-04-01T00:00"));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(count("SELECT sum(amount_fen) FROM billing_charges WHERE kind = 'shared'"), 5000);
  EXPECT_THROW(engine_->allocate_shared_sync("common", "2026-04", u("1"), {{"w101", 0}}, at("2026-05-01T00:00")),
               std::invalid_argument);
}

TEST_F(EngineTest, LateFeesAccrueAfterGraceOncePerIncrement) {
  // 29 m3 in one month: 34.567 + 45.678 + 9 x 6.7891 = 141.3469 -> 141.35 owed from 03-01.
  EXPECT_EQ(post("w103", "29", 1, "2026-03-01T10:00").balance_fen, -14135);
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2026-03-16T10:00")), 0);  // day 15: grace
  // day 16: 14135 x 0.0005 x 1 = 7.0675 -> 7 fen
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2026-03-17T10:00")), 7);
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2026-03-17T12:00")), 0);
  // day 45: 30 days -> 212.025 -> 212 fen in all; 205 more.
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2026-04-15T10:00")), 205);
  EXPECT_EQ(engine_->balance_fen("103"), -14135 - 212);
  engine_->top_up_sync("103", 20000, "platform", "settle-103", at("2026-04-16T10:00"));
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2026-06-16T10:00")), 0);
}

TEST_F(EngineTest, ArrearsLevelsComputedPushedAndPersisted) {
  post("w103", "29", 1, "2026-03-01T10:00");  // owes 141.35 from 2026-03-01T10:00
  EXPECT_EQ(engine_->arrears_level("103", at("2026-03-02T09:59")).level, 0);
  auto l1 = engine_->arrears_level("103", at("2026-03-02T10:00"));
  EXPECT_EQ(l1.level, 1);
  EXPECT_EQ(l1.source, ArrearsLevel::Source::computed);
  auto l2 = engine_->arrears_level("103", at("2026-03-31T10:00"));
  EXPECT_EQ(l2.level, 2);
  EXPECT_TRUE(l2.has(deny_gate));
  EXPECT_FALSE(l2.has(close_valve));
  EXPECT_EQ(engine_->arrears_level("101").level, 0);

  auto ok = engine_->apply_arrears_list(R"({"version": 5, "rooms": [{"room": "101", "level": 3}, {"room": "103", "level": 0}]})");
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(engine_->arrears_level("101").level, 3);
  EXPECT_EQ(engine_->arrears_level("101").source, ArrearsLevel::Source::pushed);
  EXPECT_TRUE(engine_->arrears_level("101").has(close_valve));
  EXPECT_EQ(engine_->arrears_level("103", at("2026-03-31T10:00")).level, 0);  // pushed wins

  // All or nothing: one bad entry rejects the whole list; a stale version is refused.
  auto bad = engine_->apply_arrears_list(R"({"version": 6, "rooms": [{"room": "101", "level": 1}, {"room": "102", "level": 7}]})");
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("rooms[1].level: 7 is not a level"), std::string::npos) << bad.error;
  EXPECT_EQ(engine_->arrears_level("101").level, 3);
  auto stale = engine_->apply_arrears_list(R"({"version": 5, "rooms": []})");
  EXPECT_FALSE(stale.ok);
  EXPECT_NE(stale.error.find("not newer"), std::string::npos);
  EXPECT_FALSE(engine_->apply_arrears_list("{not json").ok);

  close();
  open();
  EXPECT_EQ(engine_->arrears_level("101").level, 3);
  EXPECT_EQ(count("SELECT value FROM billing_settings WHERE key = 'arrears_list_version'"), 5);

  // Level 3 closes the supply on the next tick; a top-up does not re-open it while it holds.
  engine_->top_up_sync("101", 10000, "kiosk", "pay-a", at("2026-03-01T09:00"));
  engine_->tick_sync(at("2026-03-01T09:01"));
  flush();
  EXPECT_EQ(valves_.state("w101"), "closed");
  EXPECT_EQ(valves_.state("p101"), "closed");
  EXPECT_FALSE(engine_->top_up_sync("101", 100, "kiosk", "pay-b", at("2026-03-01T09:02")).reopened);
  EXPECT_EQ(valves_.state("w101"), "closed");
}

TEST_F(EngineTest, WithoutADeviceDriverTheActionIsRecordedAsFailed) {
  close();
  store_ = std::make_unique<store::Store>(dir_);
  engine_ = std::make_unique<Engine>(*store_, config_, "gw", 480, nullptr);
  engine_->start();
  post("w101", "1", 1, "2026-03-01T10:00");  // balance 0 -> -5.00: close asked, nobody to do it
  EXPECT_EQ(count("SELECT count(*) FROM billing_actions WHERE state = 'failed'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.supply_action_result' "
                  "AND detail LIKE '%\"ok\":false%'"), 2);
}

TEST_F(EngineTest, RejectsBadInputWithoutTouchingTheStore) {
  const auto before = count("SELECT count(*) FROM outbox");
  ReadingDelta neg{"w101", -1, 99, at("2026-03-01T10:00"), std::nullopt};
  EXPECT_THROW(engine_->post_reading_sync(neg), std::invalid_argument);
  EXPECT_EQ(post("unknown-meter", "1", 1, "2026-03-01T10:00").status, PostResult::Status::not_billed);
  EXPECT_THROW(engine_->top_up_sync("101", 0, "kiosk", "x", at("2026-03-01T10:00")), std::invalid_argument);
  EXPECT_THROW(engine_->top_up_sync("999", 10, "kiosk", "x", at("2026-03-01T10:00")), std::invalid_argument);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), before);
  EXPECT_EQ(count("SELECT count(*) FROM billing_charges"), 0);
}

}  // namespace
}  // namespace estate::billing
