// The payment service against a terminal and a printer faked at the byte link: the fake POS
// decodes each frame with the codec, ACKs it and answers as scripted; the fake printer answers
// DLE EOT and keeps the job bytes.
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

struct PosScript {
  enum Mode { approve, decline, silent, approve_other_amount } mode = approve;
  std::map<std::string, std::int64_t> charged;  // ref -> fen, what the bank holds
  int sales = 0, queries = 0, voids = 0;
};

class FakePosLink : public drivers::BlockingLink {
 public:
  explicit FakePosLink(PosScript& s) : s_(s) {}
  error_code write(std::span<const std::uint8_t> data, drivers::milliseconds) override {
    const auto& f = *ecr::find_format("generic");
    if (data.size() == 1) return {};  // our ACK/NAK of its answer
    auto m = ecr::decode(f, data);
    if (!m) {
      rx_.push_back(f.nak);
      return {};
    }
    rx_.push_back(f.ack);
    ecr::Message r;
    auto ref = *m->get("RF");
    if (m->type == "S0") {
      ++s_.sales;
      if (s_.mode == PosScript::silent) {
        s_.charged[ref] = std::stoll(*m->get("AM"));  // charged, but the answer is lost
        return {};
      }
      r.type = "S1";
      r.set("RF", ref);
      if (s_.mode == PosScript::decline) {
        r.set("RC", "51").set("MS", "insufficient funds");
      } else {
        auto amount = std::stoll(*m->get("AM"));
        if (s_.mode == PosScript::approve_other_amount) amount += 1;
        s_.charged[ref] = amount;
        r.set("RC", "00").set("AM", std::to_string(amount)).set("AU", "123456").set("RR", "000000000001").set("CN", "6222****1234");
      }
    } else if (m->type == "Q0") {
      ++s_.queries;
      r.type = "Q1";
      r.set("RF", ref);
      auto it = s_.charged.find(ref);
      if (it == s_.charged.end()) r.set("RC", "NF");
      else r.set("RC", "00").set("AM", std::to_string(it->second)).set("AU", "123456");
    } else if (m->type == "V0") {
      ++s_.voids;
      s_.charged.erase(ref);
      r.type = "V1";
      r.set("RF", ref).set("RC", "00");
    }
    auto bytes = *ecr::encode(f, r);
    rx_.insert(rx_.end(), bytes.begin(), bytes.end());
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
  PosScript& s_;
  std::vector<std::uint8_t> rx_;
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
    if (applied.count(id)) return Settlement{{}, 0, 0, balance, true};
    auto s = settle_oldest_first(lookup(room)->bills, amount);
    balance += amount;
    applied.insert(id);
    s.balance_after_fen = balance;
    return s;
  }
  Fen balance = -3000;
  std::set<std::string> applied;
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
        std::make_unique<FakePosLink>(pos_), *ecr::find_format("generic"), t);
    auto printer = std::make_unique<drivers::printer::EscposPrinter>(
        std::make_unique<FakePrinterLink>(printer_), std::chrono::milliseconds(20));
    PaymentServiceOptions o;
    o.unknown_retry = std::chrono::milliseconds(0);
    o.receipt_retry = std::chrono::milliseconds(0);
    service_ = std::make_unique<PaymentService>(*journal_, accounts_, std::move(terminal),
                                                std::move(printer), o, nullptr);
    service_->set_parking(parking_);
  }
  std::int64_t records(const std::string& id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT COUNT(*) FROM outbox WHERE json_extract(payload, '$.payment_id') = ?1");
    st.bind(1, id);
    st.step();
    return st.int64(0);
  }

  std::shared_ptr<FakeParking> parking_ = std::make_shared<FakeParking>();
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
  EXPECT_EQ(p.result_code, "51");
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
  EXPECT_ANY_THROW(service_->run_pending());
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
