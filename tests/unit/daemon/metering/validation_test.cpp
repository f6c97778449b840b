#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <future>

#include "daemon/metering/recorder.hpp"
#include "daemon/metering/validation.hpp"

namespace estate::metering {
namespace {

using drivers::Decimal;
using drivers::Quality;
using namespace std::chrono;

drivers::Reading reading(const char* value, system_clock::time_point t) {
  drivers::Reading r;
  r.meter = "m1";
  r.quantity = "energy_import";
  r.value = *drivers::parse_decimal(value);
  r.unit = "kWh";
  r.timestamp = t;
  r.cumulative = true;
  return r;
}

// 2026-01-10 12:00 at +08:00 (daytime), as a fixed point so the night window is predictable.
const auto noon = sys_days{year{2026} / 1 / 10} + hours(4);

TEST(Validation, FirstReadingIsBaselineThenExactDeltas) {
  Validator v;
  auto a = v.validate(reading("100.00", noon), {});
  EXPECT_EQ(a.reading.quality, Quality::good);
  EXPECT_FALSE(a.delta);
  auto b = v.validate(reading("100.07", noon + minutes(15)), {});
  ASSERT_TRUE(b.delta);
  EXPECT_EQ(b.delta->to_string(), "0.07");
}

TEST(Validation, RolloverByCounterDigits) {
  Validator v;
  v.validate(reading("999999.50", noon), {6, false});
  auto r = v.validate(reading("000000.25", noon + hours(1)), {6, false});
  EXPECT_EQ(r.reading.quality, Quality::rollover);
  ASSERT_TRUE(r.delta);
  EXPECT_EQ(r.delta->to_string(), "0.75");
}

TEST(Validation, NegativeStepWithheldAndBaselineKeptForAMisread) {
  Validator v;
  v.validate(reading("500.00", noon), {6, false});
  auto bad = v.validate(reading("100.00", noon + hours(1)), {6, false});
  EXPECT_EQ(bad.reading.quality, Quality::negative_step);
  EXPECT_FALSE(bad.delta);
  auto next = v.validate(reading("500.50", noon + hours(2)), {6, false});
  EXPECT_EQ(next.reading.quality, Quality::good);
  EXPECT_EQ(next.delta->to_string(), "0.50");
}

TEST(Validation, ExchangedMeterMovesBaselineAfterTwoConsistentReadings) {
  Validator v;
  v.validate(reading("500.00", noon), {});
  EXPECT_EQ(v.validate(reading("3.00", noon + hours(1)), {}).reading.quality, Quality::negative_step);
  auto r = v.validate(reading("3.20", noon + hours(2)), {});
  EXPECT_EQ(r.reading.quality, Quality::good);
  EXPECT_EQ(r.delta->to_string(), "0.20");
}

TEST(Validation, SpikeAgainstHistory) {
  Validator v;
  auto t = noon;
  v.validate(reading("100.00", t), {});
  for (int i = 1; i <= 4; ++i) v.validate(reading(i == 1 ? "101.00" : i == 2 ? "102.00" : i == 3 ? "103.00" : "104.00", t + hours(i)), {});
  auto s = v.validate(reading("900.00", t + hours(5)), {});
  EXPECT_EQ(s.reading.quality, Quality::spike);
  EXPECT_FALSE(s.delta);
}

TEST(Validation, RecentRatesKeepTheNewestUpToTheirLimit) {
  RecentRates r;
  for (int i = 1; i <= 20; ++i) r.push(i, 8);
  EXPECT_EQ(r.size(), 8u);
  EXPECT_DOUBLE_EQ(r.sum(), 13 + 14 + 15 + 16 + 17 + 18 + 19 + 20);
  r.push(100, 2);  // a smaller limit drops the oldest at once
  EXPECT_EQ(r.size(), 2u);
  EXPECT_DOUBLE_EQ(r.sum(), 120);
  for (int i = 0; i < 40; ++i) r.push(1, 1000);  // never beyond the inline capacity
  EXPECT_EQ(r.size(), RecentRates::capacity);
  r.clear();
  EXPECT_EQ(r.size(), 0u);
  EXPECT_DOUBLE_EQ(r.sum(), 0);
}

TEST(Validation, SpikeIsJudgedAgainstTheLastEightStepsOnly) {
  Validator v;
  auto t = noon;
  int value = 1000;
  v.validate(reading("1000.00", t), {});
  // Three steps of 100 an hour, then eight of 1 an hour: the early ones are forgotten.
  for (int i = 1; i <= 11; ++i) {
    value += i <= 3 ? 100 : 1;
    auto ok = v.validate(reading((std::to_string(value) + ".00").c_str(), t + hours(i)), {});
    ASSERT_EQ(ok.reading.quality, Quality::good) << i;
  }
  // 50 an hour: over 10x the recent mean of 1 (it would not be against all eleven, mean 28).
  auto s = v.validate(reading((std::to_string(value + 50) + ".00").c_str(), t + hours(12)), {});
  EXPECT_EQ(s.reading.quality, Quality::spike);
}

TEST(Validation, NightFlowOnWaterMeters) {
  Validator v;  // +08:00: 02:00 local is 18:00 UTC the day before
  const auto night = sys_days{year{2026} / 1 / 10} - hours(6);
  MeterTraits water{5, true};
  drivers::Reading r = reading("10.00", night);
  r.quantity = "volume";
  v.validate(r, water);
  Quality last = Quality::good;
  for (int i = 1; i <= 5; ++i) {
    r.value = Decimal{1000 + i * 2, -2};
    r.timestamp = night + minutes(20 * i);
    last = v.validate(r, water).reading.quality;
  }
  EXPECT_EQ(last, Quality::night_flow);
  // The same flow in the daytime is normal.
  Validator day;
  r.value = Decimal{1000, -2};
  r.timestamp = noon;
  day.validate(r, water);
  for (int i = 1; i <= 5; ++i) {
    r.value = Decimal{1000 + i * 2, -2};
    r.timestamp = noon + minutes(20 * i);
    last = day.validate(r, water).reading.quality;
  }
  EXPECT_EQ(last, Quality::good);
}

class CountingSink : public ReadingSink {
 public:
  void on_reading(store::Database&, const StoredReading& r) override {
    if (r.delta) deltas.push_back(r.delta->to_string());
    if (fail_on == r.value.to_string()) throw std::runtime_error("billing refused");
  }
  std::vector<std::string> deltas;
  std::string fail_on;
};

TEST(Recorder, StoresReadingsWithOutboxRowsAndSinkInOneTransaction) {
  auto dir = std::filesystem::temp_directory_path() / ("estate-rec-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  CountingSink sink;
  {
    store::Store store(dir);
    Recorder rec(store, "gw", 480, {}, &sink);
    rec.load_baselines();
    std::promise<void> p1;
    rec.record({reading("10.00", noon)}, {}, "electricity", [&](std::exception_ptr, const RecordResult&) { p1.set_value(); });
    p1.get_future().wait();
    std::promise<std::exception_ptr> p2;
    sink.fail_on = "10.50";
    rec.record({reading("10.50", noon + hours(1))}, {}, "electricity",
               [&](std::exception_ptr e, const RecordResult&) { p2.set_value(e); });
    EXPECT_TRUE(p2.get_future().get());  // the sink threw: the reading is rolled back
    sink.fail_on.clear();
    std::promise<void> p3;
    rec.record({reading("10.75", noon + hours(2))}, {}, "electricity",
               [&](std::exception_ptr, const RecordResult&) { p3.set_value(); });
    p3.get_future().wait();
    store.stop();
  }
  auto db = store::open_store(dir, store::OpenMode::read_only);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM readings"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM outbox WHERE stream = 'readings' AND droppable = 1"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM readings r JOIN outbox o ON o.seq = r.seq"), 2);
  // The baseline did not move with the rolled-back reading: the delta covers both hours.
  ASSERT_EQ(sink.deltas.size(), 2u);
  EXPECT_EQ(sink.deltas.back(), "0.75");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace estate::metering
