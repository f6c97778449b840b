#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "daemon/kiosk/journal.hpp"
#include "daemon/kiosk/receipt.hpp"
#include "drivers/printer/gb18030.hpp"

namespace estate::kiosk {
namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) / "kiosk-test" / name;
  std::filesystem::remove_all(d);
  return d;
}

std::int64_t outbox_count(store::Store& s, const std::string& payment_id) {
  auto db = s.open_reader();
  auto st = db.prepare("SELECT COUNT(*) FROM outbox WHERE stream = 'transactions' AND "
                       "json_extract(payload, '$.payment_id') = ?1");
  st.bind(1, payment_id);
  st.step();
  return st.int64(0);
}

TEST(SettleOldestFirst, PaysOldestBillsThenTopsUp) {
  std::vector<Bill> bills{{"b1", "2026-09", "water", 3000}, {"b2", "2026-10", "water", 5000}};
  auto s = settle_oldest_first(bills, 6000);
  ASSERT_EQ(s.paid.size(), 2u);
  EXPECT_EQ(s.paid[0], (std::pair<std::string, Fen>{"b1", 3000}));
  EXPECT_EQ(s.paid[1], (std::pair<std::string, Fen>{"b2", 3000}));
  EXPECT_EQ(s.settled_fen, 6000);
  EXPECT_EQ(s.topped_up_fen, 0);
  s = settle_oldest_first(bills, 10001);
  EXPECT_EQ(s.settled_fen, 8000);
  EXPECT_EQ(s.topped_up_fen, 2001);
  s = settle_oldest_first({}, 500);
  EXPECT_TRUE(s.paid.empty());
  EXPECT_EQ(s.topped_up_fen, 500);
}

TEST(Journal, StatesMoveInOrderAndApprovalWritesOneOutboxRecord) {
  store::Store s(fresh_dir("order"));
  Journal j(s, "gw", 480);
  auto p = j.create("1-2-301", "pay", "card", 12345, "kiosk-1");
  EXPECT_EQ(p.id, "gw-pay-1");
  EXPECT_EQ(p.state, State::intent);
  EXPECT_FALSE(j.to_approved(p.id, {"00", "A1", "R1", "6222****1234", ""}));  // not from intent
  EXPECT_TRUE(j.to_authorising(p.id));
  EXPECT_FALSE(j.to_authorising(p.id));
  EXPECT_TRUE(j.to_approved(p.id, {"00", "A1", "R1", "6222****1234", "ok"}));
  EXPECT_FALSE(j.to_approved(p.id, {"00", "A1", "R1", "", ""}));  // once only
  EXPECT_FALSE(j.to_declined(p.id, {"05", "", "", "", ""}));
  EXPECT_EQ(outbox_count(s, p.id), 1);
  auto got = j.get(p.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, State::approved);
  EXPECT_EQ(got->auth_code, "A1");
  ASSERT_TRUE(got->outbox_seq);
  // Credited, printed; then the broker acknowledges the record (the bridge deletes it).
  j.record_settlement(p.id, {{{"b1", 10000}}, 10000, 2345, 2345, false});
  EXPECT_TRUE(j.to_receipt_printed(p.id));
  EXPECT_EQ(j.mark_uploaded(), 0);
  s.write_sync([&](store::Database& db) {
    db.prepare("DELETE FROM outbox WHERE seq = ?1").bind(1, *got->outbox_seq).run();
  });
  EXPECT_EQ(j.mark_uploaded(), 1);
  got = j.get(p.id);
  EXPECT_EQ(got->state, State::uploaded);
  EXPECT_TRUE(got->applied);
  ASSERT_EQ(got->allocations.size(), 1u);
  EXPECT_EQ(got->allocations[0].second, 10000);
  auto js = got->to_json();
  EXPECT_EQ(js["state"], "uploaded");
  EXPECT_EQ(js["amount_fen"], 12345);
}

TEST(Journal, UnknownResolvesToDeclinedAndSurvivesReopen) {
  auto dir = fresh_dir("reopen");
  std::string id;
  {
    store::Store s(dir);
    Journal j(s, "gw", 480);
    id = j.create("1-2-302", "topup", "card", 500, "kiosk-1").id;
    ASSERT_TRUE(j.to_authorising(id));
    ASSERT_TRUE(j.to_unknown(id, "no answer"));
  }
  store::Store s(dir);
  Journal j(s, "gw", 480);
  auto unknown = j.in_state(State::unknown);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].id, id);
  EXPECT_TRUE(j.to_declined(id, {"NF", "", "", "", "not found"}));
  EXPECT_EQ(outbox_count(s, id), 1);
  EXPECT_EQ(j.get(id)->state, State::declined);
  EXPECT_THROW(j.create("1-2-302", "pay", "card", 0, "k"), std::invalid_argument);
}

TEST(Receipt, RendersChineseInGb18030WithQrAndCut) {
  Payment p;
  p.id = "gw-pay-7";
  p.room = "1-2-301";
  p.kind = "pay";
  p.method = "card";
  p.amount_fen = 12345;
  p.applied = true;
  p.settled_fen = 10000;
  p.topped_up_fen = 2345;
  p.balance_after_fen = 2345;
  p.created_at = "2026-11-23T18:16:01.123+08:00";
  ReceiptHeader h{"阳光花园", protocols::escpos::PaperWidth::mm58};
  auto bytes = render_receipt(p, h, false);
  auto title = *drivers::printer::to_gb18030("缴费凭条");
  EXPECT_EQ(title.size(), 8u);  // 4 characters, 2 bytes each in GB18030
  EXPECT_NE(std::search(bytes.begin(), bytes.end(), title.begin(), title.end()), bytes.end());
  std::string hay(bytes.begin(), bytes.end());
  EXPECT_NE(hay.find("gw-pay-7"), std::string::npos);
  EXPECT_NE(hay.find("\x1d(k"), std::string::npos);
  EXPECT_EQ(hay.substr(hay.size() - 4), std::string("\x1dV\x42\x03", 4));
  for (const auto& l : receipt_lines(p, h, true)) {
    EXPECT_LE(protocols::escpos::display_columns(l), 32) << l;
  }
  EXPECT_EQ(yuan_text(12345), "123.45");
  EXPECT_EQ(yuan_text(5), "0.05");
  EXPECT_EQ(yuan_text(-150), "-1.50");
  EXPECT_FALSE(drivers::printer::to_gb18030("\xff\xfe"));
}

}  // namespace
}  // namespace estate::kiosk

namespace estate::kiosk {
namespace {

// A restore brings back a store from before some payments were made; their ids were the
// terminal's references and reached the platform, so they are never issued again.
TEST(Journal, PaymentIdsAreNotReusedAfterAnOlderStoreIsRestored) {
  const auto dir = fresh_dir("restore-ids");
  const auto saved = dir.parent_path() / "restore-ids.db";
  {
    store::Store s(dir);
    Journal j(s, "gw", 480);
    EXPECT_EQ(j.create("1-2-301", "pay", "card", 100, "kiosk-1").id, "gw-pay-1");
  }
  std::filesystem::copy_file(store::store_file(dir), saved,
                             std::filesystem::copy_options::overwrite_existing);
  std::vector<std::string> issued{"gw-pay-1"};
  {
    store::Store s(dir);
    Journal j(s, "gw", 480);
    for (int i = 0; i < 20; ++i) issued.push_back(j.create("1-2-301", "pay", "card", 100, "kiosk-1").id);
  }
  // The backup of the first store comes back (as `estate-edge restore` puts it in place).
  for (const char* ext : {"-wal", "-shm"}) {
    std::filesystem::remove(std::filesystem::path(store::store_file(dir).string() + ext));
  }
  std::filesystem::copy_file(saved, store::store_file(dir),
                             std::filesystem::copy_options::overwrite_existing);
  store::Store s(dir);
  Journal j(s, "gw", 480);
  auto next = j.create("1-2-301", "pay", "card", 100, "kiosk-1");
  EXPECT_EQ(std::find(issued.begin(), issued.end(), next.id), issued.end()) << next.id;
  EXPECT_TRUE(std::filesystem::exists(dir / "payment-seq.highwater"));
}

}  // namespace
}  // namespace estate::kiosk
