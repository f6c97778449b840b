// Hand-worked fee cases at every boundary of the rules in docs/parking.md. Each expected figure
// is worked out in the comment beside it, not computed by the code under test.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "daemon/parking/fee.hpp"
#include "daemon/parking/fee_rules.hpp"
#include "daemon/parking/time.hpp"

namespace estate::parking {
namespace {

std::vector<FeeRule> rules_from(const std::string& yaml, config::Diagnostics& diag) {
  config::Section doc(YAML::Load(yaml), "rules.yaml", "", diag);
  return parse_parking_rules(doc);
}

const char* kRules = R"(parking_rules:
  - id: visitor
    free_minutes: 30
    unit_minutes: 60
    unit_price_fen: 500
    daily_cap_fen: 2000
  - id: night
    free_minutes: 15
    unit_minutes: 60
    unit_price_fen: 500
    stay_cap_fen: 3000
    night:
      from: "22:00"
      to: "07:00"
      unit_price_fen: 200
    classes:
      large:
        unit_price_fen: 1000
        night_unit_price_fen: 400
  - id: half-hour
    free_minutes: 0
    unit_minutes: 30
    unit_price_fen: 300
    daily_cap_fen: 1000
)";

class FeeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = rules_from(kRules, diag_);
    ASSERT_TRUE(diag_.ok()) << diag_.to_string();
    ASSERT_EQ(rules_.size(), 3u);
  }
  std::int64_t fee(const std::string& id, const std::string& entry, const std::string& exit,
                   const std::string& cls = "") {
    auto q = quote(id, entry, exit, cls);
    return q ? q->fee_fen : -1;
  }
  std::optional<FeeQuote> quote(const std::string& id, const std::string& entry,
                                const std::string& exit, const std::string& cls = "") {
    std::string err;
    auto en = parse_iso8601(entry, err);
    EXPECT_TRUE(en) << err;
    auto ex = parse_iso8601(exit, err);
    EXPECT_TRUE(ex) << err;
    const FeeRule* r = find_rule(rules_, id);
    EXPECT_NE(r, nullptr);
    if (!en || !ex || !r) return std::nullopt;
    FeeError fe;
    auto q = compute_fee(*r, *en, *ex, cls, fe);
    error_ = fe.message;
    return q;
  }
  config::Diagnostics diag_;
  std::vector<FeeRule> rules_;
  std::string error_;
};

constexpr const char* E = "2026-03-01T08:00:00+08:00";

TEST_F(FeeTest, FreeMinutesBoundary) {
  EXPECT_EQ(fee("visitor", E, E), 0);                              // zero-length stay
  EXPECT_EQ(fee("visitor", E, "2026-03-01T08:30:00+08:00"), 0);    // exactly 30 min: free
  auto q = quote("visitor", E, "2026-03-01T08:30:00+08:00");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->free);
  EXPECT_EQ(q->units, 0);
  // 30 min 1 s: no longer free, charged from entry: 1 started unit = 500.
  EXPECT_EQ(fee("visitor", E, "2026-03-01T08:30:01+08:00"), 500);
}

TEST_F(FeeTest, EachStartedUnitIsCharged) {
  EXPECT_EQ(fee("visitor", E, "2026-03-01T09:00:00+08:00"), 500);   // exactly 1 unit
  EXPECT_EQ(fee("visitor", E, "2026-03-01T09:00:01+08:00"), 1000);  // 2nd unit started
  EXPECT_EQ(fee("visitor", E, "2026-03-01T10:00:00+08:00"), 1000);  // exactly 2 units
  EXPECT_EQ(fee("visitor", E, "2026-03-01T11:59:59+08:00"), 2000);  // 4 units = 2000 = cap
}

TEST_F(FeeTest, DailyCapPerWindowFromEntry) {
  // 4 h 1 s: 5 units = 2500, cut to the daily cap 2000.
  auto q = quote("visitor", E, "2026-03-01T12:00:01+08:00");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->units, 5);
  EXPECT_EQ(q->uncapped_fen, 2500);
  EXPECT_EQ(q->fee_fen, 2000);
  ASSERT_EQ(q->windows.size(), 1u);
  EXPECT_TRUE(q->windows[0].capped);
  // Exactly 24 h: 24 units, all in window 0: 2000.
  EXPECT_EQ(fee("visitor", E, "2026-03-02T08:00:00+08:00"), 2000);
  // 24 h 1 s: unit 25 starts at 08:00 next day = window 1: 2000 + 500.
  q = quote("visitor", E, "2026-03-02T08:00:01+08:00");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->windows.size(), 2u);
  EXPECT_EQ(q->windows[1].units, 1);
  EXPECT_EQ(q->windows[1].charged_fen, 500);
  EXPECT_EQ(q->fee_fen, 2500);
  // 26 h: window 1 holds 2 units = 1000; total 3000.
  EXPECT_EQ(fee("visitor", E, "2026-03-02T10:00:00+08:00"), 3000);
  // 48 h 1 s: 2000 + 2000 + 500.
  EXPECT_EQ(fee("visitor", E, "2026-03-03T08:00:01+08:00"), 4500);
  // The window follows entry, not midnight: 23:00 to 03:00 next day = 4 units, one window.
  EXPECT_EQ(fee("visitor", "2026-03-01T23:00:00+08:00", "2026-03-02T03:00:00+08:00"), 2000);
  q = quote("visitor", "2026-03-01T23:00:00+08:00", "2026-03-02T03:00:00+08:00");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->windows.size(), 1u);
}

TEST_F(FeeTest, UnitsSmallerThanAnHour) {
  // 30-min units at 300, no free time, cap 1000: 1 s = 1 unit = 300; 30 min = 300;
  // 30 min 1 s = 600; 1 h 30 min 1 s = 4 units = 1200 -> cap 1000.
  EXPECT_EQ(fee("half-hour", E, E), 0);
  EXPECT_EQ(fee("half-hour", E, "2026-03-01T08:00:01+08:00"), 300);
  EXPECT_EQ(fee("half-hour", E, "2026-03-01T08:30:00+08:00"), 300);
  EXPECT_EQ(fee("half-hour", E, "2026-03-01T08:30:01+08:00"), 600);
  EXPECT_EQ(fee("half-hour", E, "2026-03-01T09:30:01+08:00"), 1000);
}

TEST_F(FeeTest, NightPriceByUnitStart) {
  // 21:00 -> 00:00: units start 21:00 (day 500), 22:00 (night 200), 23:00 (night 200) = 900.
  auto q = quote("night", "2026-03-01T21:00:00+08:00", "2026-03-02T00:00:00+08:00");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->day_units, 1);
  EXPECT_EQ(q->night_units, 2);
  EXPECT_EQ(q->fee_fen, 900);
  // 21:30 -> 22:31: units at 21:30 (day) and 22:30 (night) = 700.
  EXPECT_EQ(fee("night", "2026-03-01T21:30:00+08:00", "2026-03-01T22:31:00+08:00"), 700);
  // 21:59:59 starts in the day even though almost all of it is night: 500.
  EXPECT_EQ(fee("night", "2026-03-01T21:59:59+08:00", "2026-03-01T22:59:59+08:00"), 500);
  // The morning edge: 06:30 -> 07:30 is one night unit (200); 07:30:01 starts a day unit.
  EXPECT_EQ(fee("night", "2026-03-01T06:30:00+08:00", "2026-03-01T07:30:00+08:00"), 200);
  EXPECT_EQ(fee("night", "2026-03-01T06:30:00+08:00", "2026-03-01T07:30:01+08:00"), 700);
  // 07:00 is already day (the period is [22:00, 07:00)).
  EXPECT_EQ(fee("night", "2026-03-01T07:00:00+08:00", "2026-03-01T08:00:00+08:00"), 500);
  // Free time still applies: 15 min is free, 15 min 1 s is one night unit.
  EXPECT_EQ(fee("night", "2026-03-01T23:00:00+08:00", "2026-03-01T23:15:00+08:00"), 0);
  EXPECT_EQ(fee("night", "2026-03-01T23:00:00+08:00", "2026-03-01T23:15:01+08:00"), 200);
}

TEST_F(FeeTest, NightIsReadInTheEntryOffset) {
  // The same instant as 21:00+08:00 written in UTC is 13:00 local: three day units = 1500,
  // then the stay cap 3000 is not reached.
  EXPECT_EQ(fee("night", "2026-03-01T13:00:00Z", "2026-03-01T16:00:00Z"), 1500);
  // Mixed offsets: entry in +08:00, exit in Z; the duration is still 3 h.
  EXPECT_EQ(fee("night", "2026-03-01T21:00:00+08:00", "2026-03-01T16:00:00Z"), 900);
}

TEST_F(FeeTest, StayCap) {
  // 08:00 -> 16:00: 8 day units = 4000, cut to the stay cap 3000.
  auto q = quote("night", E, "2026-03-01T16:00:00+08:00");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->uncapped_fen, 4000);
  EXPECT_TRUE(q->stay_capped);
  EXPECT_EQ(q->fee_fen, 3000);
  // 6 units = 3000 exactly: not capped.
  q = quote("night", E, "2026-03-01T14:00:00+08:00");
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->stay_capped);
  EXPECT_EQ(q->fee_fen, 3000);
}

TEST_F(FeeTest, VehicleClass) {
  // large: 21:00 -> 00:00 = 1000 + 400 + 400 = 1800; stay cap inherited (3000).
  EXPECT_EQ(fee("night", "2026-03-01T21:00:00+08:00", "2026-03-02T00:00:00+08:00", "large"),
            1800);
  EXPECT_EQ(fee("night", E, "2026-03-01T12:00:00+08:00", "large"), 3000);
  EXPECT_FALSE(quote("night", E, "2026-03-01T12:00:00+08:00", "bus"));
  EXPECT_NE(error_.find("no vehicle class 'bus'"), std::string::npos);
}

TEST_F(FeeTest, ExitBeforeEntryIsAnError) {
  EXPECT_FALSE(quote("visitor", E, "2026-03-01T07:59:59+08:00"));
  EXPECT_NE(error_.find("before the entry"), std::string::npos);
  // Same wall-clock text, different offsets: 08:00+08:00 is 00:00Z, 07:00Z is later: fine.
  EXPECT_EQ(fee("visitor", E, "2026-03-01T07:00:00Z"), 2000);  // 7 h = 7 units -> cap
}

TEST(FeeTime, ParsesIso8601WithOffsets) {
  std::string err;
  auto a = parse_iso8601("2026-03-01T08:00:00+08:00", err);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->utc_seconds, 1772323200);  // 2026-03-01T00:00:00Z
  EXPECT_EQ(a->offset_minutes, 480);
  auto b = parse_iso8601("2026-03-01T00:00Z", err);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->utc_seconds, a->utc_seconds);
  auto c = parse_iso8601("2026-02-28T20:30:00.999-0330", err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->utc_seconds, 1772323200);
  EXPECT_EQ(c->offset_minutes, -210);
  EXPECT_EQ(format_iso8601(a->utc_seconds, 480), "2026-03-01T08:00:00+08:00");
  EXPECT_EQ(format_iso8601(c->utc_seconds, -210), "2026-02-28T20:30:00-03:30");
  auto leap = parse_iso8601("2028-02-29T12:00:00+08:00", err);
  EXPECT_TRUE(leap);
}

TEST(FeeTime, RejectsTimesWithoutOffsetOrOutOfRange) {
  std::string err;
  EXPECT_FALSE(parse_iso8601("2026-03-01T08:00:00", err));
  EXPECT_NE(err.find("missing UTC offset"), std::string::npos);
  EXPECT_FALSE(parse_iso8601("2026-02-29T08:00:00+08:00", err));  // 2026 is not a leap year
  EXPECT_NE(err.find("day out of range"), std::string::npos);
  EXPECT_FALSE(parse_iso8601("2026-03-01T24:00:00+08:00", err));
  EXPECT_FALSE(parse_iso8601("2026-03-01T08:00:00+08:00x", err));
  EXPECT_FALSE(parse_iso8601("yesterday", err));
  EXPECT_FALSE(parse_iso8601("", err));
}

std::string errors_of(const std::string& yaml) {
  config::Diagnostics diag;
  (void)rules_from(yaml, diag);
  return diag.to_string();
}

TEST(FeeRules, ErrorsNameFileLineColumnAndKey) {
  EXPECT_NE(errors_of("parking_rules:\n  - id: v\n    free_minutes: 30\n    unit_minutes: 0\n"
                      "    unit_price_fen: 500\n")
                .find("rules.yaml:4:19: parking_rules[0].unit_minutes: 0 is out of range"),
            std::string::npos);
  EXPECT_NE(errors_of("parking_rules:\n  - id: v\n    free_minutes: 30\n    unit_minutes: 60\n"
                      "    unit_price_fen: 5.00\n")
                .find("rules.yaml:5:21: parking_rules[0].unit_price_fen: expected an integer"),
            std::string::npos);
  EXPECT_NE(errors_of("parking_rules:\n  - id: v\n    free_minutes: 30\n    unit_minutes: 60\n"
                      "    unit_price_fen: 500\n    daily_cap: 2000\n")
                .find("rules.yaml:6:5: parking_rules[0].daily_cap: unknown key"),
            std::string::npos);
  EXPECT_NE(errors_of("parking_rules:\n  - id: v\n    unit_minutes: 60\n    unit_price_fen: 5\n")
                .find("rules.yaml:2:5: parking_rules[0].free_minutes: required key is missing"),
            std::string::npos);
  EXPECT_NE(errors_of("parking_rules:\n  - id: v\n    free_minutes: 0\n    unit_minutes: 60\n"
                      "    unit_price_fen: 5\n    night: {from: \"25:00\", to: \"07:00\", "
                      "unit_price_fen: 1}\n")
                .find("rules.yaml:6:19: parking_rules[0].night.from: expected a local time"),
            std::string::npos);
  const std::string dup =
      "parking_rules:\n  - {id: v, free_minutes: 0, unit_minutes: 60, unit_price_fen: 5}\n"
      "  - {id: v, free_minutes: 0, unit_minutes: 60, unit_price_fen: 6}\n";
  EXPECT_NE(errors_of(dup).find("rules.yaml:3:10: parking_rules[1].id: duplicate parking rule "
                                "id 'v'; first defined at rules.yaml:2:5"),
            std::string::npos)
      << errors_of(dup);
  EXPECT_NE(errors_of("parking_rules:\n  - {id: v, free_minutes: 0, unit_minutes: 60, "
                      "unit_price_fen: 5, night: {from: \"22:00\", to: \"07:00\", "
                      "unit_price_fen: 1}, classes: {large: {unit_price_fen: 9}}}\n")
                .find("parking_rules[0].classes.large: a class of a rule with a night period "
                      "needs night_unit_price_fen"),
            std::string::npos);
  EXPECT_NE(errors_of("parking_rules:\n  - {id: v, free_minutes: 0, unit_minutes: 60, "
                      "unit_price_fen: -5}\n")
                .find("unit_price_fen: -5 is out of range"),
            std::string::npos);
}

// The rules file is read by the same loader as the tariffs file (config::load_document_file):
// the same errors, each naming the file and, where there is one, the line and column.
TEST(FeeRules, RulesFileProblemsNameTheFile) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto path = dir / ("parking-rules-" + std::to_string(::getpid()) + ".yaml");
  auto load = [&](const std::string& text) {
    std::ofstream(path) << text;
    config::Diagnostics diag;
    auto rules = load_parking_rules_file(path, diag);
    std::filesystem::remove(path);
    return std::pair{rules.has_value(), diag.to_string()};
  };
  auto [ok, text] = load("parking_rules:\n  - {id: v, free_minutes: 0, unit_minutes: 60, "
                         "unit_price_fen: 5}\n");
  EXPECT_TRUE(ok) << text;
  std::tie(ok, text) = load("site:\n  id: x\n");
  EXPECT_FALSE(ok);
  EXPECT_NE(text.find(path.string() + ":1:1: no top-level 'parking_rules:' list"), std::string::npos)
      << text;
  std::tie(ok, text) = load("parking_rules:\n  - {id: v, free_minutes: 0\n");
  EXPECT_FALSE(ok);
  EXPECT_NE(text.find(path.string() + ":3:1: YAML syntax"), std::string::npos) << text;
  std::tie(ok, text) = load("parking_rules:\n  - {id: v, free_minutes: 0, unit_minutes: 0, "
                            "unit_price_fen: 5}\n");
  EXPECT_FALSE(ok);
  EXPECT_NE(text.find(path.string() + ":2:44: parking_rules[0].unit_minutes: 0 is out of range"),
            std::string::npos)
      << text;
  config::Diagnostics diag;
  EXPECT_FALSE(load_parking_rules_file(dir / "no-such-rules-file.yaml", diag).has_value());
  EXPECT_NE(diag.to_string().find("no-such-rules-file.yaml: cannot read the file"),
            std::string::npos)
      << diag.to_string();
}

}  // namespace
}  // namespace estate::parking
