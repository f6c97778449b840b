// Meter alarms through the recorder, as the daemon runs them: each transition leaves exactly one
// record on the `alarms` stream, a raised alarm survives a restart without being raised again,
// and a rolled-back job takes its alarm with it.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/metering/recorder.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::metering {
namespace {

using namespace std::chrono;
using Alarm = std::tuple<std::string, std::string, std::string, std::string>;  // alarm, state, device, severity

// 2026-01-10 12:00 at +08:00 (daytime); 03:00 local is in the night window.
const auto noon = sys_days{year{2026} / 1 / 10} + hours(4);
const auto night = sys_days{year{2026} / 1 / 10} + hours(19);  // 03:00 on the 11th, +08:00

drivers::Reading energy(const char* value, system_clock::time_point t, const char* meter = "m1") {
  drivers::Reading r;
  r.meter = meter;
  drivers::set_quantity(r, drivers::Quantity::active_energy_import, true);
  r.value = *drivers::parse_decimal(value);
  r.unit = "kWh";
  r.timestamp = t;
  return r;
}

drivers::Reading water(const char* value, system_clock::time_point t) {
  auto r = energy(value, t, "w1");
  drivers::set_quantity(r, drivers::Quantity::volume, true);
  r.unit = "m3";
  return r;
}

drivers::Reading valve(int open, system_clock::time_point t) {
  drivers::Reading r;
  r.meter = "w1";
  drivers::set_quantity(r, drivers::Quantity::valve_state, false);
  r.value = drivers::Decimal{open, 0};
  r.timestamp = t;
  return r;
}

struct ThrowingSink : ReadingSink {
  bool fail = false;
  void on_reading(store::Database&, const StoredReading&) override {
    if (fail) throw std::runtime_error("sink failed");
  }
};

class MeterAlarmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("meter-alarms");
    open();
  }
  void TearDown() override {
    rec_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open(std::set<std::string> configured = {"m1", "w1"}) {
    rec_.reset();
    store_.reset();
    store_ = std::make_unique<store::Store>(dir_);
    rec_ = std::make_unique<Recorder>(*store_, "gw", 480, ValidationPolicy{}, &sink_);
    rec_->load_baselines();
    rec_->load_alarms(configured);
  }
  std::exception_ptr record(std::vector<drivers::Reading> rs, MeterTraits traits = {}) {
    std::promise<std::exception_ptr> p;
    rec_->record(std::move(rs), traits, "electricity",
                 [&](std::exception_ptr e, const RecordResult&) { p.set_value(e); });
    return p.get_future().get();
  }
  void event(const std::string& kind, const std::string& device, const std::string& detail) {
    rec_->device_event(kind, device, detail);
    store_->write_sync([](store::Database&) {});  // the writer runs jobs in order
  }
  // The alarm records appended since the last call.
  std::vector<Alarm> alarms() {
    std::vector<Alarm> out;
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT seq, payload FROM outbox WHERE stream = 'alarms' AND seq > ?1 ORDER BY seq");
    st.bind(1, seen_);
    while (st.step()) {
      seen_ = st.int64(0);
      auto j = nlohmann::json::parse(st.text(1));
      EXPECT_EQ(j["kind"], "alarm");
      EXPECT_FALSE(j["detail"].get<std::string>().empty());
      out.emplace_back(j["alarm"], j["state"], j.value("device", ""), j["severity"]);
    }
    return out;
  }

  std::filesystem::path dir_;
  ThrowingSink sink_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Recorder> rec_;
  std::int64_t seen_ = 0;
};

TEST_F(MeterAlarmsTest, OfflineRaisedOnceAndClearedOnce) {
  event("device_offline", "m1", "3 failed polls: timeout");
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_offline", "raised", "m1", "major"}}));
  event("device_offline", "m1", "3 failed polls: timeout");  // still offline: nothing new
  EXPECT_TRUE(alarms().empty());
  event("device_online", "m1", "answers again");
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_offline", "cleared", "m1", "info"}}));
  event("device_online", "m1", "answers again");
  EXPECT_TRUE(alarms().empty());
  // Another meter's alarm is its own.
  event("device_offline", "w1", "3 failed polls: timeout");
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_offline", "raised", "w1", "major"}}));
}

TEST_F(MeterAlarmsTest, RaisedAlarmSurvivesRestartAndTheFirstReadingClearsIt) {
  event("device_offline", "m1", "3 failed polls: timeout");
  ASSERT_EQ(alarms().size(), 1u);
  open();  // a restart: the scheduler knows nothing, the store remembers the alarm
  event("device_offline", "m1", "3 failed polls: timeout");
  EXPECT_TRUE(alarms().empty()) << "raised again after a restart";
  ASSERT_FALSE(record({energy("10.00", noon)}));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_offline", "cleared", "m1", "info"}}));
  ASSERT_FALSE(record({energy("10.01", noon + minutes(15))}));
  EXPECT_TRUE(alarms().empty());
}

TEST_F(MeterAlarmsTest, AlarmOfARemovedMeterIsClearedAtStart) {
  event("device_offline", "m1", "3 failed polls: timeout");
  event("device_offline", "w1", "3 failed polls: timeout");
  ASSERT_EQ(alarms().size(), 2u);
  open({"w1"});
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_offline", "cleared", "m1", "info"}}));
  open({"w1"});
  EXPECT_TRUE(alarms().empty());
}

TEST_F(MeterAlarmsTest, NegativeStepSpikeAndRolloverEachRaiseOnceAndClearOnAnAcceptedStep) {
  ASSERT_FALSE(record({energy("100.00", noon)}));
  ASSERT_FALSE(record({energy("90.00", noon + hours(1))}));  // below the baseline
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_negative_step", "raised", "m1", "major"}}));
  ASSERT_FALSE(record({energy("80.00", noon + hours(2))}));  // lower still: same condition
  EXPECT_TRUE(alarms().empty());
  ASSERT_FALSE(record({energy("100.50", noon + hours(3))}));  // continues from the baseline
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_negative_step", "cleared", "m1", "info"}}));

  // Build a history of ~1 kWh/h, then a step of 500 kWh in an hour.
  for (int i = 1; i <= 4; ++i) {
    ASSERT_FALSE(record({energy((std::to_string(100 + i) + ".50").c_str(), noon + hours(3 + i))}));
  }
  EXPECT_TRUE(alarms().empty());
  ASSERT_FALSE(record({energy("604.50", noon + hours(8))}));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_spike", "raised", "m1", "minor"}}));
  ASSERT_FALSE(record({energy("105.50", noon + hours(9))}));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_spike", "cleared", "m1", "info"}}));

  // A six-digit counter wraps: raised on the wrap, cleared on the next ordinary step.
  MeterTraits six{6, false};
  ASSERT_FALSE(record({energy("999999.50", noon + hours(10), "m2")}, six));
  ASSERT_FALSE(record({energy("0.50", noon + hours(11), "m2")}, six));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_rollover", "raised", "m2", "warning"}}));
  ASSERT_FALSE(record({energy("1.50", noon + hours(12), "m2")}, six));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_rollover", "cleared", "m2", "info"}}));
}

TEST_F(MeterAlarmsTest, LeakRaisedByNightFlowAndClearedAtRest) {
  MeterTraits w{0, true};
  ASSERT_FALSE(record({water("10.000", night)}, w));
  for (int i = 1; i <= 5; ++i) {
    const std::string v = "10.0" + std::to_string(i) + "0";
    ASSERT_FALSE(record({water(v.c_str(), night + minutes(15 * i))}, w));
  }
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_leak", "raised", "w1", "major"}}));
  ASSERT_FALSE(record({water("10.060", night + minutes(90))}, w));  // still flowing
  EXPECT_TRUE(alarms().empty());
  ASSERT_FALSE(record({water("10.060", night + minutes(105))}, w));  // at rest
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_leak", "cleared", "w1", "info"}}));
}

TEST_F(MeterAlarmsTest, ValveAndRelayStateChanges) {
  ASSERT_FALSE(record({valve(1, noon)}));
  EXPECT_TRUE(alarms().empty());
  ASSERT_FALSE(record({valve(0, noon + minutes(1))}));
  ASSERT_FALSE(record({valve(0, noon + minutes(2))}));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_valve_closed", "raised", "w1", "warning"}}));
  event("meter_command", "w1", "valve open: done");
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_valve_closed", "cleared", "w1", "info"}}));
  ASSERT_FALSE(record({valve(1, noon + minutes(3))}));
  EXPECT_TRUE(alarms().empty());
  // A relay trip the meter did not confirm changes nothing; a confirmed one raises.
  event("meter_command", "m1", "relay trip: the device did not answer in time");
  EXPECT_TRUE(alarms().empty());
  event("meter_command", "m1", "relay trip: done");
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_relay_tripped", "raised", "m1", "warning"}}));
  event("meter_command", "m1", "relay close: done");
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_relay_tripped", "cleared", "m1", "info"}}));
}

TEST_F(MeterAlarmsTest, RolledBackJobTakesItsAlarmWithIt) {
  ASSERT_FALSE(record({energy("100.00", noon)}));
  sink_.fail = true;
  EXPECT_TRUE(record({energy("90.00", noon + hours(1))}));  // not stored: no alarm either
  EXPECT_TRUE(alarms().empty());
  sink_.fail = false;
  ASSERT_FALSE(record({energy("90.00", noon + hours(2))}));
  EXPECT_EQ(alarms(), (std::vector<Alarm>{{"meter_negative_step", "raised", "m1", "major"}}));
}

}  // namespace
}  // namespace estate::metering
