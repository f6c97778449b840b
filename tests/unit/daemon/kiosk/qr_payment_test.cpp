// QR payment codes through the payment journal (daemon/kiosk/payment_service.hpp): the intent,
// then authorising with the charge request on the outbox (stream payment-requests), the
// platform's answer (cmd/qr-result) approving, declining or leaving it unknown, the answer
// timeout and the query records, duplicate and late answers, and a restart with a payment in
// doubt. The store is real (SQLite in the build dir); the broker's acknowledgement is played by
// deleting the record from the outbox, as the bridge does.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "daemon/kiosk/payment_service.hpp"
#include "daemon/kiosk/qr_result_command.hpp"
#include "daemon/kiosk/receipt.hpp"
#include "drivers/printer/gb18030.hpp"

namespace estate::kiosk {
namespace {

constexpr const char* kWeChatCode = "134567890123456789";
constexpr const char* kAlipayCode = "28763443825664394";

class Rooms : public Accounts {
 public:
  std::optional<AccountView> lookup(const std::string& room) override {
    if (room != "1-2-301") return std::nullopt;
    AccountView v;
    v.room = room;
    v.balance_fen = balance;
    return v;
  }
  Settlement apply_payment(const std::string&, Fen amount, const std::string& id) override {
    if (applied.count(id)) return Settlement{{}, 0, 0, balance, true};
    balance += amount;
    applied.insert(id);
    Settlement s;
    s.topped_up_fen = amount;
    s.balance_after_fen = balance;
    return s;
  }
  Fen balance = 0;
  std::set<std::string> applied;
};

class QrPaymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) / "kiosk-qr" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    open();
  }
  // A fresh service over the same store: the daemon restarted.
  void open() {
    service_.reset();
    journal_.reset();
    store_.reset();
    store_ = std::make_unique<store::Store>(dir_);
    journal_ = std::make_unique<Journal>(*store_, "gw", 480);
    PaymentServiceOptions o;
    o.qr_enabled = qr_enabled_;
    o.qr_answer_timeout = timeout_;
    o.qr_query_interval = interval_;
    service_ = std::make_unique<PaymentService>(*journal_, rooms_, nullptr, nullptr, o, nullptr);
  }
  std::string begin(const char* code = kWeChatCode, Fen fen = 5000) {
    auto b = service_->begin_qr("1-2-301", "topup", code, fen, "kiosk-1");
    EXPECT_TRUE(b.payment) << b.message;
    EXPECT_EQ(b.status, 202);
    return b.payment ? b.payment->id : "";
  }
  // The payment-requests records of `id` still in the outbox: "<kind>" each, in seq order.
  std::vector<std::string> requests(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'payment-requests' AND "
                         "json_extract(payload, '$.payment_id') = ?1 ORDER BY seq");
    st.bind(1, id);
    std::vector<std::string> out;
    while (st.step()) out.push_back(nlohmann::json::parse(st.text(0)).at("kind"));
    return out;
  }
  nlohmann::json first_request(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'payment-requests' AND "
                         "json_extract(payload, '$.payment_id') = ?1 ORDER BY seq LIMIT 1");
    st.bind(1, id);
    EXPECT_TRUE(st.step());
    return nlohmann::json::parse(st.text(0));
  }
  // The broker acknowledged everything: the outbox is drained.
  void broker_acknowledges() {
    store_->write_sync([](store::Database& db) { db.exec("DELETE FROM outbox"); });
  }
  // Rows anywhere in the journal, the audit log, the events or the outbox that hold `text`.
  std::int64_t mentions(const std::string& text) {
    auto db = store_->open_reader();
    std::int64_t n = 0;
    for (const char* sql :
         {"SELECT COUNT(*) FROM payments WHERE instr(id || room || kind || method || "
          "COALESCE(result_code, '') || COALESCE(auth_code, '') || COALESCE(rrn, '') || "
          "COALESCE(card, '') || COALESCE(message, '') || COALESCE(idem_key, ''), ?1) > 0",
          "SELECT COUNT(*) FROM payment_transitions WHERE instr(detail, ?1) > 0",
          "SELECT COUNT(*) FROM audit_log WHERE instr(detail || subject, ?1) > 0",
          "SELECT COUNT(*) FROM events WHERE instr(detail, ?1) > 0",
          "SELECT COUNT(*) FROM outbox WHERE instr(payload, ?1) > 0"}) {
      auto st = db.prepare(sql);
      st.bind(1, text);
      st.step();
      n += st.int64(0);
    }
    return n;
  }
  std::vector<std::string> transitions(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT state FROM payment_transitions WHERE payment_id = ?1 ORDER BY id");
    st.bind(1, id);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
  }
  std::int64_t payment_records(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT COUNT(*) FROM outbox WHERE stream = 'transactions' AND "
                         "json_extract(payload, '$.payment_id') = ?1");
    st.bind(1, id);
    st.step();
    return st.int64(0);
  }
  std::vector<std::string> attention() {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'alarms' ORDER BY seq");
    std::vector<std::string> out;
    while (st.step()) {
      auto j = nlohmann::json::parse(st.text(0));
      if (j.at("alarm") == "payment_attention") out.push_back(j.at("state"));
    }
    return out;
  }
  static QrResult approved(const std::string& id, Fen fen = 5000) {
    QrResult r;
    r.payment_id = id;
    r.outcome = QrResult::Outcome::approved;
    r.amount_fen = fen;
    r.result_code = "SUCCESS";
    r.transaction_id = "4200001234202612040000000001";
    return r;
  }
  static QrResult declined(const std::string& id, const std::string& code = "NOTENOUGH") {
    QrResult r;
    r.payment_id = id;
    r.outcome = QrResult::Outcome::declined;
    r.result_code = code;
    r.message = "余额不足";
    return r;
  }

  bool qr_enabled_ = true;
  std::chrono::milliseconds timeout_{600000};
  std::chrono::milliseconds interval_{0};
  std::filesystem::path dir_;
  Rooms rooms_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<PaymentService> service_;
};

TEST_F(QrPaymentTest, ApprovedAnswerCreditsTheRoomAndTheCodeLeavesWithTheRequestOnly) {
  auto id = begin();
  auto p = *journal_->get(id);
  EXPECT_EQ(p.state, State::authorising);
  EXPECT_EQ(p.method, "wechat");
  // The charge request, with the code, on its own stream; nothing else holds the code.
  auto req = first_request(id);
  EXPECT_EQ(req.at("kind"), "payment.qr_charge");
  EXPECT_EQ(req.at("auth_code"), kWeChatCode);
  EXPECT_EQ(req.at("amount_fen"), 5000);
  EXPECT_EQ(req.at("method"), "wechat");
  EXPECT_EQ(req.at("room"), "1-2-301");
  EXPECT_EQ(req.at("payment_kind"), "topup");
  EXPECT_EQ(mentions(kWeChatCode), 1);
  EXPECT_EQ(mentions("45678901234"), 1);  // not even part of it

  service_->run_pending();  // the answer is not late: nothing asked, still authorising
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_charge"});
  broker_acknowledges();
  EXPECT_EQ(mentions(kWeChatCode), 0);

  auto a = service_->qr_result(approved(id));
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_TRUE(a.changed);
  EXPECT_EQ(a.payment->state, State::approved);
  service_->run_pending();  // the same completion as a card sale: credited, receipt attempted
  p = *journal_->get(id);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(p.topped_up_fen, 5000);
  EXPECT_EQ(rooms_.balance, 5000);
  EXPECT_EQ(p.rrn, "4200001234202612040000000001");
  EXPECT_EQ(p.result_code, "SUCCESS");
  EXPECT_TRUE(p.auth_code.empty());
  EXPECT_EQ(payment_records(id), 1);
  EXPECT_EQ(transitions(id), (std::vector<std::string>{"intent", "authorising", "approved"}));
  // The receipt names the wallet and the acquirer's number, never the code.
  auto bytes = render_receipt(p, {}, false);
  const std::string text(bytes.begin(), bytes.end());
  const auto wallet = *drivers::printer::to_gb18030("微信支付");
  EXPECT_NE(text.find(std::string(wallet.begin(), wallet.end())), std::string::npos);
  EXPECT_NE(text.find("4200001234202612040000000001"), std::string::npos);
  EXPECT_EQ(text.find("45678901234"), std::string::npos);
  EXPECT_EQ(mentions(kWeChatCode), 0);
}

TEST_F(QrPaymentTest, DeclinedAnswerChargesNothingAndKeepsTheAcquirersCode) {
  auto id = begin(kAlipayCode, 1200);
  EXPECT_EQ(journal_->get(id)->method, "alipay");
  auto a = service_->qr_result(declined(id, "ACQ.PAYMENT_AUTH_CODE_INVALID"));
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_TRUE(a.changed);
  service_->run_pending();
  auto p = *journal_->get(id);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_EQ(p.result_code, "ACQ.PAYMENT_AUTH_CODE_INVALID");
  EXPECT_FALSE(p.applied);
  EXPECT_EQ(rooms_.balance, 0);
  EXPECT_EQ(payment_records(id), 1);
}

TEST_F(QrPaymentTest, NoAnswerInTimeIsUnknownThenAskedUntilTheQueryIsAnswered) {
  timeout_ = std::chrono::milliseconds(0);
  open();
  auto id = begin();
  service_->run_pending();
  EXPECT_EQ(journal_->get(id)->state, State::unknown);
  // The request itself is still waiting for the broker: no question piles up behind it.
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_charge"});
  EXPECT_EQ(attention(), std::vector<std::string>{"raised"});
  broker_acknowledges();
  service_->run_pending();
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_query"});
  auto q = first_request(id);
  EXPECT_FALSE(q.contains("auth_code"));
  EXPECT_EQ(q.at("amount_fen"), 5000);
  service_->run_pending();  // at most one question waits in the outbox
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_query"});
  broker_acknowledges();
  // The platform has no result yet (the payer is confirming): still unknown, asked again.
  QrResult pending;
  pending.payment_id = id;
  pending.outcome = QrResult::Outcome::unknown;
  pending.message = "USERPAYING";
  auto a = service_->qr_result(pending);
  ASSERT_TRUE(a.ok);
  EXPECT_FALSE(a.changed);
  service_->run_pending();
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_query"});
  // The query's answer settles it.
  a = service_->qr_result(approved(id));
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_TRUE(a.changed);
  service_->run_pending();
  auto p = *journal_->get(id);
  EXPECT_EQ(p.state, State::approved);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(rooms_.balance, 5000);
  EXPECT_EQ(transitions(id),
            (std::vector<std::string>{"intent", "authorising", "unknown", "approved"}));
  // The raise left with the first acknowledgement; the approval clears it.
  EXPECT_EQ(attention(), std::vector<std::string>{"cleared"});
  broker_acknowledges();
  service_->run_pending();  // a finished payment is never asked about again
  EXPECT_TRUE(requests(id).empty());
}

TEST_F(QrPaymentTest, UnknownAnswerWhileAuthorisingMakesItUnknown) {
  auto id = begin();
  QrResult r;
  r.payment_id = id;
  r.outcome = QrResult::Outcome::unknown;
  auto a = service_->qr_result(r);
  ASSERT_TRUE(a.ok);
  EXPECT_TRUE(a.changed);
  EXPECT_EQ(a.payment->state, State::unknown);
}

TEST_F(QrPaymentTest, DuplicateLateAndStrayAnswersChangeNothing) {
  auto id = begin();
  ASSERT_TRUE(service_->qr_result(approved(id)).changed);
  service_->run_pending();
  EXPECT_EQ(rooms_.balance, 5000);
  // The same answer again, under another command id: nothing more credited.
  auto a = service_->qr_result(approved(id));
  EXPECT_TRUE(a.ok);
  EXPECT_FALSE(a.changed);
  // A late decline of a finished payment: ignored (logged).
  a = service_->qr_result(declined(id));
  EXPECT_TRUE(a.ok);
  EXPECT_FALSE(a.changed);
  EXPECT_EQ(a.payment->state, State::approved);
  service_->run_pending();
  EXPECT_EQ(rooms_.balance, 5000);
  EXPECT_EQ(payment_records(id), 1);
  // An id the gateway never issued, and a card payment: refused, nothing changed.
  a = service_->qr_result(approved("gw-pay-999"));
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.error, "payment_id: no QR payment 'gw-pay-999' on this gateway");
  auto card = journal_->create("1-2-301", "topup", "card", 5000, "kiosk-1");
  journal_->to_authorising(card.id);
  a = service_->qr_result(approved(card.id));
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(journal_->get(card.id)->state, State::authorising);
  // A declined payment stays declined whatever comes later.
  auto second = begin(kAlipayCode, 700);
  ASSERT_TRUE(service_->qr_result(declined(second)).changed);
  a = service_->qr_result(approved(second, 700));
  EXPECT_TRUE(a.ok);
  EXPECT_FALSE(a.changed);
  service_->run_pending();
  EXPECT_EQ(journal_->get(second)->state, State::declined);
  EXPECT_EQ(rooms_.balance, 5000);
}

TEST_F(QrPaymentTest, ApprovalForAnotherAmountIsNotTakenAndLeftForAPerson) {
  auto id = begin();
  auto a = service_->qr_result(approved(id, 4999));
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.error, "amount_fen: payment " + id + " is for 5000 fen, the approval says 4999 fen");
  EXPECT_EQ(journal_->get(id)->state, State::unknown);
  service_->run_pending();
  EXPECT_EQ(rooms_.balance, 0);
  EXPECT_EQ(attention(), std::vector<std::string>{"raised"});
}

TEST_F(QrPaymentTest, RestartWithAPaymentInDoubtKeepsItAndAsksAtOnce) {
  auto id = begin();
  broker_acknowledges();  // the request reached the platform; then the gateway restarted
  open();
  service_->run_pending();  // recovery: no terminal query, no abandoning; the platform is asked
  EXPECT_EQ(journal_->get(id)->state, State::authorising);
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_query"});
  auto a = service_->qr_result(approved(id));
  ASSERT_TRUE(a.ok) << a.error;
  service_->run_pending();
  EXPECT_TRUE(journal_->get(id)->applied);
  EXPECT_EQ(rooms_.balance, 5000);
  // Restarted again after the approval: credited once.
  open();
  service_->run_pending();
  EXPECT_EQ(rooms_.balance, 5000);
  EXPECT_EQ(rooms_.applied.size(), 1u);
}

TEST_F(QrPaymentTest, RestartInUnknownAsksAgainAndIntentIsAbandoned) {
  timeout_ = std::chrono::milliseconds(0);
  open();
  auto id = begin();
  service_->run_pending();
  ASSERT_EQ(journal_->get(id)->state, State::unknown);
  broker_acknowledges();
  // A payment journaled as intent whose request never left (the process died in between).
  auto never_sent = journal_->create("1-2-301", "topup", "wechat", 300, "kiosk-1");
  open();
  service_->run_pending();
  EXPECT_EQ(journal_->get(id)->state, State::unknown);
  EXPECT_EQ(requests(id), std::vector<std::string>{"payment.qr_query"});
  EXPECT_EQ(journal_->get(never_sent.id)->state, State::declined);
  EXPECT_TRUE(requests(never_sent.id).empty());
}

TEST_F(QrPaymentTest, BadCodeOrNoPlatformStoresNothing) {
  for (const char* code : {"", "13456789012345678", "995112298638468293", "13456789012345678x"}) {
    auto b = service_->begin_qr("1-2-301", "topup", code, 5000, "kiosk-1");
    EXPECT_FALSE(b.payment);
    EXPECT_EQ(b.status, 400);
    EXPECT_EQ(b.message.rfind("auth_code: ", 0), 0u) << b.message;
  }
  auto b = service_->begin_qr("9-9-999", "topup", kWeChatCode, 5000, "kiosk-1");
  EXPECT_EQ(b.status, 404);
  b = service_->begin_qr("1-2-301", "parking", kWeChatCode, 5000, "kiosk-1");
  EXPECT_EQ(b.status, 400);
  b = service_->begin_qr("1-2-301", "topup", kWeChatCode, 0, "kiosk-1");
  EXPECT_EQ(b.status, 400);
  qr_enabled_ = false;
  open();
  b = service_->begin_qr("1-2-301", "topup", kWeChatCode, 5000, "kiosk-1");
  EXPECT_EQ(b.status, 503);
  auto db = store_->open_reader();
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM payments"), 0);
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM outbox WHERE stream = 'payment-requests'"), 0);
}

TEST_F(QrPaymentTest, IdempotencyKeyMakesOneRequest) {
  auto one = service_->begin_qr("1-2-301", "topup", kWeChatCode, 5000, "kiosk-1", "key-1");
  auto two = service_->begin_qr("1-2-301", "topup", kWeChatCode, 5000, "kiosk-1", "key-1");
  ASSERT_TRUE(one.payment && two.payment);
  EXPECT_TRUE(two.repeated);
  EXPECT_EQ(one.payment->id, two.payment->id);
  EXPECT_EQ(requests(one.payment->id), std::vector<std::string>{"payment.qr_charge"});
}

TEST(QrResultCommand, ParsesTheDocumentedBody) {
  QrResult r;
  EXPECT_EQ(parse_qr_result_command(
                {{"v", 1}, {"id", "c-1"}, {"payment_id", "gw-pay-3"}, {"result", "approved"},
                 {"amount_fen", 5000}, {"result_code", "SUCCESS"},
                 {"transaction_id", "4200001234"}, {"message", "ok"}},
                r),
            "");
  EXPECT_EQ(r.payment_id, "gw-pay-3");
  EXPECT_EQ(r.outcome, QrResult::Outcome::approved);
  EXPECT_EQ(r.amount_fen, 5000);
  EXPECT_EQ(r.transaction_id, "4200001234");
  QrResult d;
  EXPECT_EQ(parse_qr_result_command({{"payment_id", "p"}, {"result", "declined"},
                                     {"result_code", "NOTENOUGH"}}, d), "");
  EXPECT_EQ(d.outcome, QrResult::Outcome::declined);
  QrResult x;
  EXPECT_EQ(parse_qr_result_command({{"payment_id", "p"}, {"result", "approved"}}, x),
            "amount_fen: required with result approved (the amount the acquirer took)");
  EXPECT_EQ(parse_qr_result_command({{"payment_id", "p"}, {"result", "declined"}}, x),
            "result_code: required with result declined (the acquirer's code)");
  EXPECT_EQ(parse_qr_result_command({{"payment_id", "p"}, {"result", "maybe"}}, x),
            "result: expected \"approved\", \"declined\" or \"unknown\"");
  EXPECT_EQ(parse_qr_result_command({{"payment_id", "p"}, {"result", "unknown"}, {"auth_code", "1"}}, x),
            "unknown field 'auth_code'");
  EXPECT_EQ(parse_qr_result_command({{"result", "unknown"}}, x),
            "payment_id: required, a string of 1 to 128 bytes");
  EXPECT_EQ(parse_qr_result_command({{"payment_id", "p"}, {"result", "approved"}, {"amount_fen", 1.5}}, x),
            "amount_fen: expected an integer from 1 to 100000000");
}

}  // namespace
}  // namespace estate::kiosk
