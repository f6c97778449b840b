// The payment service against a terminal and a printer faked at the byte link: the fake POS
// speaks the Transbank POS Integrado row of protocols/pos (decodes each frame with the codec,
// ACKs or NAKs it, answers as scripted, keeps its last sale as the query reports it); the fake
// printer answers DLE EOT and keeps the job bytes.
#include <gtest/gtest.h>

#include <boost/asio/error.hpp>

#include <filesystem>
#include <map>
#include <set>

#include "daemon/kiosk/payment_service.hpp"

namespace estate::kiosk {
namespace {

namespace ecr = protocols::pos;
using boost::system::error_code;

const ecr::Protocol& tbk() { return *ecr::find_protocol("transbank-integrado"); }

struct PosScript {
  // odd_code: charges, but answers the sale with a result code the document does not list;
  // empty_code: the same with an empty code; no_amount: approves sale and query without amount.
  enum Mode { approve, decline, silent, approve_other_amount, odd_code, empty_code, no_amount } mode = approve;
  std::map<std::string, std::int64_t> charged;  // ticket -> fen, what the bank holds
  std::map<std::string, std::string> ticket_of;  // operation number -> ticket
  std::string last;                              // the terminal's last sale (ticket)
  std::string last_auth = "123456";
  int sales = 0, queries = 0, voids = 0, next_op = 1;
  std::string last4 = "1234";  // the card's last digits, as this terminal sends them
  std::string account;         // a debit sale's account number (the full card number, some send)
  int throw_writes = 0;        // the link throws on this many writes
  int nak_requests = 0;        // NAK this many request frames (the gateway sends again)
  int damage_answers = 0;      // send this many answers with a bad LRC (the gateway NAKs)
  int naks_seen = 0;           // NAKs the gateway sent
};

class FakePosLink : public drivers::BlockingLink {
 public:
  explicit FakePosLink(PosScript& s) : s_(s) {}
  error_code write(std::span<const std::uint8_t> data, drivers::milliseconds) override {
    const auto& p = tbk();
    if (s_.throw_writes > 0) {
      --s_.throw_writes;
      throw std::runtime_error("link driver failed");
    }
    if (data.size() == 1) {  // our ACK/NAK of its answer
      if (data[0] == p.nak) {
        ++s_.naks_seen;
        answer(last_answer_);  // the document: the terminal sends its answer again
      }
      return {};
    }
    auto m = ecr::decode(p, data);
    if (!m || s_.nak_requests > 0) {
      if (m) --s_.nak_requests;
      rx_.push_back(p.nak);
      return {};
    }
    rx_.push_back(p.ack);
    if (m->command == "0200") {
      ++s_.sales;
      auto ticket = *m->get("ticket");
      auto amount = std::stoll(*m->get("amount"));
      if (s_.mode == PosScript::decline) {
        return answer("0210|01|597029414300|75001089|" + ticket + "||||||||||||||");
      }
      if (s_.mode == PosScript::approve_other_amount) amount += 1;
      s_.charged[ticket] = amount;
      s_.last = ticket;
      auto op = std::to_string(100000 + s_.next_op++).substr(1);
      s_.ticket_of[op] = ticket;
      if (s_.mode == PosScript::silent) return {};  // charged, but the answer is lost
      if (s_.mode == PosScript::odd_code) return answer("0210|23|597029414300|75001089|" + ticket + "|");
      if (s_.mode == PosScript::empty_code) return answer("0210||597029414300|75001089|" + ticket + "|");
      return answer(sale_answer("0210", ticket));
    }
    if (m->command == "0250") {
      ++s_.queries;
      if (s_.last.empty()) return answer("0260|11|");
      return answer(sale_answer("0260", s_.last));
    }
    if (m->command == "1200") {
      ++s_.voids;
      auto op = *m->get("operation");
      auto it = s_.ticket_of.find(op);
      if (it == s_.ticket_of.end()) return answer("1210|05|597029414300|75001089||" + op);
      s_.charged.erase(it->second);
      return answer("1210|00|597029414300|75001089|" + s_.last_auth + "|" + op);
    }
    return {};
  }
  error_code read_some(std::vector<std::uint8_t>& out, drivers::milliseconds) override {
    if (rx_.empty()) return boost::asio::error::timed_out;
    out.insert(out.end(), rx_.begin(), rx_.end());
    rx_.clear();
    return {};
  }
  void close() override {}

 private:
  std::string sale_answer(const std::string& command, const std::string& ticket) {
    std::string op;
    for (const auto& [o, t] : s_.ticket_of) {
      if (t == ticket) op = o;
    }
    auto it = s_.charged.find(ticket);
    std::string amount = it == s_.charged.end() || s_.mode == PosScript::no_amount
                             ? ""
                             : std::to_string(it->second);
    return command + "|00|597029414300|75001089|" + ticket + "|" + s_.last_auth + "|" + amount +
           "|0||" + s_.last4 + "|" + op + "|" + (s_.account.empty() ? "CR" : "DB") + "||" +
           s_.account + "|VI|05122026|101500|0|0|";
  }
  // Frames DATA by hand (the codec's encoder would refuse the scripted bad answers).
  error_code answer(const std::string& data) {
    if (data.empty()) return {};
    last_answer_ = data;
    std::vector<std::uint8_t> f{tbk().stx};
    f.insert(f.end(), data.begin(), data.end());
    f.push_back(tbk().etx);
    f.push_back(ecr::lrc(tbk(), std::span(f).subspan(1)));
    if (s_.damage_answers > 0) {
      --s_.damage_answers;
      f.back() ^= 0x01;
    }
    rx_.insert(rx_.end(), f.begin(), f.end());
    return {};
  }

  PosScript& s_;
  std::vector<std::uint8_t> rx_;
  std::string last_answer_;
};

struct PrinterState {
  std::uint8_t paper = 0x12;  // DLE EOT 4 answer; 0x72 = paper end
  std::vector<std::uint8_t> printed;
};

class FakePrinterLink : public drivers::BlockingLink {
 public:
  explicit FakePrinterLink(PrinterState& s) : s_(s) {}
  error_code write(std::span<const std::uint8_t> d, drivers::milliseconds) override {
    if (d.size() == 3 && d[0] == 0x10 && d[1] == 0x04) {
      rx_.push_back(d[2] == 4 ? s_.paper : (d[2] == 2 && s_.paper == 0x72 ? 0x32 : 0x12));
    } else {
      s_.printed.insert(s_.printed.end(), d.begin(), d.end());
    }
    return {};
  }
  error_code read_some(std::vector<std::uint8_t>& out, drivers::milliseconds) override {
    if (rx_.empty()) return boost::asio::error::timed_out;
    out.insert(out.end(), rx_.begin(), rx_.end());
    rx_.clear();
    return {};
  }
  void close() override {}

 private:
  PrinterState& s_;
  std::vector<std::uint8_t> rx_;
};

class FakeAccounts : public Accounts {
 public:
  std::optional<AccountView> lookup(const std::string& room) override {
    if (room != "1-2-301") return std::nullopt;
    AccountView v;
    v.room = room;
    v.balance_fen = balance;
    if (balance < 0) v.bills = {{"b1", "", "water", -balance}};
    v.due_fen = balance < 0 ? -balance : 0;
    return v;
  }
  Settlement apply_payment(const std::string& room, Fen amount, const std::string& id) override {
    if (fail_ids.count(id)) throw std::runtime_error("room " + room + " was removed");
    if (applied.count(id)) return Settlement{{}, 0, 0, balance, true};
    auto s = settle_oldest_first(lookup(room)->bills, amount);
    balance += amount;
    applied.insert(id);
    s.balance_after_fen = balance;
    return s;
  }
  Fen balance = -3000;
  std::set<std::string> applied;
  std::set<std::string> fail_ids;  // crediting these throws
};

// A car park with one session: what it owes, and the payments it took (by reference).
class FakeParking : public ParkingCharges {
 public:
  std::optional<ParkingDue> due(std::int64_t session) override {
    if (session != 7) return std::nullopt;
    return ParkingDue{7, state, state == "parked" ? owed : 0};
  }
  ParkingPaid pay(std::int64_t session, Fen amount, const std::string& id,
                  const std::string& priced_at) override {
    ++calls;
    ParkingPaid r;
    if (stopping) {
      r.retry = true;
      r.error = "gates stopping";
      return r;
    }
    if (paid_by == id) {
      r.ok = true;  // the same reference again: nothing recorded
      return r;
    }
    if (session != 7 || state != "parked" || amount != owed) {
      r.error = "session 7 is " + state;
      return r;
    }
    state = "paid";
    paid_by = id;
    this->priced_at = priced_at;
    r.ok = true;
    return r;
  }
  std::string state = "parked";
  Fen owed = 1500;
  bool stopping = false;
  int calls = 0;
  std::string paid_by, priced_at;
};

class PaymentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(ESTATE_EDGE_TEST_BINARY_DIR) / "kiosk-service" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    open();
  }
  void open() {
    service_.reset();
    journal_.reset();
    store_.reset();
    store_ = std::make_unique<store::Store>(dir_);
    journal_ = std::make_unique<Journal>(*store_, "gw", 480);
    drivers::pos::Timing t;
    t.ack_timeout = std::chrono::milliseconds(20);
    t.response_timeout = std::chrono::milliseconds(50);
    auto terminal = std::make_unique<drivers::pos::EcrTerminal>(
        std::make_unique<FakePosLink>(pos_), tbk(), t);
    auto printer = std::make_unique<drivers::printer::EscposPrinter>(
        std::make_unique<FakePrinterLink>(printer_), std::chrono::milliseconds(20));
    PaymentServiceOptions o;
    o.unknown_retry = unknown_retry_;
    o.receipt_retry = std::chrono::milliseconds(0);
    metrics_ = std::make_unique<http::MetricsRegistry>();
    service_ = std::make_unique<PaymentService>(*journal_, accounts_, std::move(terminal),
                                                std::move(printer), o, metrics_.get());
    service_->set_parking(parking_);
  }
  std::int64_t records(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT COUNT(*) FROM outbox WHERE json_extract(payload, '$.payment_id') = ?1");
    st.bind(1, id);
    st.step();
    return st.int64(0);
  }

  std::int64_t count(const std::string& sql) {
    auto db = store_->open_reader();
    return db.query_int(sql);
  }
  std::vector<std::string> transitions(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT state FROM payment_transitions WHERE payment_id = ?1 ORDER BY id");
    st.bind(1, id);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
  }

  std::chrono::milliseconds unknown_retry_{0};
  std::shared_ptr<FakeParking> parking_ = std::make_shared<FakeParking>();
  std::unique_ptr<http::MetricsRegistry> metrics_;
  std::filesystem::path dir_;
  PosScript pos_;
  PrinterState printer_;
  FakeAccounts accounts_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<PaymentService> service_;
};

TEST_F(PaymentServiceTest, ApprovedSaleSettlesBillsTopsUpAndPrints) {
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  ASSERT_TRUE(b.payment) << b.message;
  EXPECT_EQ(b.payment->state, State::intent);
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::receipt_printed);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(p.settled_fen, 3000);
  EXPECT_EQ(p.topped_up_fen, 2000);
  EXPECT_EQ(p.balance_after_fen, 2000);
  EXPECT_EQ(p.auth_code, "123456");
  EXPECT_EQ(pos_.sales, 1);
  EXPECT_EQ(pos_.charged.size(), 1u);
  EXPECT_EQ(records(p.id), 1);
  EXPECT_FALSE(printer_.printed.empty());
}

TEST_F(PaymentServiceTest, DeclinedSaleChargesNothing) {
  pos_.mode = PosScript::decline;
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_EQ(p.result_code, "01");  // rejected, a documented decline
  EXPECT_FALSE(p.applied);
  EXPECT_EQ(accounts_.balance, -3000);
  EXPECT_TRUE(printer_.printed.empty());
}

TEST_F(PaymentServiceTest, LostAnswerIsResolvedByQueryWithoutASecondSale) {
  pos_.mode = PosScript::silent;
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();  // sale times out -> unknown -> query in the periodic pass
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(pos_.sales, 1);
  EXPECT_GE(pos_.queries, 1);
  EXPECT_EQ(p.state, State::receipt_printed);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(accounts_.balance, 2000);
  EXPECT_EQ(records(p.id), 1);
}

TEST_F(PaymentServiceTest, RestartInAuthorisingQueriesTheTerminal) {
  // The gateway died after journaling authorising; the terminal never got the sale.
  auto b = service_->begin("1-2-301", "pay", "card", 700, "kiosk-1");
  ASSERT_TRUE(journal_->to_authorising(b.payment->id));
  open();  // restart: the queued job is gone with the old process
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(pos_.sales, 0);
  EXPECT_EQ(pos_.queries, 1);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_EQ(accounts_.balance, -3000);
}

TEST_F(PaymentServiceTest, RestartInIntentAbandonsWithoutTalkingToTheTerminal) {
  auto b = service_->begin("1-2-301", "pay", "card", 700, "kiosk-1");
  open();
  service_->run_pending();
  EXPECT_EQ(journal_->get(b.payment->id)->state, State::declined);
  EXPECT_EQ(pos_.sales + pos_.queries, 0);
}

TEST_F(PaymentServiceTest, ApprovalForAnotherAmountIsReversed) {
  pos_.mode = PosScript::approve_other_amount;
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_EQ(pos_.voids, 1);
  EXPECT_TRUE(pos_.charged.empty());
  EXPECT_EQ(accounts_.balance, -3000);
}

TEST_F(PaymentServiceTest, PaperOutLeavesItReprintable) {
  printer_.paper = 0x72;
  auto b = service_->begin("1-2-301", "topup", "card", 100, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::approved);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(p.receipt_error, "paper out");
  EXPECT_TRUE(printer_.printed.empty());
  printer_.paper = 0x12;
  ASSERT_TRUE(service_->reprint(p.id));
  service_->run_pending();
  EXPECT_EQ(journal_->get(p.id)->state, State::receipt_printed);
  std::string job(printer_.printed.begin(), printer_.printed.end());
  EXPECT_NE(job.find(p.id), std::string::npos);
}

TEST_F(PaymentServiceTest, BadRequestsChangeNothing) {
  EXPECT_EQ(service_->begin("9-9-999", "pay", "card", 100, "k").status, 404);
  EXPECT_EQ(service_->begin("1-2-301", "pay", "card", 0, "k").status, 400);
  EXPECT_EQ(service_->begin("1-2-301", "pay", "card", -5, "k").status, 400);
  EXPECT_EQ(service_->begin("1-2-301", "pay", "cash", 100, "k").status, 400);
  EXPECT_EQ(service_->begin("1-2-301", "refund", "card", 100, "k").status, 400);
  EXPECT_EQ(service_->begin("../etc", "pay", "card", 100, "k").status, 400);
  EXPECT_EQ(service_->begin("1-2-301", "pay", "card", 100'000'001, "k").status, 400);
  auto db = store_->open_reader();
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM payments"), 0);
}

TEST_F(PaymentServiceTest, ParkingFeePaidAtThePosPaysTheSessionOnce) {
  auto b = service_->begin_parking(7, 1500, "card", "kiosk-1");
  ASSERT_TRUE(b.payment) << b.message;
  EXPECT_EQ(b.payment->kind, "parking");
  EXPECT_EQ(b.payment->room, "parking-7");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::receipt_printed);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(p.settled_fen, 1500);
  EXPECT_EQ(p.topped_up_fen, 0);
  EXPECT_EQ(parking_->state, "paid");
  EXPECT_EQ(parking_->paid_by, p.id);
  EXPECT_EQ(parking_->priced_at, p.created_at);  // priced when the resident started paying
  EXPECT_EQ(pos_.sales, 1);
  EXPECT_EQ(accounts_.balance, -3000);  // no room was credited
  std::string job(printer_.printed.begin(), printer_.printed.end());
  EXPECT_NE(job.find(p.id), std::string::npos);
  // Crediting again (a restart between the car park's commit and the journal's) changes nothing.
  service_->run_pending();
  EXPECT_EQ(parking_->calls, 1);
}

TEST_F(PaymentServiceTest, ParkingFeeThatChangedOrIsNotOwedIsRefusedBeforeTheTerminal) {
  EXPECT_EQ(service_->begin_parking(7, 1000, "card", "k").status, 409);  // owes 1500 now
  EXPECT_EQ(service_->begin_parking(8, 1500, "card", "k").status, 404);
  EXPECT_EQ(service_->begin_parking(0, 1500, "card", "k").status, 400);
  EXPECT_EQ(service_->begin_parking(7, 1500, "cash", "k").status, 400);
  parking_->state = "paid";
  EXPECT_EQ(service_->begin_parking(7, 1500, "card", "k").status, 409);
  EXPECT_EQ(pos_.sales, 0);
  auto db = store_->open_reader();
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM payments"), 0);
}

TEST_F(PaymentServiceTest, ParkingPaymentTheCarParkRefusesIsVoidedAndDeclined) {
  auto b = service_->begin_parking(7, 1500, "card", "kiosk-1");
  ASSERT_TRUE(b.payment);
  parking_->state = "closed";  // the guard let the car out by hand meanwhile
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_FALSE(p.applied);
  EXPECT_EQ(pos_.voids, 1);
  EXPECT_TRUE(pos_.charged.empty());  // the money went back
  EXPECT_EQ(records(p.id), 2);        // approved, then reversed
  EXPECT_TRUE(printer_.printed.empty());
}

TEST_F(PaymentServiceTest, ParkingPaymentIsCreditedLaterWhenTheCarParkIsStopping) {
  parking_->stopping = true;
  auto b = service_->begin_parking(7, 1500, "card", "kiosk-1");
  ASSERT_TRUE(b.payment);
  service_->run_pending();  // not credited: reported, tried again on every pass
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::approved);
  EXPECT_FALSE(p.applied);
  EXPECT_EQ(pos_.voids, 0);
  parking_->stopping = false;
  open();  // the next start credits it
  service_->run_pending();
  p = *journal_->get(b.payment->id);
  EXPECT_TRUE(p.applied);
  EXPECT_EQ(parking_->paid_by, p.id);
  EXPECT_EQ(pos_.sales, 1);
}

// A result code that is neither "00" nor a documented decline is not a decline: the terminal
// took the money here, and a payment marked declined would be paid a second time.
TEST_F(PaymentServiceTest, UnknownResultCodeIsAskedAboutNotDeclined) {
  for (auto mode : {PosScript::odd_code, PosScript::empty_code}) {
    pos_.mode = mode;
    auto b = service_->begin("1-2-301", "topup", "card", 700, "kiosk-1");
    ASSERT_TRUE(b.payment);
    service_->run_pending();
    auto p = *journal_->get(b.payment->id);
    EXPECT_EQ(transitions(p.id),
              (std::vector<std::string>{"intent", "authorising", "unknown", "approved",
                                        "receipt_printed"}));
    EXPECT_TRUE(p.applied);
    EXPECT_EQ(records(p.id), 1);  // one approved record, never a declined one
  }
  EXPECT_EQ(pos_.sales, 2);
  EXPECT_EQ(pos_.charged.size(), 2u);
}

TEST_F(PaymentServiceTest, ApprovalWithoutAnAmountIsNotTaken) {
  pos_.mode = PosScript::no_amount;
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::unknown);
  EXPECT_FALSE(p.applied);
  EXPECT_EQ(accounts_.balance, -3000);
  EXPECT_GE(pos_.queries, 2);
  EXPECT_EQ(pos_.sales, 1);
  // The terminal answers with the amount at last: approved once.
  pos_.mode = PosScript::approve;
  service_->run_pending();
  p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::receipt_printed);
  EXPECT_EQ(accounts_.balance, 2000);
}

TEST_F(PaymentServiceTest, ApprovalForAnotherAmountGoesThroughUnknownThenIsReversed) {
  pos_.mode = PosScript::approve_other_amount;
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  EXPECT_EQ(transitions(b.payment->id),
            (std::vector<std::string>{"intent", "authorising", "unknown", "declined"}));
  EXPECT_EQ(pos_.voids, 1);
}

TEST_F(PaymentServiceTest, FullCardNumberFromTheTerminalIsNeverKept) {
  // A debit sale's answer carries the account number; some terminals put the whole card
  // number there. The gateway keeps the last digits only.
  pos_.account = "6222021234567891234";
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::receipt_printed);
  EXPECT_EQ(p.card, "****1234");
  EXPECT_EQ(p.to_json()["card"], "****1234");
  const std::string job(printer_.printed.begin(), printer_.printed.end());
  EXPECT_EQ(job.find("6222021234567891234"), std::string::npos);
  EXPECT_EQ(job.find("021234567891"), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE card LIKE '%0212345678%' OR "
                  "message LIKE '%0212345678%'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%0212345678%'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%****1234%'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_transitions WHERE detail LIKE '%0212345678%'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%0212345678%'"), 0);
}

// The link's own faults, as the protocol handles them: a NAKed request is sent again, a
// damaged answer is NAKed and the terminal's repeat taken; one sale either way.
TEST_F(PaymentServiceTest, NakThenRetryAndDamagedAnswerThenRepeatMakeOneSale) {
  pos_.nak_requests = 2;   // the third send is ACKed (three sends in all)
  pos_.damage_answers = 2; // the third copy of the answer is good
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::receipt_printed);
  EXPECT_EQ(pos_.sales, 1);
  EXPECT_EQ(pos_.naks_seen, 2);
  EXPECT_EQ(transitions(p.id),
            (std::vector<std::string>{"intent", "authorising", "approved", "receipt_printed"}));
}

TEST_F(PaymentServiceTest, RequestNakedEveryTimeIsNeverSoldAndNeverDeclinedUnasked) {
  pos_.nak_requests = 3;  // every send refused: the terminal never took it
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  // Not sold; the query that follows finds no sale at all (11): declined, nothing charged.
  EXPECT_EQ(pos_.sales, 0);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_TRUE(pos_.charged.empty());
}

TEST_F(PaymentServiceTest, AnswerDamagedEveryTimeIsUnknownThenResolvedByQuery) {
  pos_.damage_answers = 3;
  auto b = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1");
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(pos_.naks_seen, 3);
  EXPECT_EQ(transitions(p.id),
            (std::vector<std::string>{"intent", "authorising", "unknown", "approved",
                                      "receipt_printed"}));
  EXPECT_EQ(pos_.sales, 1);
}

// The query reports the terminal's last sale only. A last sale that is a later gateway ticket,
// or one keyed in by hand, says nothing about this payment: it stays unknown (the journal's
// needs-attention state), never declined.
TEST_F(PaymentServiceTest, LastSaleOfAnotherTicketLeavesThePaymentUnknown) {
  pos_.mode = PosScript::silent;
  auto first = service_->begin("1-2-301", "topup", "card", 100, "kiosk-1");
  service_->run_pending();  // charged, answer lost, and the query finds it: approved
  EXPECT_EQ(journal_->get(first.payment->id)->state, State::receipt_printed);
  auto second = service_->begin("1-2-301", "topup", "card", 200, "kiosk-1");
  ASSERT_TRUE(journal_->to_authorising(second.payment->id));
  auto third = service_->begin("1-2-301", "topup", "card", 300, "kiosk-1");
  pos_.mode = PosScript::approve;
  open();  // second in authorising, third abandoned in intent
  auto third_ticket = *ecr::ticket_for(tbk(), third.payment->id);
  pos_.last = third_ticket;  // as if the terminal's last sale were the later one
  service_->run_pending();
  EXPECT_EQ(journal_->get(second.payment->id)->state, State::unknown);
  EXPECT_NE(journal_->get(second.payment->id)->message.find("check this payment at the terminal"),
            std::string::npos) << journal_->get(second.payment->id)->message;
  pos_.last = "123456";  // a sale keyed in at the terminal by hand
  service_->run_pending();
  EXPECT_EQ(journal_->get(second.payment->id)->state, State::unknown);
  // The terminal's last sale is the first (earlier) payment: the second never became a sale.
  pos_.last = *ecr::ticket_for(tbk(), first.payment->id);
  service_->run_pending();
  EXPECT_EQ(journal_->get(second.payment->id)->state, State::declined);
  EXPECT_EQ(pos_.sales, 1);
}

// The query reports the last sale only, so a payment in doubt is asked about before the next
// sale replaces it as the terminal's last sale, whatever the retry period says.
TEST_F(PaymentServiceTest, PaymentInDoubtIsAskedAboutBeforeTheNextSale) {
  unknown_retry_ = std::chrono::hours(1);
  open();
  pos_.mode = PosScript::silent;
  auto a = service_->begin("1-2-301", "topup", "card", 100, "kiosk-1");
  service_->run_pending();  // charged, answer lost: unknown, not asked again for an hour
  EXPECT_EQ(journal_->get(a.payment->id)->state, State::unknown);
  EXPECT_EQ(pos_.queries, 0);
  pos_.mode = PosScript::approve;
  auto b = service_->begin("1-2-301", "topup", "card", 200, "kiosk-1");
  service_->run_pending();
  EXPECT_EQ(pos_.queries, 1);
  EXPECT_EQ(pos_.sales, 2);
  EXPECT_EQ(transitions(a.payment->id),
            (std::vector<std::string>{"intent", "authorising", "unknown", "approved",
                                      "receipt_printed"}));
  EXPECT_EQ(journal_->get(b.payment->id)->state, State::receipt_printed);
  EXPECT_EQ(accounts_.balance, -3000 + 300);
}

// One payment whose credit keeps failing is reported once and does not hold up the others.
TEST_F(PaymentServiceTest, PaymentThatCannotBeCreditedDoesNotBlockLaterOnes) {
  auto first = service_->begin("1-2-301", "topup", "card", 100, "kiosk-1");
  auto second = service_->begin("1-2-301", "topup", "card", 200, "kiosk-1");
  ASSERT_TRUE(first.payment && second.payment);
  accounts_.fail_ids.insert(first.payment->id);
  EXPECT_NO_THROW(service_->run_pending());
  EXPECT_NO_THROW(service_->run_pending());
  auto p1 = *journal_->get(first.payment->id);
  auto p2 = *journal_->get(second.payment->id);
  EXPECT_EQ(p1.state, State::approved);
  EXPECT_FALSE(p1.applied);
  EXPECT_EQ(p2.state, State::receipt_printed);
  EXPECT_TRUE(p2.applied);
  EXPECT_EQ(accounts_.balance, -3000 + 200);
  // Reported once (an event row and an outbox record), counted on every failed attempt.
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE kind = 'payment.credit_failed'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE stream = 'events' AND "
                  "json_extract(payload, '$.kind') = 'payment.credit_failed' AND "
                  "json_extract(payload, '$.payment_id') = '" + p1.id + "'"), 1);
  const auto text = metrics_->render();
  EXPECT_NE(text.find("estate_payment_credit_failures_total "), std::string::npos) << text;
  EXPECT_EQ(text.find("estate_payment_credit_failures_total 0"), std::string::npos) << text;
  // Once the room can take it, it is credited.
  accounts_.fail_ids.clear();
  service_->run_pending();
  EXPECT_TRUE(journal_->get(p1.id)->applied);
  EXPECT_EQ(accounts_.balance, -3000 + 300);
}

// Recovery that fails once (the terminal's link threw while asking about a payment left in
// authorising) is tried again until it goes through; nothing stays in authorising.
TEST_F(PaymentServiceTest, RecoveryFailingOnceIsRetriedAndAuthorisingIsResolved) {
  auto b = service_->begin("1-2-301", "pay", "card", 700, "kiosk-1");
  ASSERT_TRUE(journal_->to_authorising(b.payment->id));
  open();
  pos_.throw_writes = 1;
  EXPECT_NO_THROW(service_->run_pending());
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::declined);  // the terminal never had it: no sale (11)
  EXPECT_EQ(pos_.sales, 0);
  EXPECT_NE(metrics_->render().find("estate_payment_recovery_failures_total 1"), std::string::npos);
}

TEST_F(PaymentServiceTest, SaleLeftInAuthorisingWhileRunningIsResolvedOnTheNextPass) {
  auto b = service_->begin("1-2-301", "pay", "card", 700, "kiosk-1");
  pos_.throw_writes = 1;  // the sale itself throws after authorising was journaled
  service_->run_pending();
  service_->run_pending();
  auto p = *journal_->get(b.payment->id);
  EXPECT_EQ(p.state, State::declined);
  EXPECT_EQ(pos_.sales, 0);
  EXPECT_GE(pos_.queries, 1);
}

TEST_F(PaymentServiceTest, IdempotencyKeyMakesOnePaymentPerKeyAndSource) {
  auto a = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1", "tap-1");
  auto again = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1", "tap-1");
  ASSERT_TRUE(a.payment && again.payment);
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(again.repeated);
  EXPECT_EQ(again.payment->id, a.payment->id);
  EXPECT_EQ(service_->begin("1-2-301", "pay", "card", 4000, "kiosk-1", "tap-1").status, 409);
  auto other = service_->begin("1-2-301", "topup", "card", 100, "kiosk-2", "tap-1");
  ASSERT_TRUE(other.payment);
  EXPECT_NE(other.payment->id, a.payment->id);
  service_->run_pending();
  EXPECT_EQ(pos_.sales, 2);
  // After a restart, and once it is paid, the key still finds it.
  open();
  auto later = service_->begin("1-2-301", "pay", "card", 5000, "kiosk-1", "tap-1");
  ASSERT_TRUE(later.payment);
  EXPECT_EQ(later.payment->id, a.payment->id);
  EXPECT_EQ(later.payment->state, State::receipt_printed);
  auto parked = service_->begin_parking(7, 1500, "card", "kiosk-1", "tap-p");
  service_->run_pending();
  auto parked_again = service_->begin_parking(7, 1500, "card", "kiosk-1", "tap-p");
  ASSERT_TRUE(parked_again.payment) << parked_again.message;  // not 409 "owes nothing"
  EXPECT_EQ(parked_again.payment->id, parked.payment->id);
  EXPECT_EQ(pos_.sales, 3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 3);
}

TEST_F(PaymentServiceTest, QueueBehindTheTerminalIsBounded) {
  for (int i = 0; i < 3; ++i) {  // one at the terminal, two waiting
    EXPECT_EQ(service_->begin("1-2-301", "topup", "card", 100, "kiosk-1", "k" + std::to_string(i)).status, 202);
  }
  auto full = service_->begin("1-2-301", "topup", "card", 100, "kiosk-1", "k3");
  EXPECT_EQ(full.status, 429);
  EXPECT_FALSE(full.payment);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 3);  // nothing stored for the refused one
  // The same key as a queued sale is that sale, not a new one.
  EXPECT_EQ(service_->begin("1-2-301", "topup", "card", 100, "kiosk-1", "k0").status, 200);
  service_->run_pending();
  EXPECT_EQ(pos_.sales, 3);
  EXPECT_EQ(service_->begin("1-2-301", "topup", "card", 100, "kiosk-1", "k3").status, 202);
}

TEST(ParkingRoom, RoundTrips) {
  EXPECT_EQ(parking_room(42), "parking-42");
  EXPECT_EQ(parking_session_of("parking-42"), 42);
  EXPECT_FALSE(parking_session_of("parking-"));
  EXPECT_FALSE(parking_session_of("parking-0"));
  EXPECT_FALSE(parking_session_of("parking-4x"));
  EXPECT_FALSE(parking_session_of("1-2-301"));
  EXPECT_FALSE(parking_session_of("parking-1234567890123456789"));
}

}  // namespace
}  // namespace estate::kiosk
