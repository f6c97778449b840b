// Hand-worked cases for allocation, late fees, arrears levels and the billing config sections.
#include <gtest/gtest.h>

#include "daemon/billing/allocation.hpp"
#include "daemon/billing/arrears.hpp"
#include "daemon/billing/billing_config.hpp"
#include "daemon/billing/late_fee.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::billing {
namespace {

TEST(Allocation, LargestRemainderAddsUpExactly) {
  struct Case {
    const char* name;
    Fen total;
    std::vector<std::int64_t> weights;
    std::vector<Fen> want;
  } cases[] = {
      {"even", 300, {1, 1, 1}, {100, 100, 100}},
      {"three-way tie: first gets the fen", 100, {1, 1, 1}, {34, 33, 33}},
      {"two left over, tie among first two", 5000, {8000, 8000, 8000}, {1667, 1667, 1666}},
      {"tie among the later ones", 7, {2, 2, 1, 1}, {3, 2, 1, 1}},  // .33 .33 .17 .17
      {"largest remainder wins over order", 10, {1, 2}, {3, 7}},   // 3.33 / 6.67
      {"one fen, two equal", 1, {1, 1}, {1, 0}},
      {"area", 12345, {8950, 12000, 6000}, {4100, 5497, 2748}},
      {"zero weight gets nothing", 10, {0, 1}, {0, 10}},
      {"all zero: equal split", 3, {0, 0, 0}, {1, 1, 1}},
      {"zero total", 0, {5, 7}, {0, 0}},
  };
  for (const auto& c : cases) {
    auto got = allocate_largest_remainder(c.total, c.weights);
    EXPECT_EQ(got, c.want) << c.name;
    Fen sum = 0;
    for (auto f : got) sum += f;
    EXPECT_EQ(sum, c.total) << c.name;
  }
  EXPECT_THROW(allocate_largest_remainder(-1, {1}), std::invalid_argument);
  EXPECT_THROW(allocate_largest_remainder(1, {-1, 2}), std::invalid_argument);
}

TEST(Allocation, CommonUsageAndLossAlert) {
  EXPECT_EQ(common_usage(100000, {30000, 30000, 25000}), 15000);
  EXPECT_EQ(common_usage(100000, {60000, 50000}), 0);  // subs over-read: nothing to bill
  EXPECT_FALSE(loss_above(15000, 100000, 1500));       // exactly 15 %: not above
  EXPECT_TRUE(loss_above(15001, 100000, 1500));
  EXPECT_FALSE(loss_above(99999, 100000, 0));          // no alert configured
  EXPECT_FALSE(loss_above(0, 0, 1000));
}

TEST(LateFee, DailyRateAfterGraceRoundedOnceAndCapped) {
  LateFeePolicy p{500, 15, 10000};  // 0.0005 a day, 15 days grace, cap 100 %
  struct Case {
    const char* name;
    Fen overdue;
    int days;
    Fen want;
  } cases[] = {
      {"within grace", 10000, 15, 0},
      {"first day after grace", 10000, 16, 5},
      {"30 days", 10000, 45, 150},
      {"below half a fen", 999, 16, 0},      // 0.4995 fen
      {"exactly half a fen", 1000, 16, 1},   // 0.5 fen -> 1
      {"nothing owed", 0, 100, 0},
      {"negative days", 10000, -3, 0},
  };
  for (const auto& c : cases) EXPECT_EQ(late_fee_fen(p, c.overdue, c.days), c.want) << c.name;
  LateFeePolicy steep{10000, 0, 5000};  // 1 % a day, cap 50 %
  EXPECT_EQ(late_fee_fen(steep, 10001, 10), 1000);
  EXPECT_EQ(late_fee_fen(steep, 10001, 1000), 5000);  // cap 5000.5 rounds down
}

ArrearsPolicy policy() {
  return {{{1, 1, 1, warn}, {2, 30, 10000, warn | charge_as_visitor | deny_gate},
           {3, 90, 10000, warn | deny_gate | close_valve}}};
}

TEST(Arrears, LevelFromDaysAndAmount) {
  struct Case {
    int days;
    Fen fen;
    int level;
  } cases[] = {{0, 5000, 0},   {1, 1, 1},      {29, 99999, 1}, {30, 9999, 1},
               {30, 10000, 2}, {89, 10000, 2}, {90, 10000, 3}, {400, 0, 0}};
  for (const auto& c : cases) {
    EXPECT_EQ(compute_arrears_level(policy(), c.days, c.fen).level, c.level)
        << c.days << " days " << c.fen << " fen";
  }
  EXPECT_EQ(arrears_actions_text(compute_arrears_level(policy(), 30, 10000).actions),
            "warn,charge_as_visitor,deny_gate");
}

TEST(Arrears, PushedListIsCheckedWhole) {
  auto ok = parse_arrears_list(R"({"version": 3, "rooms": [{"room": "1-1-101", "level": 2}]})", policy());
  ASSERT_TRUE(ok.list) << ok.error;
  EXPECT_EQ(ok.list->rooms.at("1-1-101"), 2);
  struct Case {
    const char* json;
    const char* error;
  } cases[] = {
      {R"({"rooms": []})", "version"},
      {R"({"version": 0, "rooms": []})", "version"},
      {R"({"version": 1})", "rooms"},
      {R"({"version": 1, "rooms": [{"room": "a", "level": 9}]})", "rooms[0].level: 9 is not a level"},
      {R"({"version": 1, "rooms": [{"room": "a", "level": 1}, {"room": "a", "level": 2}]})", "rooms[1].room"},
      {R"({"version": 1, "rooms": [{"room": "", "level": 1}]})", "rooms[0].room"},
      {R"({"version": 1, "rooms": [{"room": "a", "level": "2"}]})", "rooms[0].level"},
      {R"([1, 2])", "object"},
      {"{", "not JSON"},
  };
  for (const auto& c : cases) {
    auto r = parse_arrears_list(c.json, policy());
    EXPECT_FALSE(r.list) << c.json;
    EXPECT_NE(r.error.find(c.error), std::string::npos) << c.json << " -> " << r.error;
  }
}

const char* kBase = "site: { id: s }\ngateway: { id: g }\n"
                    "buses:\n  - { id: wb, kind: serial, protocol: cjt188, device: /dev/null }\n"
                    "devices:\n  - { id: w1, kind: meter, bus: wb, address: \"00000000000001\", medium: water }\n";

TEST(BillingConfigSections, ErrorsNameFileLineColumn) {
  struct Case {
    const char* name;
    std::string yaml;
    std::string want;
  } cases[] = {
      {"account without meters", "accounts:\n  - { room: \"101\" }\n", "site.yaml:8:5: accounts[0].meters: required list is missing"},
      {"bad on_zero", "accounts:\n  - room: \"101\"\n    meters: [{ meter: w1, tariff: t, on_zero: shut }]\n",
       "site.yaml:9:47: accounts[0].meters[0].on_zero: 'shut' is not one of: warn, close"},
      {"thresholds ascending", "accounts:\n  - room: \"101\"\n    prepaid: { low_balance_fen: [100, 5000] }\n    meters: []\n",
       "site.yaml:9:33: accounts[0].prepaid.low_balance_fen: thresholds must be strictly descending"},
      {"area decimals", "accounts:\n  - { room: \"101\", area_m2: \"80.125\", meters: [] }\n",
       "site.yaml:8:29: accounts[0].area_m2: area_m2 '80.125' has more than 2 decimal places"},
      {"shared basis", "shared_meters:\n  - { id: c, master: w1, tariff: t, basis: volume, rooms: [\"1\"] }\n",
       "site.yaml:8:44: shared_meters[0].basis: 'volume' is not one of: area, headcount, usage, equal"},
      {"late fee rate", "late_fees: { daily_rate: \"0.0000001\" }\n",
       "site.yaml:7:26: late_fees.daily_rate: daily_rate '0.0000001' has more than 6 decimal places"},
      {"arrears action", "arrears:\n  levels:\n    - { level: 1, min_days: 1, min_fen: 1, actions: [shout] }\n",
       "site.yaml:9:53: arrears.levels[0].actions: unknown action 'shout'"},
      {"arrears order", "arrears:\n  levels:\n    - { level: 2, min_days: 1, min_fen: 1, actions: [warn] }\n    - { level: 1, min_days: 1, min_fen: 1, actions: [warn] }\n",
       "site.yaml:10:16: arrears.levels[1].level: levels must be strictly increasing"},
      {"tariff in site", "tariffs:\n  - { id: t, quantity: water, unit: kWh, price: \"1\" }\n",
       "site.yaml:8:37: tariffs[0].unit: unknown unit 'kWh' for water"},
  };
  for (const auto& c : cases) {
    config::Diagnostics diag;
    auto site = config::load_site_config_text(std::string(kBase) + c.yaml, "site.yaml", diag);
    EXPECT_FALSE(site) << c.name;
    EXPECT_NE(diag.to_string().find(c.want), std::string::npos)
        << c.name << "\n  want: " << c.want << "\n  got:  " << diag.to_string();
  }
}

// The cross-checks run as part of loading, so check-config reports what `run` would refuse.
TEST(BillingConfigSections, CrossChecksAtLoading) {
  config::Diagnostics diag;
  auto site = config::load_site_config_text(
      std::string(kBase) +
          "tariffs:\n  - { id: t, quantity: water, unit: m3, price: \"1\" }\n"
          "accounts:\n  - room: \"101\"\n    meters: [{ meter: w1, tariff: t }, { meter: w9, tariff: nope }]\n"
          "  - room: \"102\"\n    meters: [{ meter: w1, tariff: t }]\n"
          "shared_meters:\n  - { id: c, master: w1, tariff: t, basis: area, rooms: [\"101\", \"777\"] }\n",
      "site.yaml", diag);
  EXPECT_FALSE(site);
  const auto text = diag.to_string();
  EXPECT_NE(text.find("site.yaml:11:40: accounts.101.meters.w9: no meter device with id 'w9'"), std::string::npos) << text;
  EXPECT_NE(text.find("accounts.101.meters.w9.tariff: no tariff with id 'nope'"), std::string::npos) << text;
  EXPECT_NE(text.find("accounts.102.meters.w1: meter already bills to room '101'"), std::string::npos) << text;
  EXPECT_NE(text.find("shared_meters.c.rooms: no account for room '777'"), std::string::npos) << text;
}

TEST(BillingConfigSections, ValvePolicyOfTheDeviceIsTheDefault) {
  config::Diagnostics diag;
  auto site = config::load_site_config_text(
      "site: { id: s }\ngateway: { id: g }\n"
      "buses:\n  - { id: wb, kind: serial, protocol: cjt188, device: /dev/null }\n"
      "devices:\n"
      "  - { id: w1, kind: meter, bus: wb, address: \"00000000000001\", medium: water, valve_policy: close_on_zero }\n"
      "  - { id: w2, kind: meter, bus: wb, address: \"00000000000002\", medium: water }\n"
      "tariffs:\n  - { id: t, quantity: water, unit: m3, price: \"1\" }\n"
      "accounts:\n  - room: \"1\"\n    meters: [{ meter: w1, tariff: t }, { meter: w2, tariff: t }]\n",
      "site.yaml", diag);
  ASSERT_TRUE(site) << diag.to_string();
  auto cfg = billing_config_from(*site, diag);
  ASSERT_TRUE(cfg) << diag.to_string();
  EXPECT_EQ(cfg->find_meter("w1").second->on_zero, OnZero::close);
  EXPECT_EQ(cfg->find_meter("w2").second->on_zero, OnZero::warn);
}

}  // namespace
}  // namespace estate::billing
