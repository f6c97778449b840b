// Bills (docs/billing.md, "Bills"): issued once per room and period, due after the period's
// end, settled oldest first by payments, late fees accrued per overdue day on the unpaid amount
// and rounded once, arrears levels from overdue bills. Every figure below is worked out by hand
// in the comment beside it, not computed by the code under test.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "daemon/billing/bills.hpp"
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
devices:
  - { id: wa, kind: meter, bus: water-bus, address: "00000000000101", medium: water }
  - { id: wb, kind: meter, bus: water-bus, address: "00000000000102", medium: water }
tariffs:
  - { id: water-flat, quantity: water, unit: m3, price: "5.00" }
accounts:
  - { room: "A", meters: [{ meter: wa, tariff: water-flat }] }
  - { room: "B", meters: [{ meter: wb, tariff: water-flat }] }
bills: { period: month, issue_at: "02:00", due_days: 15 }
late_fees: { daily_rate: "0.0005", grace_days: 15, cap_percent: "100" }
arrears:
  levels:
    - { level: 1, min_days: 0, min_fen: 1, actions: [warn] }
    - { level: 2, min_days: 30, min_fen: 4000, actions: [warn, charge_as_visitor, deny_gate] }
)";

TimePoint at(const char* local) {  // site time, UTC+8
  auto s = parse_local_time(local);
  if (!s) throw std::invalid_argument(local);
  return TimePoint{std::chrono::seconds{*s - 8 * 3600}};
}
std::int64_t secs(const char* local) { return at(local).time_since_epoch().count(); }

class BillsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("billing-bills");
    config::Diagnostics diag;
    auto site = config::load_site_config_text(kSite, "site.yaml", diag);
    ASSERT_TRUE(site) << diag.to_string();
    auto cfg = billing_config_from(*site, diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    ASSERT_TRUE(cfg->bills);
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
  std::int64_t count(const std::string& sql) {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    return db.query_int(sql);
  }
  void post(const char* meter, const char* usage, std::int64_t seq, const char* when) {
    ReadingDelta d{meter, *parse_decimal(usage, usage_places), seq, at(when), std::nullopt};
    ASSERT_EQ(engine_->post_reading_sync(d).status, PostResult::Status::posted);
  }
  std::vector<BillView> unpaid(const std::string& room) {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    return unpaid_bills(db, room, 480);
  }
  std::vector<nlohmann::json> bill_records() {
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'bills' ORDER BY seq");
    std::vector<nlohmann::json> out;
    while (st.step()) out.push_back(nlohmann::json::parse(st.text(0)));
    return out;
  }

  fs::path dir_;
  std::shared_ptr<const BillingConfig> config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
};

// The worked example of docs/billing.md ("Bills"), step by step.
TEST_F(BillsTest, NovemberBillDueLateFeesPartialPaymentAndArrears) {
  // November: 15.000 m3 + 13.270 m3 at 5.00 = 75.00 + 66.35 = 141.35 yuan. A reading timed
  // after the period's end (1.000 m3 = 5.00) belongs to the next bill.
  post("wa", "15", 1, "2026-11-10T08:00");
  post("wa", "13.27", 2, "2026-11-25T08:00");
  post("wa", "1", 3, "2026-12-01T01:00");
  EXPECT_EQ(engine_->balance_fen("A"), -14635);

  // Issued on day 1 at 02:00, not before; once per room and period, across a restart.
  EXPECT_EQ(engine_->issue_bills_sync(at("2026-12-01T01:59")), 0);
  EXPECT_EQ(engine_->issue_bills_sync(at("2026-12-01T02:00")), 2);  // A and B (B: 0 fen)
  EXPECT_EQ(engine_->issue_bills_sync(at("2026-12-01T03:00")), 0);
  close();
  open();
  EXPECT_EQ(engine_->issue_bills_sync(at("2026-12-01T03:00")), 0);
  EXPECT_EQ(count("SELECT count(*) FROM billing_bills"), 2);

  auto bills = unpaid("A");
  ASSERT_EQ(bills.size(), 1u);
  EXPECT_EQ(bills[0].period, "2026-11");
  EXPECT_EQ(bills[0].from, "2026-11-01T00:00:00.000+08:00");
  EXPECT_EQ(bills[0].to, "2026-12-01T00:00:00.000+08:00");
  EXPECT_EQ(bills[0].issued, "2026-12-01T02:00:00.000+08:00");
  EXPECT_EQ(bills[0].due, "2026-12-16T00:00:00.000+08:00");  // period end + 15 days
  EXPECT_EQ(bills[0].amount_fen, 14135);
  EXPECT_EQ(bills[0].status, "open");
  EXPECT_TRUE(unpaid("B").empty());  // B's bill of 0 fen is paid
  EXPECT_EQ(count("SELECT count(*) FROM billing_bills WHERE room = 'B' AND status = 'paid'"), 1);
  // The December reading stays off the bill.
  EXPECT_EQ(count("SELECT count(*) FROM billing_charges WHERE bill_id IS NULL"), 1);

  // Not overdue before the due time; then level 1 (min_days 0), level 2 from day 30.
  EXPECT_EQ(engine_->arrears_level("A", at("2026-12-15T23:59")).level, 0);
  auto l = engine_->arrears_level("A", at("2026-12-16T00:01"));
  EXPECT_EQ(l.level, 1);
  EXPECT_EQ(l.days_overdue, 0);
  EXPECT_EQ(l.overdue_fen, 14135);
  EXPECT_EQ(engine_->arrears_level("A", at("2027-01-15T00:00")).level, 2);  // 30 days, 141.35

  // Late fees: day 16 (2027-01-01) is the first after 15 days' grace:
  //   14135 x 0.0005 = 7.0675 fen -> 7.
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2026-12-31T10:00")), 0);  // day 15
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2027-01-01T10:00")), 7);
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2027-01-01T18:00")), 0);

  // 2027-01-05 10:00 (day 20) a payment of 100.00. Fees first, for the 5 days counted so far,
  // on the amount unpaid before it: 5 x 7.0675 = 35.3375 -> 35 (28 more). Then the payment:
  // the bill owes 141.35 + 0.35 = 141.70, pays 100.00, 41.70 left; its amount (paid first)
  // has 141.35 - 100.00 = 41.35 unpaid.
  auto t = engine_->top_up_sync("A", 10000, "kiosk", "pay-1", at("2027-01-05T10:00"));
  EXPECT_EQ(t.balance_fen, -14635 - 35 + 10000);  // -4670: 41.70 on the bill + 5.00 unbilled
  bills = unpaid("A");
  ASSERT_EQ(bills.size(), 1u);
  EXPECT_EQ(bills[0].late_fee_fen, 35);
  EXPECT_EQ(bills[0].paid_fen, 10000);
  EXPECT_EQ(bills[0].unpaid_fen(), 4170);
  EXPECT_EQ(bills[0].status, "partially_paid");
  close();
  open();  // restart: nothing moves

  // Day 45 (2027-01-30): 25 more days on 41.35: 25 x 4135 x 0.0005 = 51.6875; the bill's sum
  // 35.3375 + 51.6875 = 87.025 -> 87 fen in all (52 more). Rounded once on the sum: per-day
  // rounding would give 5 x 7 + 25 x 2 = 85.
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2027-01-30T10:00")), 52);
  bills = unpaid("A");
  ASSERT_EQ(bills.size(), 1u);
  EXPECT_EQ(bills[0].late_fee_fen, 87);
  EXPECT_EQ(bills[0].unpaid_fen(), 14135 + 87 - 10000);  // 4222
  l = engine_->arrears_level("A", at("2027-01-30T10:00"));
  EXPECT_EQ(l.level, 2);  // 45 days, 42.22 >= 40.00
  EXPECT_EQ(l.days_overdue, 45);
  EXPECT_EQ(l.overdue_fen, 4222);
  EXPECT_EQ(count("SELECT count(*) FROM billing_charges WHERE kind = 'late_fee' AND bill_id = "
                  "(SELECT id FROM billing_bills WHERE room = 'A') AND ref IN "
                  "('late:A:2026-11:7', 'late:A:2026-11:35', 'late:A:2026-11:87')"), 3);

  // 50.00 the same day (no new day counted): the bill is paid, 2.78 left over for December.
  t = engine_->top_up_sync("A", 5000, "kiosk", "pay-2", at("2027-01-30T12:00"));
  EXPECT_EQ(t.balance_fen, -4670 - 52 + 5000);  // 278
  EXPECT_TRUE(unpaid("A").empty());
  EXPECT_EQ(engine_->arrears_level("A", at("2027-01-30T12:00")).level, 0);
  EXPECT_EQ(engine_->accrue_late_fees_sync(at("2027-03-01T10:00")), 0);  // paid: no more fees

  // December's bill was never issued (the daemon was "down"); January's takes its charge.
  EXPECT_EQ(engine_->issue_bills_sync(at("2027-02-01T02:00")), 2);
  EXPECT_EQ(count("SELECT amount_fen FROM billing_bills WHERE room = 'A' AND period = '2027-01'"), 500);
  EXPECT_EQ(count("SELECT count(*) FROM billing_bills WHERE room = 'A' AND period = '2027-01' "
                  "AND status = 'paid' AND paid_fen = 500"), 1);

  // One "bill" record per change, in order.
  const auto recs = bill_records();
  std::vector<std::string> seen;
  for (const auto& r : recs) {
    EXPECT_EQ(r.at("kind"), "bill");
    seen.push_back(r.at("room").get<std::string>() + ":" + r.at("period").get<std::string>() + ":" +
                   r.at("change").get<std::string>() + ":" + r.at("status").get<std::string>());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "A:2026-11:issued:open", "B:2026-11:issued:paid",
                      "A:2026-11:late_fee:open", "A:2026-11:payment:partially_paid",
                      "A:2026-11:late_fee:partially_paid", "A:2026-11:payment:paid",
                      "A:2027-01:issued:paid", "B:2027-01:issued:paid"}));
  const auto& paid = recs[5];
  EXPECT_EQ(paid.at("amount_fen"), 14135);
  EXPECT_EQ(paid.at("late_fee_fen"), 87);
  EXPECT_EQ(paid.at("paid_fen"), 14222);
  EXPECT_EQ(paid.at("unpaid_fen"), 0);
  EXPECT_EQ(paid.at("due"), "2026-12-16T00:00:00.000+08:00");
  EXPECT_EQ(paid.at("ts"), "2027-01-30T12:00:00.000+08:00");
}

TEST_F(BillsTest, PaymentsSettleTheOldestBillFirst) {
  post("wb", "4", 1, "2026-11-20T08:00");   // November: 20.00
  ASSERT_EQ(engine_->issue_bills_sync(at("2026-12-01T02:00")), 2);
  post("wb", "6", 2, "2026-12-20T08:00");   // December: 30.00
  ASSERT_EQ(engine_->issue_bills_sync(at("2027-01-01T02:00")), 2);
  post("wb", "1", 3, "2027-01-02T08:00");   // January so far: 5.00, not billed yet
  // 2027-01-03 09:00 is day 18 after November's due time: first its fee for the 3 days after
  // grace, 2000 x 0.0005 x 3 = 3 fen. Then 25.03: November's 20.03 in full, then 5.00 of
  // December's; the unbilled 5.00 waits.
  engine_->top_up_sync("B", 2503, "kiosk", "pay-b1", at("2027-01-03T09:00"));
  auto bills = unpaid("B");
  ASSERT_EQ(bills.size(), 1u);
  EXPECT_EQ(bills[0].period, "2026-12");
  EXPECT_EQ(bills[0].paid_fen, 500);
  EXPECT_EQ(bills[0].status, "partially_paid");
  EXPECT_EQ(count("SELECT count(*) FROM billing_bills WHERE room = 'B' AND period = '2026-11' "
                  "AND status = 'paid' AND late_fee_fen = 3 AND paid_fen = 2003"), 1);
  EXPECT_EQ(engine_->balance_fen("B"), -5500 - 3 + 2503);
  // Overdue: December's bill from 2027-01-16; 25.00 unpaid.
  auto l = engine_->arrears_level("B", at("2027-01-20T00:00"));
  EXPECT_EQ(l.level, 1);
  EXPECT_EQ(l.overdue_fen, 2500);
}

TEST(BillRules, LateFeeRoundsHalfUpOnceAndStopsAtTheCap) {
  LateFeePolicy p;
  p.daily_rate_e6 = 500000;  // 0.5 per day
  p.grace_days = 0;
  p.cap_percent_e2 = 10000;
  // 1 fen x 0.5 = 0.5 fen: exactly half, rounds up to 1.
  EXPECT_EQ(accrue_bill_fee(p, 1, 1, {}, 1).fee_fen, 1);
  p.daily_rate_e6 = 499999;  // 0.499999 fen rounds down to 0
  auto f = accrue_bill_fee(p, 1, 1, {}, 1);
  EXPECT_EQ(f.fee_fen, 0);
  EXPECT_EQ(f.exact_e6, 499999);
  // The next day the sum is 0.999998 -> 1 (rounded once on the sum, not 0 + 0 per day).
  EXPECT_EQ(accrue_bill_fee(p, 1, 1, f, 2).fee_fen, 1);
  // Cap 1 % of 1000 fen = 10 fen; 30 days x 1000 x 0.0005 = 15 would pass it.
  p = {};
  p.daily_rate_e6 = 500;
  p.cap_percent_e2 = 100;
  EXPECT_EQ(accrue_bill_fee(p, 1000, 1000, {}, 30).fee_fen, 10);
  // Cap 33.33 % of 100 fen = 33.33 -> 33 (rounded down).
  p.daily_rate_e6 = 1000000;
  p.cap_percent_e2 = 3333;
  EXPECT_EQ(accrue_bill_fee(p, 100, 100, {}, 5).fee_fen, 33);
  // Grace: nothing until day grace + 1; days already counted are not counted again.
  p = {};
  p.daily_rate_e6 = 500;
  p.grace_days = 15;
  EXPECT_EQ(accrue_bill_fee(p, 14135, 14135, {}, 15).fee_days, 0);
  f = accrue_bill_fee(p, 14135, 14135, {}, 16);
  EXPECT_EQ(f.fee_days, 1);
  EXPECT_EQ(f.exact_e6, 7067500);
  EXPECT_EQ(f.fee_fen, 7);
  EXPECT_EQ(accrue_bill_fee(p, 14135, 0, f, 16).exact_e6, 7067500);
}

TEST(BillRules, StatusDaysAndArrearsFromBills) {
  EXPECT_EQ(bill_status(100, 0), "open");
  EXPECT_EQ(bill_status(100, 1), "partially_paid");
  EXPECT_EQ(bill_status(100, 100), "paid");
  EXPECT_EQ(bill_status(0, 0), "paid");
  const std::int64_t due = secs("2026-12-16T00:00");
  EXPECT_EQ(days_overdue(due, at("2026-12-15T00:00")), 0);
  EXPECT_EQ(days_overdue(due, at("2026-12-16T23:59")), 0);
  EXPECT_EQ(days_overdue(due, at("2026-12-17T00:00")), 1);
  ArrearsPolicy p;
  p.levels = {{1, 0, 1, warn}, {2, 30, 10000, warn | deny_gate}};
  // Days from the oldest overdue bill; amount of the overdue ones only (not the one not yet due).
  std::vector<OpenBill> open = {{secs("2026-11-16T00:00"), 6000}, {due, 5000},
                                {secs("2027-01-16T00:00"), 9000}};
  auto l = arrears_from_bills(p, open, at("2026-12-20T00:00"));
  EXPECT_EQ(l.level, 2);
  EXPECT_EQ(l.days_overdue, 34);
  EXPECT_EQ(l.overdue_fen, 11000);
  EXPECT_EQ(arrears_from_bills(p, {{due, 5000}}, at("2026-12-16T00:00")).level, 0);  // due now
  EXPECT_EQ(arrears_from_bills(p, {}, at("2026-12-20T00:00")).level, 0);
}

TEST(BillRules, PeriodsIssueAndDueTimes) {
  BillsPolicy m;
  m.due_days = 15;
  auto b = last_closed_bill_period(m, at("2027-01-01T01:00"), 480);
  EXPECT_EQ(b.name, "2026-12");
  EXPECT_EQ(b.start, at("2026-12-01T00:00"));
  EXPECT_EQ(b.end, at("2027-01-01T00:00"));
  EXPECT_EQ(b.issue_at, at("2027-01-01T02:00"));  // default issue_at 02:00
  EXPECT_EQ(b.due, at("2027-01-16T00:00"));
  BillsPolicy q;
  q.period_minutes = 5;
  q.due_days = 0;
  b = last_closed_bill_period(q, at("2026-12-04T16:57"), 480);
  EXPECT_EQ(b.name, "2026-12-04T16:50/5m");
  EXPECT_EQ(b.issue_at, at("2026-12-04T16:55"));
  EXPECT_EQ(b.due, at("2026-12-04T16:55"));
}

TEST(BillRules, BadBillsSectionIsRefusedAtTheValue) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"bills: { period: weekly }\n", "site.yaml:3:18: bills.period: expected 'month' or '<N>m'"},
      {"bills: { period: 7m }\n", "site.yaml:3:18: bills.period: expected 'month' or '<N>m'"},
      {"bills:\n  due_days: 400\n", "site.yaml:4:13: bills.due_days:"},
      {"bills:\n  issue_at: \"24:00\"\n", "site.yaml:4:13: bills.issue_at: expected a local time HH:MM"},
      {"bills:\n  due_day: 15\n", "site.yaml:4:3: bills.due_day: unknown key"},
  };
  for (const auto& c : cases) {
    const std::string text = std::string("site: { id: s }\ngateway: { id: gw }\n") + c.yaml;
    config::Diagnostics diag;
    auto site = config::load_site_config_text(text, "site.yaml", diag);
    EXPECT_FALSE(site.has_value()) << c.yaml;
    EXPECT_NE(diag.to_string().find(c.want), std::string::npos)
        << c.yaml << "\n  want: " << c.want << "\n  got:  " << diag.to_string();
  }
}

}  // namespace
}  // namespace estate::billing
