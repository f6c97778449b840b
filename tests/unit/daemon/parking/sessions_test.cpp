// Parking sessions against a real store: visitor pays at the exit, resident passes free,
// paying ahead with grace time, lost plate, and the outbox events of each step.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "daemon/parking/sessions.hpp"
#include "daemon/privacy/privacy.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::parking {
namespace {

Instant at(const char* iso) {
  std::string err;
  auto i = parse_iso8601(iso, err);
  EXPECT_TRUE(i) << err;
  return i.value_or(Instant{});
}

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("estate-parking-test");
    store_ = std::make_unique<store::Store>(dir_);
    config::Diagnostics diag;
    config::Section doc(YAML::Load("parking_rules:\n  - {id: visitor, free_minutes: 30, "
                                   "unit_minutes: 60, unit_price_fen: 500, daily_cap_fen: 2000}\n"),
                        "rules.yaml", "", diag);
    ParkingSettings s;
    s.rules = parse_parking_rules(doc);
    ASSERT_TRUE(diag.ok()) << diag.to_string();
    settings_ = s;
    sessions_ = std::make_unique<ParkingSessions>(*store_, "gw1", s, hash());
  }
  // The gates' keyed hash (a fixed test key).
  static ParkingSessions::CredentialHash hash() {
    return [](access::CredentialKind k, std::string_view v) {
      privacy::Key key{};
      key.fill(7);
      return privacy::keyed_hash(key, access::to_string(k), v);
    };
  }
  void TearDown() override {
    sessions_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Passage car(const char* when, access::Verdict v = access::Verdict::charge_as_visitor,
              access::HolderType h = access::HolderType::visitor) {
    Passage p;
    p.kind = access::CredentialKind::plate;
    p.credential = "粤B12345";
    p.gate = "main";
    p.time = at(when);
    p.decision.verdict = v;
    p.decision.holder = h;
    return p;
  }
  std::vector<nlohmann::json> events() {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'events' ORDER BY seq");
    std::vector<nlohmann::json> out;
    while (st.step()) out.push_back(nlohmann::json::parse(st.text(0)));
    return out;
  }
  std::string state_of(std::int64_t id) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT state FROM parking_sessions WHERE id = ?1");
    st.bind(1, id);
    return st.step() ? st.text(0) : "";
  }
  std::filesystem::path dir_;
  ParkingSettings settings_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ParkingSessions> sessions_;
};

TEST_F(SessionsTest, VisitorPaysAtTheExit) {
  auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  ASSERT_GT(id, 0);
  EXPECT_EQ(state_of(id), "parked");
  // 2 h 30 min: 3 started units of 500.
  auto r = sessions_->on_exit(car("2026-03-01T10:30:00+08:00"));
  EXPECT_EQ(r.action, ExitAction::wait_payment);
  EXPECT_EQ(r.due_fen, 1500);
  EXPECT_EQ(r.session_id, id);
  EXPECT_EQ(state_of(id), "awaiting_payment");
  auto bad = sessions_->pay(id, 1000, "pos-1", at("2026-03-01T10:31:00+08:00"));
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.error, "amount 1000 fen does not match the 1500 fen due");
  EXPECT_EQ(state_of(id), "awaiting_payment");
  auto ok = sessions_->pay(id, 1500, "pos-2", at("2026-03-01T10:31:00+08:00"));
  EXPECT_TRUE(ok.ok);
  EXPECT_TRUE(ok.open_gate);
  EXPECT_EQ(state_of(id), "closed");
  EXPECT_FALSE(sessions_->pay(id, 1500, "pos-3", at("2026-03-01T10:32:00+08:00")).ok);
  auto ev = events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0]["kind"], "parking.entry");
  EXPECT_EQ(ev[1]["kind"], "parking.exit");
  EXPECT_EQ(ev[1]["fee"]["fee_fen"], 1500);
  EXPECT_EQ(ev[1]["action"], "wait_payment");
  EXPECT_EQ(ev[2]["kind"], "parking.paid");
  EXPECT_EQ(ev[2]["amount_fen"], 1500);
}

TEST_F(SessionsTest, WithinFreeMinutesTheBarrierOpens) {
  auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  auto r = sessions_->on_exit(car("2026-03-01T08:30:00+08:00"));
  EXPECT_EQ(r.action, ExitAction::open);
  EXPECT_EQ(r.due_fen, 0);
  EXPECT_EQ(state_of(id), "closed");
}

TEST_F(SessionsTest, ResidentsAndMonthlyPassHoldersPassFree) {
  auto id = sessions_->on_entry(
      car("2026-03-01T08:00:00+08:00", access::Verdict::open, access::HolderType::monthly));
  auto r = sessions_->on_exit(
      car("2026-03-03T08:00:00+08:00", access::Verdict::open, access::HolderType::monthly));
  EXPECT_EQ(r.action, ExitAction::open);
  EXPECT_EQ(r.reason, "free (monthly)");
  EXPECT_EQ(state_of(id), "closed");
}

TEST_F(SessionsTest, PayAheadThenGraceTime) {
  auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  // Paid at 09:10 at the kiosk: 2 units = 1000.
  EXPECT_FALSE(sessions_->pay(id, 1500, "k", at("2026-03-01T09:10:00+08:00")).ok);
  auto p = sessions_->pay(id, 1000, "kiosk-1", at("2026-03-01T09:10:00+08:00"));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_FALSE(p.open_gate);
  EXPECT_EQ(state_of(id), "paid");
  // 15 min later exactly: still within the grace time.
  auto r = sessions_->on_exit(car("2026-03-01T09:25:00+08:00"));
  EXPECT_EQ(r.action, ExitAction::open);
  EXPECT_EQ(state_of(id), "closed");
}

TEST_F(SessionsTest, APaymentAndItsAuditEntryCommitTogetherOrNotAtAll) {
  auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  const auto when = at("2026-03-01T09:10:00+08:00");
  int calls = 0;
  auto audit = [&calls](store::Database& db, const PayResult& r) {
    ++calls;
    db.prepare("INSERT INTO audit_probe(paid_fen) VALUES (?1)").bind(1, r.paid_fen).run();
  };
  store_->write_sync([](store::Database& db) { db.exec("CREATE TABLE audit_probe(paid_fen INTEGER)"); });
  auto probes = [this] { return store_->open_reader().query_int("SELECT count(*) FROM audit_probe"); };
  // Refused (wrong amount): the hook never runs.
  EXPECT_FALSE(sessions_->pay(id, 1500, "k-1", when, std::nullopt, audit).ok);
  EXPECT_EQ(calls, 0);
  // The hook fails: the payment is undone with it.
  EXPECT_ANY_THROW(sessions_->pay(id, 1000, "k-2", when, std::nullopt,
                                  [](store::Database&, const PayResult&) {
                                    throw std::runtime_error("audit refused");
                                  }));
  EXPECT_EQ(state_of(id), "parked");
  // Paid: one entry, in the payment's transaction.
  auto r = sessions_->pay(id, 1000, "k-3", when, std::nullopt, audit);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(state_of(id), "paid");
  EXPECT_EQ(probes(), 1);
  // Repeated with the same reference: nothing new, no second entry.
  EXPECT_TRUE(sessions_->pay(id, 1000, "k-3", when, std::nullopt, audit).repeated);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(probes(), 1);
}

TEST_F(SessionsTest, LateAfterPayingOnlyTheDifferenceIsDue) {
  auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  ASSERT_TRUE(sessions_->pay(id, 1000, "kiosk-1", at("2026-03-01T09:10:00+08:00")).ok);
  // 09:40: grace over, the stay re-priced is still 2 units = 1000, all paid.
  auto r = sessions_->on_exit(car("2026-03-01T09:40:00+08:00"));
  EXPECT_EQ(r.action, ExitAction::open);
  EXPECT_EQ(r.due_fen, 0);
  auto id2 = sessions_->on_entry(car("2026-03-01T12:00:00+08:00"));
  ASSERT_TRUE(sessions_->pay(id2, 1000, "kiosk-2", at("2026-03-01T13:10:00+08:00")).ok);
  // 14:00:01: 3 units = 1500, 1000 paid, 500 due.
  r = sessions_->on_exit(car("2026-03-01T14:00:01+08:00"));
  EXPECT_EQ(r.action, ExitAction::wait_payment);
  EXPECT_EQ(r.due_fen, 500);
  EXPECT_TRUE(sessions_->pay(id2, 500, "pos", at("2026-03-01T14:01:00+08:00")).open_gate);
}

TEST_F(SessionsTest, LostPlateAndManualOpenAreEventsForTheGuard) {
  auto r = sessions_->on_exit(car("2026-03-01T10:00:00+08:00"));
  EXPECT_EQ(r.action, ExitAction::call_guard);
  EXPECT_EQ(r.reason, "no entry record (lost or misread plate)");
  sessions_->manual_open("main", "guard: plate unreadable", at("2026-03-01T10:01:00+08:00"));
  auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["kind"], "parking.no_entry_record");
  EXPECT_EQ(ev[1]["kind"], "gate.manual_open");
  EXPECT_EQ(ev[1]["reason"], "guard: plate unreadable");
}

TEST_F(SessionsTest, ManualOpenFromThePlatformIsAuditedWithItsEvent) {
  audit::Entry e{"", "gate.manual_open", "platform:open-7", "device:main", "",
                 R"({"reason":"guard request"})"};
  sessions_->manual_open("main", "guard request", at("2026-03-01T10:01:00+08:00"), e);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["kind"], "gate.manual_open");
  auto db = store_->open_reader();
  auto st = db.prepare("SELECT kind, actor, subject, detail FROM audit_log");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), "gate.manual_open");
  EXPECT_EQ(st.text(1), "platform:open-7");
  EXPECT_EQ(st.text(2), "device:main");
  EXPECT_EQ(nlohmann::json::parse(st.text(3))["reason"], "guard request");
  EXPECT_FALSE(st.step());
  // Without an entry (a guard's button on the lane) the event alone is kept.
  sessions_->manual_open("main", "button", at("2026-03-01T10:02:00+08:00"));
  EXPECT_EQ(events().size(), 2u);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM audit_log", -1), 1);
}

TEST_F(SessionsTest, SessionsKeepThePlateHashedAndMasked) {
  const auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  ASSERT_GT(id, 0);
  {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT credential, shown FROM parking_sessions WHERE id = ?1");
    st.bind(1, id);
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.text(0), hash()(access::CredentialKind::plate, "粤B12345"));
    EXPECT_EQ(st.text(1), "粤B***45");
    auto dump = db.prepare("SELECT count(*) FROM parking_sessions WHERE credential LIKE '%12345%' "
                           "OR shown LIKE '%12345%' OR snapshot LIKE '%12345%'");
    ASSERT_TRUE(dump.step());
    EXPECT_EQ(dump.int64(0), 0);
  }
  // The kiosk finds it by the plate typed in; what it sees of the plate is masked.
  auto v = sessions_->find_open(access::CredentialKind::plate, "粤B12345",
                                at("2026-03-01T09:00:00+08:00"));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->id, id);
  EXPECT_EQ(v->credential, "粤B***45");
  EXPECT_FALSE(sessions_->find_open(access::CredentialKind::plate, "粤B12346",
                                    at("2026-03-01T09:00:00+08:00")));
  // The exit matches it by hash too.
  EXPECT_EQ(sessions_->on_exit(car("2026-03-01T10:00:00+08:00")).session_id, id);
}

TEST_F(SessionsTest, AnOlderStoresClearSessionsAreHashedAtStart) {
  const auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  sessions_.reset();
  // As parking schema 2 left it: the plate itself, nothing shown.
  store_->write_sync([&](store::Database& db) {
    db.prepare("UPDATE parking_sessions SET credential = '粤B12345', shown = '' WHERE id = ?1")
        .bind(1, id)
        .run();
  });
  sessions_ = std::make_unique<ParkingSessions>(*store_, "gw1", settings_, hash());
  auto db = store_->open_reader();
  EXPECT_EQ(db.query_int("SELECT count(*) FROM parking_sessions WHERE credential = '粤B12345'", -1), 0);
  auto v = sessions_->find_open(access::CredentialKind::plate, "粤B12345",
                                at("2026-03-01T09:00:00+08:00"));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->id, id);
  EXPECT_EQ(v->credential, "粤B***45");
}

TEST_F(SessionsTest, DeniedEntryOpensNoSession) {
  EXPECT_EQ(sessions_->on_entry(car("2026-03-01T08:00:00+08:00", access::Verdict::deny)), 0);
  EXPECT_TRUE(events().empty());
}

TEST_F(SessionsTest, KioskFindsTheSessionAndARetriedPaymentIsNotASecondOne) {
  EXPECT_FALSE(sessions_->find_open(access::CredentialKind::plate, "粤B12345",
                                    at("2026-03-01T08:00:00+08:00")));
  auto id = sessions_->on_entry(car("2026-03-01T08:00:00+08:00"));
  // Parked: priced at the time of the search (1 h 10 min: two started units).
  auto v = sessions_->find_open(access::CredentialKind::plate, "粤B12345",
                                at("2026-03-01T09:10:00+08:00"));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->id, id);
  EXPECT_EQ(v->state, "parked");
  EXPECT_EQ(v->rule, "visitor");
  EXPECT_EQ(v->entry_gate, "main");
  EXPECT_EQ(v->fee_fen, 1000);
  EXPECT_EQ(v->due_fen, 1000);
  ASSERT_TRUE(v->quote);
  EXPECT_EQ(v->quote->units, 2);
  EXPECT_TRUE(v->exit_gate.empty());
  // At the exit the fee is fixed there, whenever the kiosk looks.
  auto exit = car("2026-03-01T10:30:00+08:00");
  exit.gate = "out";
  ASSERT_EQ(sessions_->on_exit(exit).action, ExitAction::wait_payment);
  v = sessions_->find_open(access::CredentialKind::plate, "粤B12345",
                           at("2026-03-01T12:00:00+08:00"));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->due_fen, 1500);
  EXPECT_EQ(v->state, "awaiting_payment");
  EXPECT_EQ(v->exit_gate, "out");
  EXPECT_EQ(sessions_->pay(id, 0, "qr-0", at("2026-03-01T10:31:00+08:00")).error,
            "amount_fen must be above zero");
  auto ok = sessions_->pay(id, 1500, "qr-1", at("2026-03-01T10:31:00+08:00"));
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_TRUE(ok.open_gate);
  EXPECT_EQ(ok.gate, "out");
  EXPECT_EQ(ok.paid_fen, 1500);
  EXPECT_FALSE(ok.repeated);
  // The platform sends the same payment again: answered, nothing recorded, no gate.
  auto again = sessions_->pay(id, 1500, "qr-1", at("2026-03-01T10:32:00+08:00"));
  EXPECT_TRUE(again.ok);
  EXPECT_TRUE(again.repeated);
  EXPECT_FALSE(again.open_gate);
  EXPECT_EQ(again.paid_fen, 1500);
  EXPECT_EQ(events().size(), 3u);  // entry, exit, one parking_paid
  EXPECT_FALSE(sessions_->find_open(access::CredentialKind::plate, "粤B12345",
                                    at("2026-03-01T10:33:00+08:00")));
}

}  // namespace
}  // namespace estate::parking
