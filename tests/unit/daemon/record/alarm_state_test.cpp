// Alarms once per transition (daemon/record/alarm_state.hpp): a raise repeated, or a clear of a
// pair that is not raised, appends nothing; pairs are per (alarm, device); the state survives
// reopening the store.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "daemon/record/alarm_state.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::record {
namespace {

class AlarmStateTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = estate::testing::fresh_test_dir("estate-alarm-state-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Raises or clears (alarm, device) in a fresh Store; true when a record was appended.
  bool send(const std::string& name, const std::string& device, bool raise) {
    store::Store s(dir_);
    bool appended = false;
    s.write_sync([&](store::Database& db) {
      Alarm a;
      a.ts = "2026-12-05T08:00:00.000+08:00";
      a.alarm = name;
      a.device = device;
      a.state = raise ? AlarmState::raised : AlarmState::cleared;
      a.severity = raise ? Severity::major : Severity::info;
      a.detail = raise ? "it broke" : "it works again";
      appended = transition(db, "gw", a).has_value();
    });
    return appended;
  }
  // The alarms stream as stored: "<alarm>/<device>/<state>" in seq order.
  std::vector<std::string> alarms() {
    auto db = store::open_store(dir_, store::OpenMode::read_write_create);
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'alarms' ORDER BY seq");
    std::vector<std::string> out;
    while (st.step()) {
      auto j = nlohmann::json::parse(st.text(0));
      out.push_back(j.at("alarm").get<std::string>() + "/" + j.value("device", "") + "/" +
                    j.at("state").get<std::string>());
    }
    return out;
  }
  std::filesystem::path dir_;
};

TEST_F(AlarmStateTest, EachPairIsRaisedAndClearedOncePerTransition) {
  EXPECT_FALSE(send("barrier_fault", "gate-in", false)) << "nothing raised: nothing to clear";
  EXPECT_TRUE(send("barrier_fault", "gate-in", true));
  EXPECT_FALSE(send("barrier_fault", "gate-in", true)) << "still faulty: no second raise";
  EXPECT_TRUE(send("barrier_fault", "gate-out", true)) << "another device is another pair";
  EXPECT_TRUE(send("barrier_fault", "gate-in", false));
  EXPECT_FALSE(send("barrier_fault", "gate-in", false));
  EXPECT_TRUE(send("disk_pressure", "", true));
  EXPECT_TRUE(send("barrier_fault", "gate-in", true)) << "a new fault after the clear";
  EXPECT_EQ(alarms(), (std::vector<std::string>{"barrier_fault/gate-in/raised",
                                                "barrier_fault/gate-out/raised",
                                                "barrier_fault/gate-in/cleared",
                                                "disk_pressure//raised",
                                                "barrier_fault/gate-in/raised"}));
  store::Store s(dir_);
  auto db = s.open_reader();
  EXPECT_TRUE(alarm_raised(db, "disk_pressure"));
  EXPECT_TRUE(alarm_raised(db, "barrier_fault", "gate-out"));
  EXPECT_FALSE(alarm_raised(db, "payment_attention", "gw-pay-1"));
}

}  // namespace
}  // namespace estate::record
