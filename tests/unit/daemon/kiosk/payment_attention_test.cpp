// The alarm payment_attention (docs/mqtt-api.md, "alarms"): raised once when a payment's terminal
// answer becomes unknown, in the journal's transaction, and cleared once when the payment is
// resolved; a payment that never was unknown raises nothing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "daemon/kiosk/journal.hpp"
#include "daemon/record/alarm_state.hpp"

namespace estate::kiosk {
namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) / "kiosk-test" / name;
  std::filesystem::remove_all(d);
  return d;
}

// "<device>/<state>/<severity>" of every payment_attention record, in seq order.
std::vector<std::string> attention(store::Store& s) {
  auto db = s.open_reader();
  auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'alarms' ORDER BY seq");
  std::vector<std::string> out;
  while (st.step()) {
    auto j = nlohmann::json::parse(st.text(0));
    if (j.at("alarm") != "payment_attention") continue;
    out.push_back(j.at("device").get<std::string>() + "/" + j.at("state").get<std::string>() +
                  "/" + j.at("severity").get<std::string>());
  }
  return out;
}

TEST(PaymentAttention, RaisedOnceWhileUnknownAndClearedOnceResolved) {
  store::Store s(fresh_dir("attention"));
  Journal j(s, "gw", 480);
  auto fine = j.create("1-2-301", "topup", "card", 100, "kiosk-1");
  ASSERT_TRUE(j.to_authorising(fine.id));
  ASSERT_TRUE(j.to_approved(fine.id, {"00", "A1", "R1", "6222****1234", "ok"}));
  EXPECT_EQ(attention(s), std::vector<std::string>{}) << "a payment answered at once";

  auto p = j.create("1-2-302", "topup", "card", 5000, "kiosk-1");
  ASSERT_TRUE(j.to_authorising(p.id));
  ASSERT_TRUE(j.to_unknown(p.id, "terminal timed out"));
  ASSERT_TRUE(j.to_unknown(p.id, "query timed out too"));  // still unknown: no second raise
  EXPECT_EQ(attention(s), std::vector<std::string>{p.id + "/raised/major"});
  {
    auto db = s.open_reader();
    EXPECT_TRUE(record::alarm_raised(db, "payment_attention", p.id));
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'alarms'");
    ASSERT_TRUE(st.step());
    auto detail = nlohmann::json::parse(st.text(0)).at("detail").get<std::string>();
    EXPECT_NE(detail.find("5000 fen"), std::string::npos) << detail;
    EXPECT_NE(detail.find("terminal timed out"), std::string::npos) << detail;
  }
  ASSERT_TRUE(j.to_declined(p.id, {"05", "", "", "", "not charged"}));
  EXPECT_EQ(attention(s), (std::vector<std::string>{p.id + "/raised/major",
                                                    p.id + "/cleared/info"}));
  auto db = s.open_reader();
  EXPECT_FALSE(record::alarm_raised(db, "payment_attention", p.id));
}

}  // namespace
}  // namespace estate::kiosk
