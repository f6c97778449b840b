// The access service against a real store: events in the outbox with masked cards, list
// versions refused when not newer, the same decision after a restart, and lists swapped while
// another thread decides.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "daemon/access/service.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/privacy/privacy.hpp"
#include "tests/unit/daemon/access/store_scan.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::access {
namespace {

class AccessServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("estate-access-test");
    store_ = std::make_unique<store::Store>(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static nlohmann::json cards(std::int64_t version, std::vector<std::string> numbers,
                              const std::string& room = "1-101") {
    nlohmann::json e = nlohmann::json::array();
    for (auto& n : numbers) e.push_back({{"card", n}, {"room", room}});
    return {{"list", "cards"}, {"version", version}, {"entries", e}};
  }
  AccessRequest card(const std::string& v, Lane lane = Lane::entry) {
    return AccessRequest{CredentialKind::card, v, "main", lane, 1772323200};
  }
  std::vector<std::string> outbox_events() {
    store_->write_sync([](store::Database&) {});  // everything queued before is committed
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT payload FROM outbox WHERE stream = 'events' ORDER BY seq");
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
  }
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(AccessServiceTest, ACameraReadKeepsItsFieldsAndTheSnapshotReference) {
  AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
  AccessRequest req{CredentialKind::plate, "粤B12345", "main", Lane::entry, 1772323200};
  req.camera = CameraRead{"cam-in", "vzenith", "blue", 93, 0,
                          "snapshots/20260301/cam-in-1772323200-0.jpg"};
  svc.decide(req);
  req.camera = CameraRead{"cam-in", "hikvision-isapi", "", -1, -1, ""};  // said nothing more
  svc.decide(req);
  auto ev = outbox_events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(nlohmann::ordered_json::parse(ev[0])["camera"].dump(),
            R"({"device":"cam-in","model":"vzenith","colour":"blue","confidence":93,)"
            R"("channel":0,"snapshot":"snapshots/20260301/cam-in-1772323200-0.jpg"})");
  EXPECT_EQ(nlohmann::ordered_json::parse(ev[1])["camera"].dump(),
            R"({"device":"cam-in","model":"hikvision-isapi"})");
  auto db = store_->open_reader();
  auto st = db.prepare(
      "SELECT camera, plate_colour, confidence, channel, snapshot FROM access_events ORDER BY id");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), "cam-in");
  EXPECT_EQ(st.text(1), "blue");
  EXPECT_EQ(st.int64(2), 93);
  EXPECT_EQ(st.int64(3), 0);
  EXPECT_EQ(st.text(4), "snapshots/20260301/cam-in-1772323200-0.jpg");
  ASSERT_TRUE(st.step());
  EXPECT_TRUE(st.is_null(2));
  EXPECT_TRUE(st.is_null(3));
  EXPECT_EQ(st.text(4), "");
  // A card decision has no camera member.
  svc.decide(card("04A1B2C3"));
  EXPECT_FALSE(nlohmann::json::parse(outbox_events().back()).contains("camera"));
}

TEST_F(AccessServiceTest, EveryDecisionIsAnEventWithAMaskedCard) {
  AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
  ASSERT_TRUE(svc.apply_list_json(cards(1, {"04A1B2C3"})).ok);
  EXPECT_EQ(svc.decide(card("04A1B2C3")).verdict, Verdict::open);
  EXPECT_EQ(svc.decide(card("99999999")).verdict, Verdict::deny);
  auto ev = outbox_events();
  ASSERT_EQ(ev.size(), 3u);  // list applied + two decisions
  auto a = nlohmann::json::parse(ev[1]);
  EXPECT_EQ(a["kind"], "gate.access");
  EXPECT_EQ(a["credential"], "****B2C3");
  EXPECT_EQ(a["verdict"], "open");
  EXPECT_EQ(a["reason"], "resident of room 1-101");
  EXPECT_EQ(a["ts"], "2026-03-01T08:00:00+08:00");
  for (const auto& e : ev) EXPECT_EQ(e.find("04A1B2C3"), std::string::npos) << e;
  auto b = nlohmann::json::parse(ev[2]);
  EXPECT_EQ(b["verdict"], "deny");
  EXPECT_EQ(b["reason"], "unknown card");
}

TEST_F(AccessServiceTest, ACardListedAtAnotherWidthIsTheSameCard) {
  AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
  ASSERT_TRUE(svc.apply_list_json(cards(1, {"00AB", "4A1B2C3", "00000000000000000CD"})).ok);
  EXPECT_EQ(svc.decide(card("AB")).verdict, Verdict::open);
  EXPECT_EQ(svc.decide(card("04A1B2C3")).verdict, Verdict::open);
  EXPECT_EQ(svc.decide(card("CD")).verdict, Verdict::deny);  // longer than 16 digits: as given
}

TEST_F(AccessServiceTest, OlderOrEqualVersionIsRefusedAndChangesNothing) {
  AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
  ASSERT_TRUE(svc.apply_list_json(cards(5, {"AA"})).ok);
  auto r = svc.apply_list_json(cards(5, {"BB"}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "list cards version 5 is not newer than the applied version 5");
  EXPECT_FALSE(svc.apply_list_json(cards(4, {"BB"})).ok);
  EXPECT_EQ(svc.decide(card("AA")).verdict, Verdict::open);
  EXPECT_EQ(svc.decide(card("BB")).verdict, Verdict::deny);
  r = svc.apply_list_json({{"list", "cards"}, {"version", 9}, {"entries", {{{"card", "x!"}}}}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(svc.index()->cards->version(), 5);
  ASSERT_TRUE(svc.apply_list_json(cards(6, {"BB"})).ok);
  EXPECT_EQ(svc.decide(card("AA")).verdict, Verdict::deny);
  EXPECT_EQ(svc.decide(card("BB")).verdict, Verdict::open);
}

TEST_F(AccessServiceTest, SameDecisionAfterRestart) {
  AccessConfig cfg;
  cfg.anti_passback = true;
  {
    AccessService svc(*store_, "gw1", cfg, nullptr);
    ASSERT_TRUE(svc.apply_list_json(cards(1, {"0A0B0C0D"})).ok);
    ASSERT_TRUE(svc.apply_list_json(
                       {{"list", "visitor_passes"},
                        {"version", 1},
                        {"entries",
                         {{{"id", "VP"}, {"kind", "qr"}, {"value", "Q1"}, {"room", "1"},
                           {"valid_from", "2026-01-01T00:00:00Z"},
                           {"valid_to", "2027-01-01T00:00:00Z"}, {"max_uses", 1}}}}})
                    .ok);
    EXPECT_EQ(svc.decide(card("0A0B0C0D")).verdict, Verdict::open);
    AccessRequest qr{CredentialKind::qr, "Q1", "main", Lane::entry, 1772323200};
    EXPECT_EQ(svc.decide(qr).verdict, Verdict::open);
  }
  store_.reset();
  store_ = std::make_unique<store::Store>(dir_);
  AccessService again(*store_, "gw1", cfg, nullptr);
  EXPECT_EQ(again.index()->cards->version(), 1);
  auto d = again.decide(card("0A0B0C0D"));
  EXPECT_EQ(d.verdict, Verdict::deny);  // still inside: anti-passback survives the restart
  EXPECT_EQ(d.reason, "anti-passback: already inside (resident of room 1-101)");
  AccessRequest qr{CredentialKind::qr, "Q1", "main", Lane::exit, 1772323200};
  EXPECT_EQ(again.decide(qr).verdict, Verdict::open);
  qr.lane = Lane::entry;
  d = again.decide(qr);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "visitor pass VP used up (1 of 1)");
}

TEST_F(AccessServiceTest, WhoIsInsideIsStoredAsAKeyedHashUnderTheGatewaysOwnKey) {
  AccessConfig cfg;
  cfg.anti_passback = true;
  std::string hash;
  {
    AccessService svc(*store_, "gw1", cfg, nullptr);
    ASSERT_TRUE(svc.apply_list_json(cards(1, {"0A0B0C0D"})).ok);
    // Made at first start, readable by the daemon's user only.
    const auto key = dir_ / "privacy.key";
    ASSERT_TRUE(std::filesystem::exists(key));
    EXPECT_EQ(std::filesystem::file_size(key), 32u);
    EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    hash = svc.credential_hash(CredentialKind::card, "0A0B0C0D");
    EXPECT_EQ(hash.size(), 64u);
    EXPECT_EQ(svc.decide(card("0A0B0C0D")).verdict, Verdict::open);
    auto ev = nlohmann::json::parse(outbox_events().back());
    EXPECT_EQ(ev["credential_hash"], hash);
  }
  auto db = store_->open_reader();
  EXPECT_EQ(db.query_int("SELECT count(*) FROM access_presence WHERE value = '" + hash + "'"), 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM access_presence WHERE value LIKE '%0A0B0C0D%'"), 0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM access_events WHERE credential_hash = '" + hash +
                         "' AND credential = '****0C0D'"),
            1);
  // A presence row of an older store (the card itself) is rewritten to its hash at start and
  // still counts as inside; the key is the same one, so hashes match across restarts.
  store_->write_sync([](store::Database& w) {
    w.exec("INSERT INTO access_presence(kind, value, inside, ts) "
           "VALUES('card', '0E0E0E0E', 1, '2026-03-01T08:00:00+08:00')");
  });
  AccessService again(*store_, "gw1", cfg, nullptr);
  EXPECT_EQ(again.credential_hash(CredentialKind::card, "0A0B0C0D"), hash);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM access_presence WHERE value = '0E0E0E0E'"), 0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM access_presence WHERE value = '" +
                         again.credential_hash(CredentialKind::card, "0E0E0E0E") + "'"),
            1);
  ASSERT_TRUE(again.apply_list_json(cards(2, {"0A0B0C0D", "0E0E0E0E"})).ok);
  EXPECT_EQ(again.decide(card("0E0E0E0E")).reason,
            "anti-passback: already inside (resident of room 1-101)");
  EXPECT_EQ(again.decide(card("0A0B0C0D")).verdict, Verdict::deny);
}

TEST_F(AccessServiceTest, AConfiguredPrivacyKeyIsUsedAndAMissingOneRefused) {
  AccessConfig cfg;
  cfg.privacy_key_file = dir_ / "site.key";
  EXPECT_THROW(AccessService(*store_, "gw1", cfg, nullptr), privacy::KeyFileError);
  auto k1 = privacy::load_or_create_key_file(cfg.privacy_key_file);
  AccessService svc(*store_, "gw1", cfg, nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "privacy.key"));
  EXPECT_EQ(svc.credential_hash(CredentialKind::plate, "粤B12345"),
            privacy::plate_hash(k1, "粤B12345"));
}

TEST_F(AccessServiceTest, ListsHashedUnderAnotherKeyAreReportedOnce) {
  {
    AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
    ASSERT_TRUE(svc.apply_list_json(cards(1, {"A4A1B2C3"})).ok);
    EXPECT_EQ(svc.decide(card("A4A1B2C3")).verdict, Verdict::open);
  }
  auto changed = [this] {
    return store_->open_reader().query_int(
        "SELECT count(*) FROM events WHERE kind = 'privacy.key_changed'");
  };
  { AccessService same(*store_, "gw1", AccessConfig{}, nullptr); }
  EXPECT_EQ(changed(), 0);
  // Another key (a store restored without its privacy.key): the list matches nothing.
  AccessConfig other;
  other.privacy_key_file = dir_ / "other.key";
  privacy::load_or_create_key_file(other.privacy_key_file);
  {
    AccessService svc(*store_, "gw1", other, nullptr);
    EXPECT_EQ(svc.decide(card("A4A1B2C3")).verdict, Verdict::deny);
  }
  EXPECT_EQ(changed(), 1);
  auto db = store_->open_reader();
  auto st = db.prepare("SELECT detail FROM events WHERE kind = 'privacy.key_changed'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(nlohmann::json::parse(st.text(0))["entries"], 1);
  { AccessService again(*store_, "gw1", other, nullptr); }
  EXPECT_EQ(changed(), 1);  // once per change
}

TEST_F(AccessServiceTest, AListChangeAndItsAuditEntryCommitTogetherOrNotAtAll) {
  AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
  auto entry = [](std::int64_t version) {
    audit::Entry e;
    e.kind = "list.change";
    e.actor = "token:admin-1";
    e.subject = "list:cards";
    e.detail_json = nlohmann::json{{"version", version}}.dump();
    return e;
  };
  auto audited = [this] {
    store_->write_sync([](store::Database&) {});
    return store_->open_reader().query_int("SELECT count(*) FROM audit_log WHERE kind = 'list.change'");
  };
  ASSERT_TRUE(svc.apply_list_json(cards(1, {"AA"}), entry(1)).ok);
  EXPECT_EQ(audited(), 1);
  // Refused (not newer): no entry.
  EXPECT_FALSE(svc.apply_list_json(cards(1, {"BB"}), entry(1)).ok);
  EXPECT_EQ(audited(), 1);
  // The store refuses the list's write: neither the list nor its entry is kept.
  store_->write_sync([](store::Database& db) {
    db.exec("CREATE TRIGGER fail_list BEFORE INSERT ON access_entries "
            "BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
  });
  auto r = svc.apply_list_json(cards(2, {"BB"}), entry(2));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("disk says no"), std::string::npos) << r.error;
  EXPECT_EQ(audited(), 1);
  EXPECT_EQ(svc.index()->cards->version(), 1);
  // The audit append fails (a forged head): the list is not changed either.
  store_->write_sync([](store::Database& db) {
    db.exec("DROP TRIGGER fail_list");
    db.exec("CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
  });
  r = svc.apply_list_json(cards(2, {"BB"}), entry(2));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(svc.index()->cards->version(), 1);
  EXPECT_EQ(store_->open_reader().query_int(
                "SELECT version FROM access_lists WHERE list = 'cards'"),
            1);
  EXPECT_EQ(svc.decide(card("BB")).verdict, Verdict::deny);
}

TEST_F(AccessServiceTest, ListsSwapWhileAnotherThreadDecides) {
  AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
  // Version n holds cards 0..n-1 of one room per version, so a decision that sees card k
  // open must see every card below k open too: never half a list.
  std::vector<std::string> numbers, hashes;
  for (int i = 0; i < 200; ++i) {
    numbers.push_back(std::to_string(1000 + i));
    hashes.push_back(svc.credential_hash(CredentialKind::card, numbers.back()));  // the index key
  }
  ASSERT_TRUE(svc.apply_list_json(cards(1, {numbers[0]})).ok);
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto idx = svc.index();
      const auto n = idx->cards->size();
      Holder h;
      for (std::size_t i = 0; i < n; ++i) {
        if (!idx->cards->find_holder(CredentialKind::card, hashes[i], h)) ++torn;
      }
      if (idx->cards->version() != static_cast<std::int64_t>(n)) ++torn;
    }
  });
  for (int v = 2; v <= 40; ++v) {
    std::vector<std::string> some(numbers.begin(), numbers.begin() + v);
    ASSERT_TRUE(svc.apply_list_json(cards(v, some)).ok);
  }
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(svc.index()->cards->size(), 40u);
}

TEST(CredentialHasher, GivesThePrivacyHashesOfEachKind) {
  privacy::Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(3 * i + 1);
  CredentialHasher h(key);
  EXPECT_EQ(h.hash(CredentialKind::card, "a4:a1:b2:c3"), privacy::card_uid_hash(key, "A4A1B2C3"));
  // Up to 16 hex digits a UID is a number: leading zeros do not count; longer ones keep them.
  EXPECT_EQ(h.hash(CredentialKind::card, "04A1B2C3"), privacy::card_uid_hash(key, "4A1B2C3"));
  EXPECT_EQ(h.hash(CredentialKind::card, "0000AB"), h.hash(CredentialKind::card, "AB"));
  EXPECT_EQ(h.hash(CredentialKind::card, "000"), privacy::card_uid_hash(key, "0"));
  EXPECT_NE(h.hash(CredentialKind::card, "00000000000000000AB"),
            h.hash(CredentialKind::card, "AB"));
  EXPECT_EQ(h.hash(CredentialKind::plate, "粤b·12345"), privacy::plate_hash(key, "粤B12345"));
  EXPECT_EQ(h.hash(CredentialKind::qr, "QR-778"), privacy::keyed_hash(key, "qr", "QR-778"));
  EXPECT_NE(h.hash(CredentialKind::qr, "04A1B2C3"), h.hash(CredentialKind::card, "04A1B2C3"));
  // From many threads at once (decisions on every gate strand).
  const std::string expected = privacy::plate_hash(key, "粤B12345");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (h.hash(CredentialKind::plate, "粤B12345") != expected) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Every list of the local path (apply_list_json: the local list document and cmd/blocklist,
// cmd/monthly-passes) with each kind of credential it holds.
std::vector<nlohmann::json> all_lists(std::int64_t version) {
  const nlohmann::json window = {{"valid_from", "2026-01-01T00:00:00+08:00"},
                                 {"valid_to", "2027-01-01T00:00:00+08:00"}};
  auto with_window = [&](nlohmann::json e) {
    e.update(window);
    return e;
  };
  return {
      {{"list", "cards"}, {"version", version},
       {"entries", {{{"card", "04:a1:b2:c3"}, {"room", "1-101"}}}}},
      {{"list", "plates"}, {"version", version},
       {"entries", {{{"plate", "粤B·12345"}, {"room", "1-102"}, {"vehicle_class", "small"}}}}},
      {{"list", "monthly_passes"}, {"version", version},
       {"entries", {with_window({{"kind", "card"}, {"value", "0C0D0E0F"}, {"room", "2-201"}}),
                    with_window({{"kind", "plate"}, {"value", "苏E54321"}, {"room", "2-202"}})}}},
      {{"list", "visitor_passes"}, {"version", version},
       {"entries", {with_window({{"id", "VP1"}, {"kind", "plate"}, {"value", "粤C67890"},
                                 {"room", "3-301"}}),
                    with_window({{"id", "VP2"}, {"kind", "qr"}, {"value", "QR-SECRET-778"},
                                 {"room", "3-302"}})}}},
      {{"list", "blocklist"}, {"version", version},
       {"entries", {{{"kind", "card"}, {"value", "0B0B0B0B"}, {"reason", "lost"}},
                    {{"kind", "plate"}, {"value", "京A11111"}, {"reason", "stolen"}},
                    {{"kind", "qr"}, {"value", "QR-BAD-999"}}}}},
  };
}

// The clear credentials of all_lists(), as given and as normalised.
const std::vector<std::string> clear_values = {
    "04:a1:b2:c3", "04A1B2C3", "粤B12345",  "粤B·12345", "0C0D0E0F",  "苏E54321",
    "粤C67890",    "QR-SECRET-778", "0B0B0B0B", "京A11111", "QR-BAD-999"};

// One request per credential of all_lists() (exit lane: no anti-passback, no use counted).
std::vector<AccessRequest> requests_of_all_lists() {
  std::vector<AccessRequest> out;
  auto add = [&](CredentialKind k, const char* v) {
    out.push_back(AccessRequest{k, v, "main", Lane::entry, 1772323200});
  };
  add(CredentialKind::card, "04A1B2C3");
  add(CredentialKind::plate, "粤B12345");
  add(CredentialKind::card, "0C0D0E0F");
  add(CredentialKind::plate, "苏E54321");
  add(CredentialKind::plate, "粤C67890");
  add(CredentialKind::qr, "QR-SECRET-778");
  add(CredentialKind::card, "0B0B0B0B");
  add(CredentialKind::plate, "京A11111");
  add(CredentialKind::qr, "QR-BAD-999");
  add(CredentialKind::card, "0A0A0A0A");  // on no list
  return out;
}

std::string summary(const Decision& d) {
  return std::string(to_string(d.verdict)) + "|" + std::string(to_string(d.holder)) + "|" +
         d.room + "|" + d.vehicle_class + "|" + d.pass_id + "|" + d.reason;
}

TEST_F(AccessServiceTest, ListsAreStoredAndIndexedAsKeyedHashesAndDecideTheSameAfterRestart) {
  std::vector<std::string> before;
  {
    AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
    for (const auto& doc : all_lists(1)) {
      auto r = svc.apply_list_json(doc);
      ASSERT_TRUE(r.ok) << r.error;
    }
    for (const auto& req : requests_of_all_lists()) before.push_back(summary(svc.decide(req)));
    // What each list holds of the credentials: the hash, and the masked form or the pass id.
    store_->write_sync([](store::Database&) {});
    auto db = store_->open_reader();
    EXPECT_EQ(estate::testing::occurrences(db, clear_values), std::vector<std::string>{});
    auto shown = [&](const std::string& list, const std::string& hash) {
      auto st = db.prepare("SELECT shown FROM access_entries WHERE list = ?1 AND value = ?2");
      st.bind(1, list).bind(2, hash);
      return st.step() ? st.text(0) : std::string("(none)");
    };
    EXPECT_EQ(shown("cards", svc.credential_hash(CredentialKind::card, "04A1B2C3")), "****B2C3");
    EXPECT_EQ(shown("plates", svc.credential_hash(CredentialKind::plate, "粤B12345")), "粤B***45");
    EXPECT_EQ(shown("visitor_passes", svc.credential_hash(CredentialKind::qr, "QR-SECRET-778")),
              "VP2");
    EXPECT_EQ(shown("blocklist", svc.credential_hash(CredentialKind::qr, "QR-BAD-999")),
              "****-999");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM access_entries WHERE length(value) != 64 OR "
                           "shown IS NULL"),
              0);
    // The index: cards and plates packed by hash, found by the hash only.
    auto idx = svc.index();
    EXPECT_EQ(idx->cards->packed(), 1u);
    EXPECT_EQ(idx->plates->packed(), 1u);
    Holder h;
    EXPECT_FALSE(idx->cards->find_holder(CredentialKind::card, "04A1B2C3", h));
    ASSERT_TRUE(idx->plates->find_holder(
        CredentialKind::plate, svc.credential_hash(CredentialKind::plate, "粤B12345"), h));
    EXPECT_EQ(h.room, "1-102");
    EXPECT_EQ(h.vehicle_class, "small");
  }
  EXPECT_EQ(before[0], "open|resident|1-101|||resident of room 1-101");
  EXPECT_EQ(before[1], "open|resident|1-102|small||resident of room 1-102");
  EXPECT_EQ(before[2].rfind("open|monthly|2-201|", 0), 0u) << before[2];
  EXPECT_EQ(before[3].rfind("open|monthly|2-202|", 0), 0u) << before[3];
  EXPECT_EQ(before[4], "charge_as_visitor|visitor_pass|3-301||VP1|visitor pass VP1 (host room 3-301)");
  EXPECT_EQ(before[5], "open|visitor_pass|3-302||VP2|visitor pass VP2 (host room 3-302)");
  EXPECT_EQ(before[6], "deny|unknown||||blocklisted: lost");
  EXPECT_EQ(before[7], "deny|unknown||||blocklisted: stolen");
  EXPECT_EQ(before[8], "deny|unknown||||blocklisted");
  EXPECT_EQ(before[9], "deny|unknown||||unknown card");
  store_.reset();
  store_ = std::make_unique<store::Store>(dir_);
  AccessService again(*store_, "gw1", AccessConfig{}, nullptr);
  std::vector<std::string> after;
  for (const auto& req : requests_of_all_lists()) after.push_back(summary(again.decide(req)));
  EXPECT_EQ(after, before);
}

TEST_F(AccessServiceTest, AnOlderStoresClearListsAreRewrittenAsHashesOnceAtStart) {
  // A store of schema access version 2: access_entries without `shown`, values in clear.
  store_->write_sync([](store::Database& db) {
    db.exec("ALTER TABLE access_entries DROP COLUMN shown");
    for (const char* c : {"camera", "plate_colour", "confidence", "channel", "snapshot"}) {
      db.exec(std::string("ALTER TABLE access_events DROP COLUMN ") + c);
    }
    db.exec("UPDATE schema_versions SET version = 2 WHERE area = 'access'");
    db.exec(
        "INSERT INTO access_lists(list, version, applied_at, entries) VALUES "
        "('cards', 3, 't', 1), ('plates', 3, 't', 1), ('monthly_passes', 3, 't', 2), "
        "('visitor_passes', 3, 't', 2), ('blocklist', 3, 't', 3)");
    db.exec(
        "INSERT INTO access_entries(list, kind, value, room, vehicle_class, pass_id, valid_from, "
        "valid_to, max_uses, note) VALUES "
        "('cards', 'card', '04A1B2C3', '1-101', '', '', NULL, NULL, 0, ''),"
        "('plates', 'plate', '粤B12345', '1-102', 'small', '', NULL, NULL, 0, ''),"
        "('monthly_passes', 'card', '0C0D0E0F', '2-201', '', '', 1767196800, 1798732800, 0, ''),"
        "('monthly_passes', 'plate', '苏E54321', '2-202', '', '', 1767196800, 1798732800, 0, ''),"
        "('visitor_passes', 'plate', '粤C67890', '3-301', '', 'VP1', 1767196800, 1798732800, 0, ''),"
        "('visitor_passes', 'qr', 'QR-SECRET-778', '3-302', '', 'VP2', 1767196800, 1798732800, 0, ''),"
        "('blocklist', 'card', '0B0B0B0B', '', '', '', NULL, NULL, 0, 'lost'),"
        "('blocklist', 'plate', '京A11111', '', '', '', NULL, NULL, 0, 'stolen'),"
        "('blocklist', 'qr', 'QR-BAD-999', '', '', '', NULL, NULL, 0, '')");
  });
  store_.reset();
  store_ = std::make_unique<store::Store>(dir_);  // runs the access migration 3
  {
    auto db = store_->open_reader();
    EXPECT_EQ(db.query_int("SELECT version FROM schema_versions WHERE area = 'access'"), 4);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM access_entries WHERE shown IS NULL"), 9);
  }
  std::vector<std::string> decided;
  {
    AccessService svc(*store_, "gw1", AccessConfig{}, nullptr);
    for (const auto& req : requests_of_all_lists()) decided.push_back(summary(svc.decide(req)));
    auto db = store_->open_reader();
    EXPECT_EQ(estate::testing::occurrences(db, clear_values), std::vector<std::string>{});
    EXPECT_EQ(db.query_int("SELECT count(*) FROM access_entries WHERE shown IS NULL"), 0);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM access_entries WHERE value = '" +
                           svc.credential_hash(CredentialKind::plate, "粤B12345") +
                           "' AND shown = '粤B***45'"),
              1);
  }
  // The same decisions as lists applied today (version 1 here, no matter).
  std::filesystem::remove_all(dir_ / "fresh");
  {
    store::Store fresh(dir_ / "fresh");
    std::filesystem::copy_file(dir_ / "privacy.key", dir_ / "fresh" / "privacy.key");
    AccessService svc(fresh, "gw1", AccessConfig{}, nullptr);
    for (const auto& doc : all_lists(1)) ASSERT_TRUE(svc.apply_list_json(doc).ok);
    std::vector<std::string> expected;
    for (const auto& req : requests_of_all_lists()) expected.push_back(summary(svc.decide(req)));
    EXPECT_EQ(decided, expected);
  }
  // Nothing left to rewrite at the next start; the decisions stay.
  store_.reset();
  store_ = std::make_unique<store::Store>(dir_);
  AccessService again(*store_, "gw1", AccessConfig{}, nullptr);
  std::vector<std::string> after;
  for (const auto& req : requests_of_all_lists()) after.push_back(summary(again.decide(req)));
  EXPECT_EQ(after, decided);
}

}  // namespace
}  // namespace estate::access
