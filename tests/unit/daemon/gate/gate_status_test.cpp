// gate_status against a real store: a start seeds a row per configured gate (and forgets
// removed ones), barrier events move the arm, the loop and the counters, and the dashboard's
// overview shows each gate with its lane's last decision as access_events keeps it (masked).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "daemon/gate/gate_status.hpp"
#include "daemon/http/dashboard.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::gate {
namespace {

using drivers::gate::BarrierEvent;
using drivers::gate::BarrierEventKind;

class GateStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("estate-gate-status-test");
    db_ = store::open_store(dir_, store::OpenMode::read_write_create);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  nlohmann::json gates() { return http::dashboard_overview(db_, 10)["gates"]; }
  void event(const char* gate, BarrierEventKind k, const char* ts, std::string detail = {}) {
    record_barrier_event(db_, gate, BarrierEvent{k, std::move(detail)}, ts);
  }

  std::filesystem::path dir_;
  store::Database db_;
};

TEST_F(GateStatusTest, StartSeedsConfiguredGatesWithTheArmUnknown) {
  record_gates_started(db_, {{"in-1", "entry", "relay io-1:0, loop io-1:0"},
                             {"out-1", "exit", "controller 2 on bus b"}},
                       "2026-03-01T08:00:00+08:00");
  auto g = gates();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0]["gate"], "in-1");
  EXPECT_EQ(g[0]["lane"], "entry");
  EXPECT_EQ(g[0]["barrier"], "unknown");
  EXPECT_TRUE(g[0]["loop_occupied"].is_null());
  EXPECT_EQ(g[0]["state"], "ok");
  EXPECT_TRUE(g[0]["last_decision"].is_null());
  EXPECT_EQ(g[1]["drive"], "controller 2 on bus b");
}

TEST_F(GateStatusTest, EventsMoveArmLoopAndCounters) {
  record_gates_started(db_, {{"in-1", "entry", "relay"}}, "2026-03-01T08:00:00+08:00");
  event("in-1", BarrierEventKind::closed, "2026-03-01T08:00:01+08:00");
  EXPECT_EQ(gates()[0]["barrier"], "closed");
  EXPECT_EQ(gates()[0]["loop_occupied"], false);
  event("in-1", BarrierEventKind::opened, "2026-03-01T08:01:00+08:00");
  event("in-1", BarrierEventKind::vehicle_arrived, "2026-03-01T08:01:02+08:00");
  auto g = gates()[0];
  EXPECT_EQ(g["barrier"], "open");
  EXPECT_EQ(g["loop_occupied"], true);
  event("in-1", BarrierEventKind::close_held, "2026-03-01T08:01:03+08:00");
  EXPECT_EQ(gates()[0]["barrier"], "held");
  event("in-1", BarrierEventKind::vehicle_passed, "2026-03-01T08:01:05+08:00");
  event("in-1", BarrierEventKind::closed, "2026-03-01T08:01:06+08:00");
  g = gates()[0];
  EXPECT_EQ(g["barrier"], "closed");
  EXPECT_EQ(g["loop_occupied"], false);
  EXPECT_EQ(g["passages"], 1);
  EXPECT_EQ(g["changed_at"], "2026-03-01T08:01:06+08:00");

  // A fault marks the gate failing until the arm is driven again; the count and detail stay.
  event("in-1", BarrierEventKind::fault, "2026-03-01T08:02:00+08:00", "relay write: timeout");
  g = gates()[0];
  EXPECT_EQ(g["state"], "failing");
  EXPECT_EQ(g["barrier"], "closed");
  EXPECT_EQ(g["faults"], 1);
  EXPECT_EQ(g["last_fault"], "relay write: timeout");
  EXPECT_EQ(g["last_fault_at"], "2026-03-01T08:02:00+08:00");
  event("in-1", BarrierEventKind::opened, "2026-03-01T08:03:00+08:00");
  g = gates()[0];
  EXPECT_EQ(g["state"], "ok");
  EXPECT_EQ(g["faults"], 1);

  // An event for a gate that is not configured changes nothing.
  event("gone", BarrierEventKind::opened, "2026-03-01T08:04:00+08:00");
  EXPECT_EQ(gates().size(), 1u);
}

TEST_F(GateStatusTest, RestartResetsCountersAndForgetsRemovedGates) {
  record_gates_started(db_, {{"in-1", "entry", "relay"}, {"in-2", "entry", "relay"}},
                       "2026-03-01T08:00:00+08:00");
  event("in-1", BarrierEventKind::vehicle_passed, "2026-03-01T08:01:00+08:00");
  event("in-1", BarrierEventKind::fault, "2026-03-01T08:02:00+08:00", "loop read: timeout");
  record_gates_started(db_, {{"in-1", "exit", "controller 1 on bus b"}},
                       "2026-03-01T09:00:00+08:00");
  auto g = gates();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0]["lane"], "exit");
  EXPECT_EQ(g[0]["drive"], "controller 1 on bus b");
  EXPECT_EQ(g[0]["passages"], 0);
  EXPECT_EQ(g[0]["faults"], 0);
  EXPECT_EQ(g[0]["state"], "ok");
  EXPECT_EQ(g[0]["barrier"], "unknown");
}

TEST_F(GateStatusTest, OverviewCarriesTheLanesLastDecisionMasked) {
  record_gates_started(db_, {{"in-1", "entry", "relay"}, {"in-2", "entry", "relay"}},
                       "2026-03-01T08:00:00+08:00");
  auto ins = db_.prepare(
      "INSERT INTO access_events(ts, unix_s, gate, lane, credential_kind, credential, "
      "credential_hash, verdict, reason, holder, room, outbox_seq) "
      "VALUES(?1, ?2, ?3, 'entry', 'plate', ?4, 'h', ?5, ?6, 'visitor', '', 1)");
  ins.bind(1, "2026-03-01T08:05:00+08:00").bind(2, 1).bind(3, "in-1").bind(4, "粤B***45")
      .bind(5, "deny").bind(6, "blocklisted").run();
  ins.bind(1, "2026-03-01T08:06:00+08:00").bind(2, 2).bind(3, "in-1").bind(4, "粤A***11")
      .bind(5, "open").bind(6, "").run();
  auto g = gates();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0]["last_decision"]["credential"], "粤A***11");
  EXPECT_EQ(g[0]["last_decision"]["verdict"], "open");
  EXPECT_EQ(g[0]["last_decision"]["ts"], "2026-03-01T08:06:00+08:00");
  EXPECT_TRUE(g[1]["last_decision"].is_null());
}

}  // namespace
}  // namespace estate::gate
