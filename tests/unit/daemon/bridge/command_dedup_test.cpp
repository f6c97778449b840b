// Platform commands through the bridge's command sink (BridgeComponent::on_command) on a real
// store, with a handler that counts its runs: each command id runs at most once, also across a
// restart and while it is still running; late commands and unsigned or badly signed ones (when
// a platform key is configured) are refused and run nothing; the id table is bounded.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "daemon/bridge/bridge_component.hpp"
#include "daemon/bridge/command_proof.hpp"
#include "daemon/parking/time.hpp"
#include "tests/unit/test_dir.hpp"

using namespace estate;
using nlohmann::json;

namespace {

constexpr const char* kSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::int64_t kNow = 1796342400;  // 2026-12-04T00:00:00Z

class BridgeCommands : public ::testing::Test {
 protected:
  void SetUp() override { dir = estate::testing::fresh_test_dir("bridge-commands"); }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir);
  }

  void open(const std::string& security_yaml = "") {
    std::filesystem::create_directories(dir);
    const auto file = dir / "site.yaml";
    {
      std::ofstream f(file);
      f << "site: { id: s1, utc_offset: \"+08:00\" }\n"
           "gateway: { id: gw1 }\n"
           "storage: { state_dir: " << (dir / "state").string() << " }\n"
           "mqtt: { url: \"mqtts://127.0.0.1:1\" }\n" << security_yaml;
    }
    config::Diagnostics diag;
    auto cfg = config::load_site_config(file, diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    auto shared = std::make_shared<const config::SiteConfig>(std::move(*cfg));
    store = std::make_unique<store::Store>(shared->storage.state_dir);
    services = std::make_unique<runtime::Services>(io, *store, shared);
    bridge = std::make_unique<bridge::BridgeComponent>(*services);
    bridge->set_clock([this] { return now.load(); });
    for (const char* name : {"count", "gate-open"}) {
      bridge->commands().add(name, [this](bridge::Command cmd, bridge::CommandReply reply) {
        const int n = ++runs;
        if (cmd.body.value("hold", false)) {
          std::lock_guard lock(held_mutex);
          held = std::move(reply);
          held_ready.set_value();
          return;
        }
        cloud_bridge::CommandAck ack;
        ack.id = cmd.id;
        ack.command = cmd.name;
        ack.ok = true;
        ack.result = {{"run", n}, {"body", cmd.body}};
        reply(std::move(ack));
      });
    }
    io.restart();
    work = std::make_unique<Work>(io.get_executor());
    pool = std::thread([this] { io.run(); });
  }

  void close() {
    bridge.reset();
    if (work) {
      work.reset();
      pool.join();
    }
    services.reset();
    if (store) store->stop();
    store.reset();
  }

  json message(const std::string& id, json body = json::object(), std::int64_t issued = kNow,
               std::int64_t valid_s = 3600) {
    body["v"] = 1;
    body["id"] = id;
    body["issued_at"] = parking::format_iso8601(issued, 480);
    body["expires"] = parking::format_iso8601(issued + valid_s, 480);
    return body;
  }
  json sign(const std::string& name, json m, const char* seed = kSeed) {
    std::string error;
    auto s = bridge::CommandSigner::from_text(seed, error);
    EXPECT_EQ(bridge::sign_message(*s, name, m), "");
    return m;
  }

  std::future<cloud_bridge::CommandAck> post(const std::string& name, const std::string& payload) {
    auto p = std::make_shared<std::promise<cloud_bridge::CommandAck>>();
    auto f = p->get_future();
    bridge->command_sink().on_command(name, payload,
                                      [p](cloud_bridge::CommandAck ack) { p->set_value(std::move(ack)); });
    return f;
  }
  cloud_bridge::CommandAck send(const std::string& name, const std::string& payload) {
    auto f = post(name, payload);
    EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    return f.get();
  }
  cloud_bridge::CommandAck send(const std::string& name, const json& m) { return send(name, m.dump()); }

  std::int64_t q(const std::string& sql) { return store->open_reader().query_int(sql, -1); }

  std::filesystem::path dir;
  boost::asio::io_context io;
  using Work = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::unique_ptr<Work> work;
  std::thread pool;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<runtime::Services> services;
  std::unique_ptr<bridge::BridgeComponent> bridge;
  std::atomic<std::int64_t> now{kNow};
  std::atomic<int> runs{0};
  std::mutex held_mutex;
  bridge::CommandReply held;
  std::promise<void> held_ready;
};

}  // namespace

TEST_F(BridgeCommands, AnIdRunsOnceAndItsDuplicateGetsTheStoredAnswer) {
  open();
  auto first = send("count", message("c-1", {{"n", 7}}));
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.result["run"], 1);
  EXPECT_EQ(json::parse(first.result["body"].dump()),  // envelope gone
            json::parse(R"({"v":1,"id":"c-1","n":7})"));
  auto again = send("count", message("c-1", {{"n", 7}}));
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(again.result["run"], 1);
  EXPECT_EQ(again.result["duplicate"], true);
  // The same id for another command is refused, and runs nothing.
  auto other = send("gate-open", message("c-1"));
  EXPECT_FALSE(other.ok);
  EXPECT_EQ(other.error, "id: already used by a count command");
  EXPECT_EQ(runs, 1);
}

TEST_F(BridgeCommands, TheAnswerSurvivesARestart) {
  open();
  ASSERT_TRUE(send("count", message("c-2")).ok);
  close();
  open();
  auto again = send("count", message("c-2"));
  ASSERT_TRUE(again.ok);
  EXPECT_EQ(again.result["duplicate"], true);
  EXPECT_EQ(runs, 1);
}

TEST_F(BridgeCommands, ACommandRunningWhenTheGatewayStoppedNeverRunsAgain) {
  open();
  store->write_sync([](store::Database& db) {
    bridge::Command c{"gate-open", "g-1", json::object()};
    bridge::mark_running(db, c, "t", kNow + 60);
  });
  auto ack = send("gate-open", message("g-1"));
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error.rfind("interrupted: ", 0), 0u) << ack.error;
  EXPECT_EQ(send("gate-open", message("g-1")).error, ack.error);  // remembered
  EXPECT_EQ(runs, 0);
}

TEST_F(BridgeCommands, AListInterruptedByARestartRunsAgainForItsAnswerCommitsWithIt) {
  open();
  store->write_sync([](store::Database& db) {
    bridge::Command c{"cards", "l-1", json::object()};
    bridge::mark_running(db, c, "t", kNow + 60);
  });
  auto ack = send("cards", message("l-1", {{"version", 3}, {"items", json::array()}}));
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["applied"], true);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name = 'cards'"), 3);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_commands WHERE id = 'l-1' AND state = 'done'"), 1);
}

TEST_F(BridgeCommands, ADuplicateOfARunningCommandGetsItsAnswerWhenItComes) {
  open();
  auto f1 = post("count", message("c-3", {{"hold", true}}).dump());
  ASSERT_EQ(held_ready.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto f2 = post("count", message("c-3", {{"hold", true}}).dump());
  EXPECT_EQ(f2.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  {
    std::lock_guard lock(held_mutex);
    cloud_bridge::CommandAck ack;
    ack.id = "c-3";
    ack.command = "count";
    ack.ok = true;
    ack.result = {{"held", true}};
    held(std::move(ack));
  }
  auto a1 = f1.get(), a2 = f2.get();
  EXPECT_TRUE(a1.ok);
  EXPECT_FALSE(a1.result.contains("duplicate"));
  EXPECT_TRUE(a2.ok);
  EXPECT_EQ(a2.result["held"], true);
  EXPECT_EQ(a2.result["duplicate"], true);
  EXPECT_EQ(runs, 1);
}

TEST_F(BridgeCommands, LateCommandsAreRefusedAndRunNothing) {
  open();
  now = kNow + 3600;
  auto ack = send("count", message("c-4"));
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "expired: expires was 0 s ago");
  ack = send("gate-open", message("g-2", json::object(), kNow + 3600 - 60));
  EXPECT_EQ(ack.error.rfind("expired: issued 60 s ago, gate-open may run at most 60 s", 0), 0u)
      << ack.error;
  ack = send("count", message("c-5", json::object(), kNow + 3600 + 61));
  EXPECT_EQ(ack.error.rfind("issued_at: 61 s ahead", 0), 0u) << ack.error;
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_commands"), 0);
  // Not remembered: the platform may send the same id again with fresh times.
  EXPECT_TRUE(send("count", message("c-4", json::object(), kNow + 3600)).ok);
  EXPECT_EQ(runs, 1);
}

TEST_F(BridgeCommands, MaxAgesAndSkewFromTheConfig) {
  open("security:\n  command_max_age_s: { default: 100, gate-open: 5 }\n"
       "  command_clock_skew_s: 0\n");
  now = kNow + 5;
  EXPECT_EQ(send("gate-open", message("g-3")).error.rfind("expired: issued 5 s ago", 0), 0u);
  EXPECT_TRUE(send("count", message("c-6")).ok);
  now = kNow + 100;
  EXPECT_EQ(send("count", message("c-7")).error.rfind("expired: issued 100 s ago", 0), 0u);
  EXPECT_EQ(send("count", message("c-8", json::object(), kNow + 101)).error.rfind("issued_at: 1 s", 0),
            0u);
}

TEST_F(BridgeCommands, WithAPlatformKeyOnlySignedCommandsRun) {
  open(std::string("security:\n  platform_public_keys: [") + kPublic + "]\n");
  auto unsigned_ack = send("count", message("c-9"));
  EXPECT_FALSE(unsigned_ack.ok);
  EXPECT_EQ(unsigned_ack.id, "c-9");
  EXPECT_EQ(unsigned_ack.error.rfind("signature: missing", 0), 0u);
  auto bad = sign("count", message("c-9"), "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  EXPECT_EQ(send("count", bad).error.rfind("signature: does not verify", 0), 0u);
  auto tampered = sign("count", message("c-9", {{"n", 1}}));
  tampered["n"] = 2;
  EXPECT_EQ(send("count", tampered).error.rfind("signature: does not verify", 0), 0u);
  EXPECT_EQ(runs, 0);
  // Refusals before de-duplication do not take the id: the platform's signed command runs.
  auto ack = send("count", sign("count", message("c-9", {{"n", 1}})));
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(runs, 1);
  // ping needs no signature.
  EXPECT_TRUE(send("ping", message("p-1")).ok);
}

TEST_F(BridgeCommands, DeepNestingGetsAnErrorAck) {
  open();
  auto ack = send("count", std::string(1 << 20, '['));
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "nesting: deeper than 64 levels at byte 64");
  EXPECT_FALSE(ack.id);
}

TEST_F(BridgeCommands, TheIdTableIsBounded) {
  open();
  store->write_sync([](store::Database& db) {
    for (int i = 0; i < bridge::remembered_answers + 50; ++i) {
      cloud_bridge::CommandAck a;
      a.id = "old-" + std::to_string(i);
      a.ok = true;
      // The first 20 could still be replayed in time: kept beyond the newest 10000.
      bridge::store_answer(db, "count", a, "t", i < 20 ? kNow + 10 : kNow - 10);
    }
    bridge::prune_answers(db, kNow);
  });
  EXPECT_EQ(q("SELECT count(*) FROM bridge_commands"), bridge::remembered_answers + 20);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_commands WHERE id = 'old-19'"), 1);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_commands WHERE id = 'old-20'"), 0);
}
