// The platform's arrears list (cmd/arrears) through the cloud bridge's list path into billing:
// item checks, levels live only after the commit, a level the policy does not define or an old
// version refused with nothing changed, and the pushed levels kept across a restart.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "daemon/billing/billing_component.hpp"
#include "daemon/config/site_config.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::billing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kSite = R"(site: { id: s, utc_offset: "+08:00" }
gateway: { id: gw }
buses:
  - { id: water-bus, kind: serial, protocol: cjt188, device: /dev/null }
devices:
  - { id: w101, kind: meter, bus: water-bus, address: "00000000000101", medium: water }
  - { id: w102, kind: meter, bus: water-bus, address: "00000000000102", medium: water }
tariffs:
  - { id: water, quantity: water, unit: m3, price: "3.50" }
accounts:
  - { room: "1-101", meters: [{ meter: w101, tariff: water }] }
  - { room: "1-102", meters: [{ meter: w102, tariff: water }] }
arrears:
  levels:
    - { level: 1, min_days: 1, min_fen: 1, actions: [warn] }
    - { level: 2, min_days: 30, min_fen: 10000, actions: [warn, charge_as_visitor, deny_gate] }
)";

class ArrearsDownlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("billing-arrears-dl");
    config::Diagnostics diag;
    auto site = config::load_site_config_text(kSite, "site.yaml", diag);
    ASSERT_TRUE(site) << diag.to_string();
    auto cfg = billing_config_from(*site, diag);
    ASSERT_TRUE(cfg) << diag.to_string();
    config_ = std::make_shared<const BillingConfig>(std::move(*cfg));
    open();
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    engine_.reset();
    store_.reset();
    store_ = std::make_unique<store::Store>(dir_);
    engine_ = std::make_unique<Engine>(*store_, config_, "gw", 480, nullptr);
    engine_->start();
    spec_ = arrears_list_spec(*engine_);
  }
  cloud_bridge::CommandAck send(json body, bool publish = true) {
    bridge::Command cmd{"arrears", body.at("id").get<std::string>(), body};
    cloud_bridge::CommandAck ack;
    if (auto e = bridge::check_list_message(spec_, cmd.body); !e.empty()) {
      ack.error = e;
      return ack;
    }
    bridge::ListSpec::Committed committed;
    store_->write_sync([&](store::Database& db) {
      ack = bridge::apply_list_message(db, spec_, cmd, "2026-03-01T08:00:00+08:00", &committed);
    });
    if (committed && publish) committed();
    return ack;
  }
  int level(const char* room) { return engine_->arrears_level(room).level; }
  std::int64_t q(const std::string& sql) {
    auto db = store_->open_reader();
    return db.query_int(sql, -1);
  }

  fs::path dir_;
  std::shared_ptr<const BillingConfig> config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
  bridge::ListSpec spec_;
};

TEST_F(ArrearsDownlinkTest, LevelsGoLiveAfterTheCommitAndSurviveARestart) {
  auto ack = send({{"v", 1}, {"id", "a1"}, {"version", 3},
                   {"items", {{{"key", "1-101"}, {"level", 2}}, {{"key", "1-102"}, {"level", 0}}}}},
                  /*publish=*/false);
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(q("SELECT level FROM billing_arrears_pushed WHERE room = '1-101'"), 2);
  EXPECT_EQ(level("1-101"), 0);  // durable, not yet live
  open();                        // a restart loads what was committed
  EXPECT_EQ(level("1-101"), 2);
  EXPECT_EQ(engine_->arrears_level("1-101").source, ArrearsLevel::Source::pushed);
  EXPECT_TRUE(engine_->arrears_level("1-101").has(deny_gate));

  ack = send({{"v", 1}, {"id", "a2"}, {"version", 4}, {"items", {{{"key", "1-102"}, {"level", 1}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(level("1-102"), 1);
  EXPECT_EQ(level("1-101"), 0);  // replaced whole: no longer pushed, nothing overdue
  EXPECT_EQ(q("SELECT count(*) FROM events WHERE kind LIKE '%arrears_list_applied%'"), 2);
}

TEST_F(ArrearsDownlinkTest, HostileListsAreRefusedAndChangeNothing) {
  ASSERT_TRUE(send({{"v", 1}, {"id", "a1"}, {"version", 5},
                    {"items", {{{"key", "1-101"}, {"level", 1}}}}})
                  .ok);
  auto ack = send({{"v", 1}, {"id", "a2"}, {"version", 6},
                   {"items", {{{"key", "1-101"}, {"level", "2"}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "items[0]: level: expected an integer from 0 to 99");
  ack = send({{"v", 1}, {"id", "a3"}, {"version", 6},
              {"items", {{{"key", "1-101"}, {"level", 1}, {"amount", 1.5}}}}});
  EXPECT_EQ(ack.error, "items[0]: unknown field 'amount'");
  ack = send({{"v", 1}, {"id", "a4"}, {"version", 6},
              {"items", {{{"key", "1-102"}, {"level", 0}}, {{"key", "1-101"}, {"level", 7}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "level 7 is not a level of the site's arrears policy (0 or 1, 2)");
  // Billing holds a newer version than the bridge (pushed by another path).
  ASSERT_TRUE(engine_->apply_arrears_list(R"({"version": 9, "rooms": [{"room": "1-101", "level": 1}]})").ok);
  ack = send({{"v", 1}, {"id", "a5"}, {"version", 7}, {"items", {{{"key", "1-101"}, {"level", 2}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_NE(ack.error.find("not newer than the applied version 9"), std::string::npos) << ack.error;
  EXPECT_EQ(level("1-101"), 1);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name = 'arrears'"), 5);
  EXPECT_EQ(q("SELECT value FROM billing_settings WHERE key = 'arrears_list_version'"), 9);
}

}  // namespace
}  // namespace estate::billing
