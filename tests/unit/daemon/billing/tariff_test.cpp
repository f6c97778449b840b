// Hand-worked cases for the exact arithmetic and the tariff rules (docs/billing.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "daemon/billing/decimal.hpp"
#include "daemon/billing/tariff.hpp"

namespace estate::billing {
namespace {

namespace fs = std::filesystem;

struct TempFile {
  fs::path path;
  explicit TempFile(const std::string& text) {
    path = fs::temp_directory_path() /
           ("billing-tariff-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++) + ".yaml");
    std::ofstream(path) << text;
  }
  ~TempFile() { fs::remove(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

const char* kTariffs = R"(tariffs:
  - id: water-res
    quantity: water
    unit: m3
    cycle: year
    tiers:
      - { upto: 180, price: "5.00" }
      - { upto: 260, price: "7.00" }
      - { price: "9.00" }
  - id: power-flat
    quantity: electricity
    unit: kWh
    price: "0.5883"
  - id: power-tou
    quantity: electricity
    unit: kWh
    cycle: month
    periods:
      - { name: peak, times: ["08:00-12:00", "17:00-21:00"], price: "0.9500" }
      - { name: flat, times: ["12:00-17:00", "21:00-23:00"], price: "0.6500" }
      - name: valley
        times: ["23:00-08:00"]
        tiers:
          - { upto: 100, price: "0.3500" }
          - { price: "0.4500" }
)";

std::vector<Tariff> load(const std::string& text, config::Diagnostics& diag) {
  TempFile f(text);
  auto t = load_tariff_file(f.path, diag);
  return t.value_or(std::vector<Tariff>{});
}

const Tariff& find(const std::vector<Tariff>& ts, const std::string& id) {
  for (const auto& t : ts)
    if (t.id == id) return t;
  throw std::runtime_error("no tariff " + id);
}

UsageMilli u(const char* text) { return *parse_decimal(text, usage_places); }

TEST(Decimal, ParsesAndRejects) {
  struct Case {
    const char* text;
    int places;
    std::optional<std::int64_t> want;
  } cases[] = {
      {"5.00", 4, 50000},   {"5", 4, 50000},      {"0.0001", 4, 1},    {"1.00001", 4, std::nullopt},
      {"-1.5", 4, -15000},  {"", 4, std::nullopt}, {"1e3", 4, std::nullopt}, {"1.2.3", 4, std::nullopt},
      {"180", 3, 180000},   {"0.001", 3, 1},      {".5", 3, 500},      {"-", 3, std::nullopt},
      {"99999999999999999999", 3, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_decimal(c.text, c.places), c.want) << c.text;
  }
}

TEST(Decimal, Formats) {
  EXPECT_EQ(format_decimal(180000, 3), "180.000");
  EXPECT_EQ(format_decimal(5, 3), "0.005");
  EXPECT_EQ(format_decimal(-5, 2), "-0.05");
  EXPECT_EQ(format_amount(9000000000), "900.00");
  EXPECT_EQ(format_amount(125000), "0.0125");
  EXPECT_EQ(format_amount(50000), "0.005");
  EXPECT_EQ(format_fen(12345), "123.45");
}

TEST(Decimal, RoundsHalfUpToFenOnce) {
  struct Case {
    AmountE7 exact;
    Fen fen;
  } cases[] = {
      {0, 0},        {49999, 0},   {50000, 1} /* exactly 0.5 fen */, {99999, 1},
      {100000, 1},   {149999, 1},  {150000, 2},  {-50000, -1},  {-49999, 0},
  };
  for (const auto& c : cases) EXPECT_EQ(round_half_up_to_fen(c.exact), c.fen) << c.exact;
}

TEST(Tariff, TieredHandWorkedCases) {
  config::Diagnostics diag;
  auto ts = load(kTariffs, diag);
  ASSERT_TRUE(diag.ok()) << diag.to_string();
  const Tariff& w = find(ts, "water-res");
  struct Line {
    int tier;
    const char* usage;
  };
  struct Case {
    const char* name;
    const char* usage;
    const char* before;
    Fen fen;
    std::vector<Line> lines;
  } cases[] = {
      {"zero usage", "0", "0", 0, {}},
      {"zero usage above tiers", "0", "500", 0, {}},
      {"exactly tier 1", "180", "0", 90000, {{1, "180"}}},
      {"last unit of tier 1", "1", "179", 500, {{1, "1"}}},
      {"first unit of tier 2 (edge)", "1", "180", 700, {{2, "1"}}},
      {"across tier 1/2", "100", "150", 64000, {{1, "30"}, {2, "70"}}},
      {"all three tiers", "300", "0", 182000, {{1, "180"}, {2, "80"}, {3, "40"}}},
      {"edge 260 exactly", "0.001", "259.999", 1, {{2, "0.001"}}},  // 0.007 yuan -> 0.7 fen -> 1
      {"first unit of open tier", "0.001", "260", 1, {{3, "0.001"}}},  // 0.009 -> 0.9 fen -> 1
      {"half fen exactly", "0.001", "0", 1, {{1, "0.001"}}},  // 0.005 yuan = 0.5 fen -> 1
      {"fractional", "12.345", "175", 7642, {{1, "5"}, {2, "7.345"}}},  // 25 + 51.415 = 76.415 -> 76.42
  };
  for (const auto& c : cases) {
    const Quote q = quote(w, u(c.usage), u(c.before));
    EXPECT_EQ(q.total_fen, c.fen) << c.name;
    ASSERT_EQ(q.lines.size(), c.lines.size()) << c.name;
    for (std::size_t i = 0; i < c.lines.size(); ++i) {
      EXPECT_EQ(q.lines[i].tier, c.lines[i].tier) << c.name;
      EXPECT_EQ(q.lines[i].usage, u(c.lines[i].usage)) << c.name;
    }
  }
}

TEST(Tariff, HalfUpBoundaryFlat) {
  config::Diagnostics diag;
  auto ts = load(R"(tariffs:
  - { id: a, quantity: water, unit: m3, price: "0.0050" }
  - { id: b, quantity: water, unit: m3, price: "0.4999" }
)", diag);
  ASSERT_TRUE(diag.ok()) << diag.to_string();
  EXPECT_EQ(quote(find(ts, "a"), u("1"), 0).total_fen, 1);      // 0.005 yuan: exactly half
  EXPECT_EQ(quote(find(ts, "a"), u("0.999"), 0).total_fen, 0);  // 0.004995: below half
  EXPECT_EQ(quote(find(ts, "b"), u("0.01"), 0).total_fen, 0);   // 0.004999
  EXPECT_EQ(quote(find(ts, "b"), u("0.011"), 0).total_fen, 1);  // 0.0054989
}

TEST(Tariff, FlatIgnoresCycle) {
  config::Diagnostics diag;
  auto ts = load(kTariffs, diag);
  const Tariff& f = find(ts, "power-flat");
  auto q = quote(f, u("100"), u("99999"));
  EXPECT_EQ(q.total_fen, 5883);
  ASSERT_EQ(q.lines.size(), 1u);
  EXPECT_EQ(q.lines[0].tier, 1);
}

TEST(Tariff, TimeOfUsePeriodsAndBoundaries) {
  config::Diagnostics diag;
  auto ts = load(kTariffs, diag);
  ASSERT_TRUE(diag.ok()) << diag.to_string();
  const Tariff& t = find(ts, "power-tou");
  struct Case {
    const char* at;
    const char* period;
    Fen fen;  // for 10 kWh at cycle start
  } cases[] = {
      {"2026-11-23T07:59:59+08:00", "valley", 350}, {"2026-11-23T08:00:00+08:00", "peak", 950},
      {"11:59", "peak", 950},                       {"12:00", "flat", 650},
      {"22:59:59", "flat", 650},                    {"23:00", "valley", 350},
      {"00:00", "valley", 350},                     {"2026-11-23T17:00", "peak", 950},
  };
  for (const auto& c : cases) {
    auto at = parse_local_time(c.at);
    ASSERT_TRUE(at) << c.at;
    auto q = quote(t, u("10"), 0, *at);
    ASSERT_EQ(q.lines.size(), 1u) << c.at;
    EXPECT_EQ(q.lines[0].period, c.period) << c.at;
    EXPECT_EQ(q.total_fen, c.fen) << c.at;
  }
  // A period with its own tiers counts the cycle usage: valley at 95 kWh already used.
  auto q = quote(t, u("10"), u("95"), *parse_local_time("03:00"));
  ASSERT_EQ(q.lines.size(), 2u);
  EXPECT_EQ(q.lines[0].usage, u("5"));
  EXPECT_EQ(q.lines[1].tier, 2);
  EXPECT_EQ(q.total_fen, 175 + 225);
  EXPECT_THROW(quote(t, u("1"), 0), std::invalid_argument);
}

TEST(Tariff, TimeOfUseAcrossAPeriodBoundary) {
  config::Diagnostics diag;
  auto ts = load(kTariffs, diag);
  const Tariff& t = find(ts, "power-tou");
  // 07:30-08:30, 2 kWh evenly: 1 kWh valley (0.35) + 1 kWh peak (0.95) = 1.30 yuan.
  auto day = *parse_local_time("2026-11-23");
  auto q = quote_interval(t, u("2"), 0, day + 7 * 3600 + 1800, day + 8 * 3600 + 1800);
  ASSERT_EQ(q.lines.size(), 2u);
  EXPECT_EQ(q.lines[0].period, "valley");
  EXPECT_EQ(q.lines[0].usage, u("1"));
  EXPECT_EQ(q.lines[1].period, "peak");
  EXPECT_EQ(q.lines[1].usage, u("1"));
  EXPECT_EQ(q.total_fen, 130);
  // 07:00-08:30, 1 kWh: 60 min valley, 30 min peak -> 666.67 / 333.33 milli; the left-over
  // milli goes to the larger remainder (valley): 0.667 x 0.35 + 0.333 x 0.95 = 0.54980 -> 55 fen.
  q = quote_interval(t, u("1"), 0, day + 7 * 3600, day + 8 * 3600 + 1800);
  ASSERT_EQ(q.lines.size(), 2u);
  EXPECT_EQ(q.lines[0].usage, u("0.667"));
  EXPECT_EQ(q.lines[1].usage, u("0.333"));
  EXPECT_EQ(q.exact, 5498000);
  EXPECT_EQ(q.total_fen, 55);
  // 22:00 to 01:00 next day: flat 1h, valley 2h (merged across midnight), 3 kWh.
  q = quote_interval(t, u("3"), 0, day + 22 * 3600, day + 25 * 3600);
  ASSERT_EQ(q.lines.size(), 2u);
  EXPECT_EQ(q.lines[0].period, "flat");
  EXPECT_EQ(q.lines[1].usage, u("2"));
  EXPECT_EQ(q.total_fen, 65 + 70);
}

TEST(Tariff, CycleKeys) {
  auto at = *parse_local_time("2026-12-31T23:59:59");
  EXPECT_EQ(cycle_key(Cycle::month, at), "2026-12");
  EXPECT_EQ(cycle_key(Cycle::year, at), "2026");
  EXPECT_EQ(cycle_key(Cycle::month, at + 1), "2027-01");
  EXPECT_EQ(cycle_key(Cycle::none, at), "all");
}

// Splitting a usage in two never changes the exact total: cost(B, U) = cost(B, U1) +
// cost(B + U1, U - U1) for every split. (Rounded per piece the fen could differ by one; the
// engine therefore rounds the cycle's running exact total, see engine_test.)
TEST(TariffProperty, SplittingNeverChangesTheExactTotal) {
  config::Diagnostics diag;
  auto ts = load(kTariffs, diag);
  std::mt19937_64 rng(20261123);
  for (const auto* id : {"water-res", "power-flat", "power-tou"}) {
    const Tariff& t = find(ts, id);
    for (int i = 0; i < 2000; ++i) {
      const UsageMilli before = static_cast<UsageMilli>(rng() % 400000);
      const UsageMilli usage = static_cast<UsageMilli>(rng() % 300000);
      const UsageMilli first = usage == 0 ? 0 : static_cast<UsageMilli>(rng() % (usage + 1));
      const LocalSeconds at = static_cast<LocalSeconds>(rng() % 86400);
      const Quote whole = quote(t, usage, before, at);
      const Quote a = quote(t, first, before, at);
      const Quote b = quote(t, usage - first, before + first, at);
      ASSERT_EQ(whole.exact, a.exact + b.exact) << id << " B=" << before << " U=" << usage << " U1=" << first;
      UsageMilli sum = 0;
      for (const auto& l : whole.lines) sum += l.usage;
      ASSERT_EQ(sum, usage);
    }
  }
}

TEST(TariffValidation, ReportsFileLineColumn) {
  struct Case {
    const char* name;
    std::string yaml;
    std::string want;  // ":line:col: key: message" fragment
  } cases[] = {
      {"not increasing", "tariffs:\n  - id: w\n    quantity: water\n    unit: m3\n    tiers:\n      - { upto: 180, price: \"5\" }\n      - { upto: 180, price: \"7\" }\n      - { price: \"9\" }\n",
       ":7:17: tariffs[0].tiers[1].upto: tiers must be strictly increasing"},
      {"open tier not last", "tariffs:\n  - id: w\n    quantity: water\n    unit: m3\n    tiers:\n      - { price: \"5\" }\n      - { upto: 180, price: \"7\" }\n",
       ":6:9: tariffs[0].tiers[0]: only the last tier may be open"},
      {"last tier closed", "tariffs:\n  - id: w\n    quantity: water\n    unit: m3\n    tiers:\n      - { upto: 180, price: \"5\" }\n",
       ":6:17: tariffs[0].tiers[0].upto: the last tier must be open"},
      {"negative price", "tariffs:\n  - { id: w, quantity: water, unit: m3, price: \"-1\" }\n",
       ":2:48: tariffs[0].price: price must not be negative"},
      {"five decimals", "tariffs:\n  - { id: w, quantity: water, unit: m3, price: \"1.00001\" }\n",
       ":2:48: tariffs[0].price: price '1.00001' has more than 4 decimal places"},
      {"unknown unit", "tariffs:\n  - { id: w, quantity: electricity, unit: m3, price: \"1\" }\n",
       ":2:43: tariffs[0].unit: unknown unit 'm3' for electricity"},
      {"unknown quantity", "tariffs:\n  - { id: w, quantity: steam, unit: m3, price: \"1\" }\n",
       ":2:24: tariffs[0].quantity: 'steam' is not one of"},
      {"duplicate id", "tariffs:\n  - { id: w, quantity: water, unit: m3, price: \"1\" }\n  - { id: w, quantity: water, unit: m3, price: \"1\" }\n",
       ":3:11: tariffs[1].id: duplicate tariff id 'w'; first defined at "},
      {"two kinds", "tariffs:\n  - id: w\n    quantity: water\n    unit: m3\n    price: \"1\"\n    tiers: []\n",
       ":2:5: tariffs[0]: a tariff needs exactly one of price"},
      {"period gap", "tariffs:\n  - id: t\n    quantity: electricity\n    unit: kWh\n    periods:\n      - { name: a, times: [\"00:00-12:00\"], price: \"1\" }\n",
       ":6:7: tariffs[0].periods: the periods must cover the whole day: 12:00-24:00 is in no period"},
      {"period overlap", "tariffs:\n  - id: t\n    quantity: electricity\n    unit: kWh\n    periods:\n      - { name: a, times: [\"00:00-13:00\"], price: \"1\" }\n      - { name: b, times: [\"12:00-24:00\"], price: \"1\" }\n",
       ":7:27: tariffs[0].periods[1].times: overlaps period 'a' at 12:00"},
      {"bad range", "tariffs:\n  - id: t\n    quantity: electricity\n    unit: kWh\n    periods:\n      - { name: a, times: [\"0:00-24:00\"], price: \"1\" }\n",
       "tariffs[0].periods[0].times: '0:00-24:00' is not a time range"},
      {"misspelt key", "tariffs:\n  - { id: w, quantity: water, unit: m3, prise: \"1\" }\n",
       ":2:41: tariffs[0].prise: unknown key"},
      {"yaml syntax", "tariffs:\n  - { id: w, quantity: water\n", ":3:1: YAML syntax"},
      {"no list", "site:\n  id: x\n", ":1:1: no top-level 'tariffs:' list"},
  };
  for (const auto& c : cases) {
    config::Diagnostics diag;
    TempFile f(c.yaml);
    auto t = load_tariff_file(f.path, diag);
    EXPECT_FALSE(t.has_value()) << c.name;
    const std::string text = diag.to_string();
    const std::string want = c.want[0] == ':' ? f.path.string() + c.want : c.want;
    EXPECT_NE(text.find(want), std::string::npos) << c.name << "\n  want: " << c.want << "\n  got:  " << text;
  }
}

TEST(TariffValidation, LocalTimeParsing) {
  EXPECT_EQ(parse_local_time("08:30"), 8 * 3600 + 30 * 60);
  EXPECT_EQ(parse_local_time("1970-01-02T00:00:01Z"), 86401);
  EXPECT_EQ(parse_local_time("1970-01-01T08:00:00.500+08:00"), 8 * 3600);
  EXPECT_FALSE(parse_local_time("25:00"));
  EXPECT_FALSE(parse_local_time("2026-02-30T00:00"));
  EXPECT_FALSE(parse_local_time("noon"));
}

}  // namespace
}  // namespace estate::billing
