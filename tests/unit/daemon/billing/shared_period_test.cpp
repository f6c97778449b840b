// Shared-meter (公摊) allocation of a billing period from the store's readings, as the daemon
// runs it: a hand-worked month, exactly once across a second call and a restart, a period held
// back while a meter's readings do not cover it, and the period schedule.
#include <gtest/gtest.h>

#include <filesystem>

#include "daemon/billing/billing_component.hpp"
#include "daemon/billing/engine.hpp"
#include "daemon/config/site_config.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::billing {
namespace {

namespace fs = std::filesystem;

const char* kSite = R"(site: { id: s, utc_offset: "+08:00" }
gateway: { id: gw }
buses:
  - { id: power-bus, kind: serial, protocol: dlt645, device: /dev/null }
devices:
  - { id: main, kind: meter, bus: power-bus, address: "000000000999", medium: electricity }
  - { id: pa, kind: meter, bus: power-bus, address: "000000000101", medium: electricity }
  - { id: pb, kind: meter, bus: power-bus, address: "000000000102", medium: electricity }
  - { id: pc, kind: meter, bus: power-bus, address: "000000000103", medium: electricity }
tariffs:
  - { id: power-res, quantity: electricity, unit: kWh, price: "0.5000" }
  - { id: power-common, quantity: electricity, unit: kWh, price: "0.6543" }
accounts:
  - { room: "101", area_m2: "89.50", meters: [{ meter: pa, tariff: power-res }] }
  - { room: "102", area_m2: "60.25", meters: [{ meter: pb, tariff: power-res }] }
  - { room: "103", area_m2: "45.00", meters: [{ meter: pc, tariff: power-res }] }
shared_meters:
  - { id: common, master: main, subs: [pa, pb, pc], tariff: power-common, basis: area,
      rooms: ["101", "102", "103"] }
  - { id: quick, master: main, subs: [pa], tariff: power-common, basis: area, rooms: ["101"],
      period: 5m }
  - { id: even, master: main, subs: [pa, pb, pc], tariff: power-common, basis: equal,
      rooms: ["101", "102", "103"] }
)";

TimePoint at(const char* local) {
  auto s = parse_local_time(local);
  if (!s) throw std::invalid_argument(local);
  return TimePoint{std::chrono::seconds{*s - 8 * 3600}};
}

class SharedPeriodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("billing-shared-period");
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
  void open() {
    store_ = std::make_unique<store::Store>(dir_);
    engine_ = std::make_unique<Engine>(*store_, config_, "gw", 480, nullptr);
    engine_->start();
  }
  void close() {
    engine_.reset();
    store_.reset();
  }
  // A stored reading of the billed register, as the meter pipeline writes it.
  void reading(const char* meter, const char* value, const char* delta, const char* when) {
    const std::int64_t ms = at(when).time_since_epoch().count() * 1000;
    store_->write_sync([&](store::Database& db) {
      auto st = db.prepare("INSERT INTO readings(seq, meter, quantity, value, unit, delta, quality, "
                           "cumulative, ts, ts_ms, billed) VALUES(?1, ?2, 'active_energy_import', ?3,"
                           " 'kWh', ?4, 'good', 1, ?5, ?6, 1)");
      st.bind(1, ++seq_).bind(2, meter).bind(3, value);
      if (delta) st.bind(4, delta);
      else st.bind_null(4);
      st.bind(5, when).bind(6, ms).run();
    });
  }
  std::int64_t count(const std::string& sql) {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    return db.query_int(sql);
  }
  PeriodAllocation allocate(const char* now, const std::string& shared = "common") {
    const DuePeriod d = last_closed_period(*config_->find_shared(shared), at(now), 480);
    return engine_->allocate_period_sync(shared, d.period, at(now), period_usage);
  }
  // November 2026: master and sub-meters as worked in the first test.
  void november(bool with_pc_after_end = true) {
    reading("main", "1000.00", nullptr, "2026-10-31T23:00");   // baseline (October)
    reading("main", "1400.00", "400.00", "2026-11-15T12:00");
    reading("main", "1700.55", "300.55", "2026-11-30T23:30");
    reading("main", "1710.00", "9.45", "2026-12-01T00:30");    // December: closes November
    reading("pa", "250.10", "200.10", "2026-11-10T08:00");
    reading("pa", "300.10", "50.00", "2026-11-30T20:00");
    reading("pa", "301.00", "0.90", "2026-12-01T00:15");
    reading("pb", "180.25", "180.25", "2026-11-20T09:00");
    reading("pb", "180.25", "0.00", "2026-12-01T00:15");
    reading("pc", "150.00", "150.00", "2026-11-25T09:00");
    if (with_pc_after_end) reading("pc", "151.00", "1.00", "2026-12-01T00:20");
  }

  fs::path dir_;
  std::shared_ptr<const BillingConfig> config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
  std::int64_t seq_ = 0;
};

TEST_F(SharedPeriodTest, HandWorkedMonthExactFenPerRoom) {
  // Period 2026-11 = [2026-11-01T00:00+08:00, 2026-12-01T00:00+08:00); a reading counts in the
  // period of its own time.
  //   master main: 400.00 + 300.55                    = 700.550 kWh (9.45 is December's)
  //   subs: pa 200.10 + 50.00 = 250.100, pb 180.250, pc 150.000  -> sum 580.350 kWh
  //   common = 700.550 - 580.350 = 120.200 kWh x 0.6543 = 78.64686 yuan -> 7865 fen
  //   by area 89.50 / 60.25 / 45.00 m2 (weights 8950, 6025, 4500; sum 19475):
  //     101: 7865 x 8950 / 19475 = 3614 rem 9100
  //     102: 7865 x 6025 / 19475 = 2433 rem 3950
  //     103: 7865 x 4500 / 19475 = 1817 rem 6425
  //   floors add to 7864; the 1 fen left goes to the largest remainder (101): 3615, 2433, 1817.
  november();
  auto r = allocate("2026-12-01T01:00");
  ASSERT_EQ(r.status, PeriodAllocation::Status::allocated) << r.reason;
  EXPECT_EQ(r.result.common_usage, 120200);
  EXPECT_EQ(r.result.total_fen, 7865);
  EXPECT_EQ(r.result.parts, (std::map<std::string, Fen>{{"101", 3615}, {"102", 2433}, {"103", 1817}}));
  EXPECT_EQ(engine_->balance_fen("101"), -3615);
  EXPECT_EQ(engine_->balance_fen("102"), -2433);
  EXPECT_EQ(engine_->balance_fen("103"), -1817);
  EXPECT_EQ(count("SELECT amount_fen FROM billing_charges WHERE ref = 'shared:common:2026-11:101'"), 3615);
  EXPECT_EQ(count("SELECT sum(amount_fen) FROM billing_charges WHERE kind = 'shared'"), 7865);
  // Each share: an outbox record on "transactions" and an audit entry; the period: one event.
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'transactions' AND "
                  "json_extract(payload, '$.charge_kind') = 'shared' AND "
                  "json_extract(payload, '$.period') = '2026-11'"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE kind = 'money.charge'"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.shared_allocated'"), 1);
  EXPECT_EQ(count("SELECT total_fen FROM billing_shared_periods WHERE shared_meter = 'common' "
                  "AND period = '2026-11' AND state = 'allocated'"), 7865);
}

// basis: equal, one share each: 7865 fen / 3 = 2621 rem 2 for every room; the 2 fen left go to
// the equal remainders in the order the rooms are listed: 2622, 2622, 2621.
TEST_F(SharedPeriodTest, EqualBasisGivesEachRoomOneShareAndTheLeftoverToTheFirstListed) {
  november();
  auto r = allocate("2026-12-01T01:00", "even");
  ASSERT_EQ(r.status, PeriodAllocation::Status::allocated) << r.reason;
  EXPECT_EQ(r.result.total_fen, 7865);
  EXPECT_EQ(r.result.parts, (std::map<std::string, Fen>{{"101", 2622}, {"102", 2622}, {"103", 2621}}));
  EXPECT_EQ(count("SELECT sum(amount_fen) FROM billing_charges WHERE ref LIKE 'shared:even:2026-11:%'"),
            7865);
}

TEST_F(SharedPeriodTest, PeriodIsAllocatedOnceAcrossASecondTickAndARestart) {
  november();
  ASSERT_EQ(allocate("2026-12-01T01:00").status, PeriodAllocation::Status::allocated);
  EXPECT_EQ(allocate("2026-12-01T01:01").status, PeriodAllocation::Status::already_allocated);
  close();
  open();
  EXPECT_EQ(allocate("2026-12-02T09:00").status, PeriodAllocation::Status::already_allocated);
  EXPECT_EQ(count("SELECT sum(amount_fen) FROM billing_charges WHERE kind = 'shared'"), 7865);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'transactions'"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.shared_allocated'"), 1);
  EXPECT_EQ(engine_->balance_fen("101"), -3615);
}

TEST_F(SharedPeriodTest, MissingReadingAtThePeriodEndHoldsThePeriodBackUntilItArrives) {
  november(false);  // pc has nothing after November yet
  auto r = allocate("2026-12-01T01:00");
  EXPECT_EQ(r.status, PeriodAllocation::Status::waiting);
  EXPECT_NE(r.reason.find("sub-meter pc"), std::string::npos) << r.reason;
  EXPECT_EQ(allocate("2026-12-01T01:01").status, PeriodAllocation::Status::waiting);
  EXPECT_EQ(count("SELECT count(*) FROM billing_charges"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE kind = 'billing.shared_waiting'"), 1);  // once
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE stream = 'events'"), 1);
  reading("pc", "151.00", "1.00", "2026-12-01T01:30");
  auto later = allocate("2026-12-01T01:31");
  ASSERT_EQ(later.status, PeriodAllocation::Status::allocated) << later.reason;
  EXPECT_EQ(later.result.total_fen, 7865);
}

TEST_F(SharedPeriodTest, ScheduleNamesTheLastClosedPeriodAndWhenItIsDue) {
  const auto& month = *config_->find_shared("common");
  auto d = last_closed_period(month, at("2026-12-01T00:30"), 480);
  EXPECT_EQ(d.period.name, "2026-11");
  EXPECT_EQ(d.period.start, at("2026-11-01T00:00"));
  EXPECT_EQ(d.period.end, at("2026-12-01T00:00"));
  EXPECT_EQ(d.due, at("2026-12-01T01:00"));  // default allocate_at 01:00, site time
  EXPECT_EQ(last_closed_period(month, at("2027-01-15T12:00"), 480).period.name, "2026-12");
  const auto& quick = *config_->find_shared("quick");
  auto q = last_closed_period(quick, at("2026-12-04T16:52"), 480);
  EXPECT_EQ(q.period.name, "2026-12-04T16:45/5m");
  EXPECT_EQ(q.period.start, at("2026-12-04T16:45"));
  EXPECT_EQ(q.due, at("2026-12-04T16:50"));
}

TEST_F(SharedPeriodTest, PeriodsThatWaitedAreRetriedOldestFirstUntilAllocated) {
  const auto& quick = *config_->find_shared("quick");
  const auto latest = last_closed_period(quick, at("2026-12-04T17:02"), 480).period;
  ASSERT_EQ(latest.name, "2026-12-04T16:55/5m");
  // Two earlier periods still wait for readings; names unknown to the schedule are ignored, and
  // the latest period is the caller's to try, not a retry.
  auto r = periods_to_retry(quick, latest,
                            {"2026-12-04T16:40/5m", "2026-12-04T16:50/5m", "2026-12-04T16:55/5m",
                             "2026-12-04T16:52/5m"},
                            480, 8, 100);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "2026-12-04T16:40/5m");
  EXPECT_EQ(r[0].start, at("2026-12-04T16:40"));
  EXPECT_EQ(r[0].end, at("2026-12-04T16:45"));
  EXPECT_EQ(r[1].name, "2026-12-04T16:50/5m");
  // At most `max`, the oldest kept; nothing beyond the horizon.
  EXPECT_EQ(periods_to_retry(quick, latest, {"2026-12-04T16:40/5m", "2026-12-04T16:50/5m"}, 480,
                             1, 100)[0].name, "2026-12-04T16:40/5m");
  EXPECT_TRUE(periods_to_retry(quick, latest, {"2026-12-04T16:40/5m"}, 480, 8, 2).empty());
  // Calendar months walk back across a year.
  const auto& month = *config_->find_shared("common");
  const auto jan = last_closed_period(month, at("2027-02-03T00:00"), 480).period;
  auto m = periods_to_retry(month, jan, {"2026-11", "2026-12"}, 480, 8, 12);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].name, "2026-11");
  EXPECT_EQ(m[1].end, at("2027-01-01T00:00"));
}

TEST_F(SharedPeriodTest, BadPeriodAndAllocateAtAreRefusedWithTheKey) {
  for (const char* bad : {"period: 7m", "period: weekly", "allocate_at: \"25:00\""}) {
    std::string text = std::string(kSite) + "  - { id: x, master: main, subs: [pa], tariff: "
                       "power-common, basis: area, rooms: [\"101\"], " + bad + " }\n";
    config::Diagnostics diag;
    auto site = config::load_site_config_text(text, "site.yaml", diag);
    EXPECT_FALSE(site && billing_config_from(*site, diag)) << bad;
    const std::string key = std::string(bad).substr(0, std::string(bad).find(':'));
    EXPECT_NE(diag.to_string().find(key), std::string::npos) << diag.to_string();
  }
}

}  // namespace
}  // namespace estate::billing
