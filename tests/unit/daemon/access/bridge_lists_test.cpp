// The cloud bridge's access lists (cmd/cards, cmd/plates, cmd/visitor-passes, cmd/blocklist,
// cmd/monthly-passes, the last two also in their deprecated old shape) through the
// bridge's own list path (daemon/bridge/commands.hpp) into a live AccessService on a real store:
// item checks, the index swapped only after the commit, refused versions changing nothing, the
// lists surviving a restart, lists taken over from the bridge's store at start, a late publish
// never rolling a list back, and the unknown_plates policy.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "daemon/access/bridge_lists.hpp"
#include "daemon/access/service.hpp"
#include "tests/unit/daemon/access/store_scan.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::access {
namespace {

using nlohmann::json;

class BridgeListsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = estate::testing::fresh_test_dir("estate-bridge-lists");
    store_ = std::make_unique<store::Store>(dir_);
    service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // One list message through the bridge's checks and writer job; the committed action runs
  // after write_sync returned, as the bridge runs it after the commit.
  cloud_bridge::CommandAck send(const bridge::ListSpec& spec, json body, bool publish = true) {
    bridge::Command cmd{spec.name, body.at("id").get<std::string>(), body};
    cloud_bridge::CommandAck ack;
    if (auto e = bridge::prepare_list_message(spec, cmd.body); !e.empty()) {
      ack.ok = false;
      ack.error = e;
      return ack;
    }
    bridge::ListSpec::Committed committed;
    store_->write_sync([&](store::Database& db) {
      ack = bridge::apply_list_message(db, spec, cmd, "2026-03-01T08:00:00+08:00", &committed);
    });
    if (committed && publish) committed();
    return ack;
  }
  bridge::ListSpec spec(const std::string& command) {
    return bridge_list_spec(command, service_, "gw", 480);
  }
  Decision decide(CredentialKind kind, const std::string& value,
                  std::int64_t t = 1772323200 /* 2026-03-01T00:00:00Z */) {
    return service_->decide(AccessRequest{kind, value, "main", Lane::entry, t});
  }
  std::int64_t q(const std::string& sql) {
    auto db = store_->open_reader();
    return db.query_int(sql, -1);
  }
  std::vector<std::string> in_clear(const std::vector<std::string>& values) {
    auto db = store_->open_reader();
    return estate::testing::occurrences(db, values);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<AccessService> service_;
};

TEST(BridgeItems, ChecksEachListsFieldsWithoutEchoingTheKey) {
  EXPECT_EQ(check_bridge_item(ListName::cards, {{"key", "04:a1:b2:c3"}, {"unit", "3-201"}}), "");
  EXPECT_EQ(check_bridge_item(ListName::cards, {{"key", "04A1B2C3"}}), "unit: required");
  EXPECT_EQ(check_bridge_item(ListName::cards, {{"key", "04A1B2C3"}, {"unit", 7}}),
            "unit: expected a string of 1 to 128 bytes");
  EXPECT_EQ(check_bridge_item(ListName::cards, {{"key", "SECRETXYZ"}, {"unit", "1"}}),
            "key: a card number is 1 to 20 hex digits");
  EXPECT_EQ(check_bridge_item(ListName::cards, {{"key", "04"}, {"unit", "1"}, {"room", "1"}}),
            "unknown field 'room'");
  EXPECT_EQ(check_bridge_item(ListName::plates, {{"key", "粤B12345"}, {"unit", "1"},
                                                 {"vehicle_class", "small"}}),
            "");
  EXPECT_EQ(check_bridge_item(ListName::plates, {{"key", " - "}, {"unit", "1"}}),
            "key: empty plate");
  json pass = {{"key", "vp-1"}, {"kind", "plate"}, {"value", "粤B99999"}, {"unit", "3-201"},
               {"valid_from", "2026-03-01T08:00:00+08:00"},
               {"valid_to", "2026-03-01T20:00:00+08:00"}, {"max_uses", 2}};
  EXPECT_EQ(check_bridge_item(ListName::visitor_passes, pass), "");
  auto bad = pass;
  bad["kind"] = "card";
  EXPECT_EQ(check_bridge_item(ListName::visitor_passes, bad), "kind: expected plate or qr");
  bad = pass;
  bad["valid_to"] = "2026-03-01T07:00:00+08:00";
  EXPECT_EQ(check_bridge_item(ListName::visitor_passes, bad), "valid_to: must be after valid_from");
  bad = pass;
  bad["valid_from"] = "yesterday";
  EXPECT_EQ(check_bridge_item(ListName::visitor_passes, bad).rfind("valid_from: ", 0), 0u);
  bad = pass;
  bad["max_uses"] = -1;
  EXPECT_EQ(check_bridge_item(ListName::visitor_passes, bad),
            "max_uses: expected an integer from 0 (unlimited) to 1000000");
  EXPECT_EQ(list_of_command("visitor-passes"), ListName::visitor_passes);
  EXPECT_FALSE(list_of_command("arrears"));
}

TEST_F(BridgeListsTest, AppliedCardsDecideOnlyAfterTheCommitAndReplaceTheOldVersion) {
  auto cards = spec("cards");
  auto ack = send(cards, {{"v", 1}, {"id", "c1"}, {"version", 1},
                          {"items", {{{"key", "04a1b2c3"}, {"unit", "3-201"}}}}},
                  /*publish=*/false);
  ASSERT_TRUE(ack.ok) << ack.error;
  // Durable, but not yet swapped in: the index only changes in the committed action.
  EXPECT_EQ(q("SELECT version FROM access_lists WHERE list = 'cards'"), 1);
  EXPECT_EQ(service_->index()->cards->version(), 0);
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").verdict, Verdict::deny);

  ack = send(cards, {{"v", 1}, {"id", "c2"}, {"version", 2},
                     {"items", {{{"key", "04A1B2C3"}, {"unit", "3-201"}},
                                {{"key", "04-D5-E6-F7"}, {"unit", "3-202"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(service_->index()->cards->version(), 2);
  auto d = decide(CredentialKind::card, "04D5E6F7");
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.holder, HolderType::resident);
  EXPECT_EQ(d.room, "3-202");

  ack = send(cards, {{"v", 1}, {"id", "c3"}, {"version", 3},
                     {"items", {{{"key", "04D5E6F7"}, {"unit", "3-202"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").verdict, Verdict::deny);
  EXPECT_EQ(q("SELECT count(*) FROM access_entries WHERE list = 'cards'"), 1);
  EXPECT_EQ(q("SELECT count(*) FROM outbox WHERE payload LIKE '%access_list_applied%'"), 3);
  EXPECT_EQ(q("SELECT count(*) FROM audit_log WHERE kind = 'list.change'"), 3);
}

TEST_F(BridgeListsTest, RefusedListsChangeNothing) {
  auto plates = spec("plates");
  ASSERT_TRUE(send(plates, {{"v", 1}, {"id", "p5"}, {"version", 5},
                            {"items", {{{"key", "粤B12345"}, {"unit", "1-101"}}}}})
                  .ok);
  // A bad item: refused before anything is written.
  auto ack = send(plates, {{"v", 1}, {"id", "p6"}, {"version", 6},
                           {"items", {{{"key", "粤B00001"}, {"unit", "1-102"}},
                                      {{"key", "粤B00002"}, {"unit", json::array({"x"})}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "items[1]: unit: expected a string of 1 to 128 bytes");
  // Not newer than the applied version.
  ack = send(plates, {{"v", 1}, {"id", "p4"}, {"version", 4}, {"items", json::array()}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "version 4 is not newer than the applied version 5");
  // The access tables hold a newer version than the bridge (applied by another path): the
  // bridge's own rows roll back with the refusal.
  store_->write_sync([this](store::Database& db) {
    ListUpdate u;
    u.list = ListName::plates;
    u.version = 9;
    ListEntry e;
    e.kind = CredentialKind::plate;
    e.value = "粤B12345";
    e.room = "1-101";
    u.entries.push_back(e);
    EXPECT_THROW(write_list(db, u, "t"), std::invalid_argument);  // never in clear
    service_->hasher()->protect(u);
    write_list(db, u, "t");
  });
  ack = send(plates, {{"v", 1}, {"id", "p7"}, {"version", 7}, {"items", json::array()}});
  EXPECT_FALSE(ack.ok);
  EXPECT_NE(ack.error.find("not newer than the applied version 9"), std::string::npos) << ack.error;
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name = 'plates'"), 5);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE name = 'plates'"), 1);
  EXPECT_EQ(service_->index()->plates->version(), 5);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B12345").verdict, Verdict::open);
}

TEST_F(BridgeListsTest, ListsSurviveARestartAndVisitorPassesApply) {
  ASSERT_TRUE(send(spec("plates"), {{"v", 1}, {"id", "p1"}, {"version", 1},
                                    {"items", {{{"key", "粤B-12345"}, {"unit", "1-101"},
                                                {"vehicle_class", "small"}}}}})
                  .ok);
  ASSERT_TRUE(send(spec("visitor-passes"),
                   {{"v", 1}, {"id", "vp1"}, {"version", 1},
                    {"items", {{{"key", "vp-1"}, {"kind", "qr"}, {"value", "QR-778"},
                                {"unit", "3-201"}, {"valid_from", "2026-03-01T06:00:00+08:00"},
                                {"valid_to", "2026-03-01T20:00:00+08:00"}, {"max_uses", 1}}}}})
                  .ok);
  service_.reset();
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(service_->index()->plates->version(), 1);
  auto d = decide(CredentialKind::plate, "粤B12345");
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.vehicle_class, "small");
  d = decide(CredentialKind::qr, "QR-778");
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.pass_id, "vp-1");
  EXPECT_EQ(decide(CredentialKind::qr, "QR-778").verdict, Verdict::deny);  // used up (1 of 1)
}

TEST_F(BridgeListsTest, ListsStoredWithoutAGateAreTakenOverAtStart) {
  bridge::ListSpec plain;  // the bridge's default: stored, no domain
  plain.name = "cards";
  ASSERT_TRUE(send(plain, {{"v", 1}, {"id", "c4"}, {"version", 4},
                           {"items", {{{"key", "0A0B"}, {"unit", "2-1"}}}}})
                  .ok);
  bridge::ListSpec bad;
  bad.name = "plates";
  ASSERT_TRUE(send(bad, {{"v", 1}, {"id", "p1"}, {"version", 1}, {"items", {{{"key", "X1"}}}}})
                  .ok);  // no unit: not usable by the gates
  int copied = -1;
  const auto hasher = service_->hasher();
  store_->write_sync([&](store::Database& db) { copied = sync_from_bridge(db, "t", *hasher); });
  EXPECT_EQ(copied, 1);
  // The bridge's clear item was hashed on the way; the unusable one is left as it was.
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE item LIKE '%0A0B%'"), 0);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE key = '" +
              hasher->hash(CredentialKind::card, "0A0B") + "' AND item LIKE '%\"shown\":\"****\"%'"),
            1);
  store_->write_sync([&](store::Database& db) { copied = sync_from_bridge(db, "t", *hasher); });
  EXPECT_EQ(copied, 0);  // already current
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(service_->index()->cards->version(), 4);
  EXPECT_EQ(decide(CredentialKind::card, "0A0B").room, "2-1");
  EXPECT_EQ(service_->index()->plates->version(), 0);
}

TEST_F(BridgeListsTest, ListsStoredWithoutAGateAreHashedAlreadyAndTakenOverAtStart) {
  const auto hasher = service_->hasher();
  service_.reset();
  // The bridge of a site without gates: envelope checks only, items stored hashed.
  auto cards = bridge_store_spec("cards", hasher);
  auto plates = bridge_store_spec("plates", hasher);
  auto passes = bridge_store_spec("visitor-passes", hasher);
  ASSERT_TRUE(send(cards, {{"v", 1}, {"id", "c4"}, {"version", 4}, {"chunk", 0}, {"chunks", 2},
                           {"items", {{{"key", "0A:0B:0C:0D"}, {"unit", "2-1"}}}}})
                  .ok);
  EXPECT_EQ(in_clear({"0A0B0C0D", "0A:0B:0C:0D"}), std::vector<std::string>{});
  ASSERT_TRUE(send(cards, {{"v", 1}, {"id", "c4b"}, {"version", 4}, {"chunk", 1}, {"chunks", 2},
                           {"items", {{{"key", "0E0F0A0B"}, {"unit", "2-2"}}}}})
                  .ok);
  // No unit: the gates could not use it; stored without its plate all the same.
  ASSERT_TRUE(send(plates, {{"v", 1}, {"id", "p1"}, {"version", 1},
                            {"items", {{{"key", "粤B55555"}}}}})
                  .ok);
  ASSERT_TRUE(send(passes, {{"v", 1}, {"id", "vp1"}, {"version", 1},
                            {"items", {{{"key", "vp-9"}, {"kind", "qr"}, {"value", "QR-NO-GATE"},
                                        {"valid_from", "2026-03-01T06:00:00+08:00"},
                                        {"valid_to", "2026-03-01T20:00:00+08:00"}}}}})
                  .ok);
  const std::vector<std::string> clear = {"0A0B0C0D", "0E0F0A0B", "粤B55555", "QR-NO-GATE"};
  EXPECT_EQ(in_clear(clear), std::vector<std::string>{});
  EXPECT_EQ(q("SELECT count(*) FROM access_lists"), 0);  // stored only
  // Gates configured: the service takes the usable lists over.
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(service_->index()->cards->version(), 4);
  EXPECT_EQ(service_->index()->plates->version(), 0);
  EXPECT_EQ(service_->index()->visitor_passes->version(), 1);
  EXPECT_EQ(decide(CredentialKind::card, "0A0B0C0D").room, "2-1");
  EXPECT_EQ(decide(CredentialKind::card, "0E0F0A0B").room, "2-2");
  EXPECT_EQ(decide(CredentialKind::qr, "QR-NO-GATE").pass_id, "vp-9");
  EXPECT_EQ(in_clear(clear), std::vector<std::string>{});
}

TEST_F(BridgeListsTest, ALatePublishNeverRollsBackAndSwapsAreWhole) {
  auto cards = spec("cards");
  std::vector<std::string> numbers, hashes;
  for (int i = 0; i < 300; ++i) {
    numbers.push_back(std::to_string(100000 + i));
    hashes.push_back(service_->credential_hash(CredentialKind::card, numbers.back()));
  }
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto idx = service_->index();
      Holder h;
      // Version v holds the first v*10 cards.
      const auto n = static_cast<std::size_t>(idx->cards->version() * 10);
      if (idx->cards->size() != n) ++torn;
      for (std::size_t i = 0; i < n && i < numbers.size(); ++i) {
        if (!idx->cards->find_holder(CredentialKind::card, hashes[i], h)) ++torn;
      }
    }
  });
  for (int v = 1; v <= 25; ++v) {
    json items = json::array();
    for (int i = 0; i < v * 10; ++i) items.push_back({{"key", numbers[i]}, {"unit", "9-9"}});
    ASSERT_TRUE(send(cards, {{"v", 1}, {"id", "s" + std::to_string(v)}, {"version", v},
                             {"items", items}})
                    .ok);
  }
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  ListUpdate old;
  old.list = ListName::cards;
  old.version = 3;
  EXPECT_FALSE(service_->install(std::make_shared<const ListBlock>(old)));
  EXPECT_EQ(service_->index()->cards->version(), 25);
}

TEST_F(BridgeListsTest, ReceivedListsAreStoredAsKeyedHashesChunkedToo) {
  const std::vector<std::string> clear = {"04A1B2C3", "04:a1:b2:c3", "0D0E0F0A", "粤B12345",
                                          "粤B-12345", "粤C67890", "QR-SECRET-778"};
  auto cards = spec("cards");
  auto ack = send(cards, {{"v", 1}, {"id", "c1"}, {"version", 1}, {"chunk", 0}, {"chunks", 2},
                          {"items", {{{"key", "04:a1:b2:c3"}, {"unit", "3-201"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["applied"], false);
  // A staged chunk holds the hashed form already.
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_chunks WHERE name = 'cards'"), 1);
  EXPECT_EQ(in_clear(clear), std::vector<std::string>{});
  ack = send(cards, {{"v", 1}, {"id", "c2"}, {"version", 1}, {"chunk", 1}, {"chunks", 2},
                     {"items", {{{"key", "0D0E0F0A"}, {"unit", "3-202"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["applied"], true);
  ASSERT_TRUE(send(spec("plates"), {{"v", 1}, {"id", "p1"}, {"version", 1},
                                    {"items", {{{"key", "粤B-12345"}, {"unit", "1-101"},
                                                {"vehicle_class", "small"}}}}})
                  .ok);
  ASSERT_TRUE(send(spec("visitor-passes"),
                   {{"v", 1}, {"id", "vp1"}, {"version", 1},
                    {"items", {{{"key", "vp-1"}, {"kind", "qr"}, {"value", "QR-SECRET-778"},
                                {"valid_from", "2026-03-01T06:00:00+08:00"},
                                {"valid_to", "2026-03-01T20:00:00+08:00"}},
                               {{"key", "vp-2"}, {"kind", "plate"}, {"value", "粤C67890"},
                                {"unit", "3-203"}, {"valid_from", "2026-03-01T06:00:00+08:00"},
                                {"valid_to", "2026-03-01T20:00:00+08:00"}}}}})
                  .ok);
  EXPECT_EQ(in_clear(clear), std::vector<std::string>{});
  // What the bridge keeps: the hash as the key (the pass id for passes) and a masked form.
  const std::string card = service_->credential_hash(CredentialKind::card, "04A1B2C3");
  auto item = [this](const std::string& name, const std::string& key) {
    auto db = store_->open_reader();
    auto st = db.prepare("SELECT item FROM bridge_list_items WHERE name = ?1 AND key = ?2");
    st.bind(1, name).bind(2, key);
    return st.step() ? json::parse(st.text(0)) : json();
  };
  EXPECT_EQ(item("cards", card), json({{"key", card}, {"shown", "****B2C3"}, {"unit", "3-201"}}));
  const std::string plate = service_->credential_hash(CredentialKind::plate, "粤B12345");
  EXPECT_EQ(item("plates", plate), json({{"key", plate}, {"shown", "粤B***45"}, {"unit", "1-101"},
                                         {"vehicle_class", "small"}}));
  auto pass = item("visitor-passes", "vp-1");
  EXPECT_EQ(pass["value"], service_->credential_hash(CredentialKind::qr, "QR-SECRET-778"));
  EXPECT_EQ(pass["shown"], "vp-1");
  EXPECT_EQ(item("visitor-passes", "vp-2")["shown"], "粤C***90");
  auto decisions = [this] {
    std::vector<std::string> out;
    for (auto [k, v] : {std::pair{CredentialKind::card, "04A1B2C3"},
                        std::pair{CredentialKind::card, "0D0E0F0A"},
                        std::pair{CredentialKind::plate, "粤B12345"},
                        std::pair{CredentialKind::qr, "QR-SECRET-778"},
                        std::pair{CredentialKind::plate, "粤C67890"}}) {
      auto d = service_->decide(AccessRequest{k, v, "main", Lane::exit, 1772323200});
      out.push_back(std::string(to_string(d.verdict)) + " " + d.room + " " + d.pass_id);
    }
    return out;
  };
  const std::vector<std::string> expected = {"open 3-201 ", "open 3-202 ", "open 1-101 ",
                                             "open  vp-1", "charge_as_visitor 3-203 vp-2"};
  EXPECT_EQ(decisions(), expected);
  // After a restart, from the stored (hashed) lists.
  service_.reset();
  store_.reset();
  store_ = std::make_unique<store::Store>(dir_);
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(decisions(), expected);
  EXPECT_EQ(in_clear(clear), std::vector<std::string>{});
}

TEST_F(BridgeListsTest, AnOlderStoresClearBridgeItemsAndChunksAreHashedAtStart) {
  service_.reset();
  // As an older gateway stored them: items and a staged chunk in clear.
  store_->write_sync([](store::Database& db) {
    db.exec("INSERT INTO bridge_lists(name, version, items, command_id, applied_at) VALUES "
            "('plates', 2, 1, 'p2', 't'), ('cards', 1, 1, 'c1', 't')");
    db.exec("INSERT INTO bridge_list_items(name, key, item) VALUES "
            "('plates', '粤B12345', '{\"key\":\"粤B12345\",\"unit\":\"1-101\"}'),"
            "('cards', '04A1B2C3', '{\"key\":\"04A1B2C3\",\"unit\":\"3-201\"}')");
    db.exec("INSERT INTO bridge_list_chunks(name, version, chunk, chunks, items) VALUES "
            "('cards', 2, 0, 2, '[{\"key\":\"0D0E0F0A\",\"unit\":\"3-202\"}]')");
  });
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(in_clear({"粤B12345", "04A1B2C3", "0D0E0F0A"}), std::vector<std::string>{});
  EXPECT_EQ(service_->index()->plates->version(), 2);  // taken over from the bridge
  EXPECT_EQ(service_->index()->cards->version(), 1);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B12345").room, "1-101");
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").room, "3-201");
  // The staged chunk, hashed, completes with the next one.
  auto ack = send(spec("cards"), {{"v", 1}, {"id", "c2b"}, {"version", 2}, {"chunk", 1},
                                  {"chunks", 2}, {"items", {{{"key", "04A1B2C3"}, {"unit", "3-201"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["applied"], true);
  EXPECT_EQ(decide(CredentialKind::card, "0D0E0F0A").room, "3-202");
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").room, "3-201");
  EXPECT_EQ(in_clear({"粤B12345", "04A1B2C3", "0D0E0F0A"}), std::vector<std::string>{});
}

TEST(BridgeItems, BlocklistAndMonthlyPassItemsAreCheckedLikeTheOtherLists) {
  json blocked = {{"key", "bl-1"}, {"kind", "plate"}, {"value", "粤B00001"}, {"reason", "stolen"}};
  EXPECT_EQ(check_bridge_item(ListName::blocklist, blocked), "");
  EXPECT_EQ(check_bridge_item(ListName::blocklist,
                              {{"key", "bl-2"}, {"kind", "qr"}, {"value", "vp-20261123-7"}}),
            "");
  auto bad = blocked;
  bad["kind"] = "boat";
  EXPECT_EQ(check_bridge_item(ListName::blocklist, bad), "kind: expected card or plate or qr");
  bad = blocked;
  bad["kind"] = "card";
  bad["value"] = "SECRETXYZ";
  EXPECT_EQ(check_bridge_item(ListName::blocklist, bad), "value: a card number is 1 to 20 hex digits");
  bad = blocked;
  bad["reason"] = "";
  EXPECT_EQ(check_bridge_item(ListName::blocklist, bad), "reason: expected a string of 1 to 128 bytes");
  bad = blocked;
  bad["room"] = "1";
  EXPECT_EQ(check_bridge_item(ListName::blocklist, bad), "unknown field 'room'");
  json pass = {{"key", "mp-1"}, {"kind", "plate"}, {"value", "粤B00002"}, {"unit", "3-1-402"},
               {"vehicle_class", "small"}, {"valid_from", "2026-01-01T00:00:00+08:00"},
               {"valid_to", "2027-01-01T00:00:00+08:00"}};
  EXPECT_EQ(check_bridge_item(ListName::monthly_passes, pass), "");
  bad = pass;
  bad["kind"] = "qr";
  EXPECT_EQ(check_bridge_item(ListName::monthly_passes, bad), "kind: expected card or plate");
  bad = pass;
  bad.erase("valid_to");
  EXPECT_EQ(check_bridge_item(ListName::monthly_passes, bad), "valid_to: required");
  bad = pass;
  bad["valid_to"] = "2025-01-01T00:00:00+08:00";
  EXPECT_EQ(check_bridge_item(ListName::monthly_passes, bad), "valid_to: must be after valid_from");
  bad = pass;
  bad["room"] = "3-1-402";
  EXPECT_EQ(check_bridge_item(ListName::monthly_passes, bad), "unknown field 'room'");
  EXPECT_EQ(list_of_command("blocklist"), ListName::blocklist);
  EXPECT_EQ(list_of_command("monthly-passes"), ListName::monthly_passes);
}

TEST(BridgeItems, TheOldShapeOfTheGatesListsBecomesTheEnvelope) {
  json body = {{"v", 1}, {"id", "mp-1"}, {"version", 3},
               {"entries", {{{"kind", "plate"}, {"value", "粤B00002"}, {"room", "3-1-402"},
                             {"vehicle_class", ""}, {"valid_from", "2026-01-01T00:00:00+08:00"},
                             {"valid_to", "2027-01-01T00:00:00+08:00"}}}}};
  ASSERT_TRUE(upgrade_legacy_list(ListName::monthly_passes, body));
  EXPECT_EQ(body, json({{"v", 1}, {"id", "mp-1"}, {"version", 3},
                        {"items", {{{"key", "entry-0000000"}, {"kind", "plate"},
                                    {"value", "粤B00002"}, {"unit", "3-1-402"},
                                    {"valid_from", "2026-01-01T00:00:00+08:00"},
                                    {"valid_to", "2027-01-01T00:00:00+08:00"}}}}}));
  // Already the envelope, both shapes at once, or another list: left as it is.
  json items = {{"v", 1}, {"id", "bl-1"}, {"version", 1}, {"items", json::array()}};
  EXPECT_FALSE(upgrade_legacy_list(ListName::blocklist, items));
  json both = {{"v", 1}, {"id", "bl-1"}, {"version", 1}, {"items", json::array()},
               {"entries", json::array()}};
  const json both_before = both;
  EXPECT_FALSE(upgrade_legacy_list(ListName::blocklist, both));
  EXPECT_EQ(both, both_before);
  json cards = {{"v", 1}, {"id", "c-1"}, {"version", 1}, {"entries", json::array()}};
  EXPECT_FALSE(upgrade_legacy_list(ListName::cards, cards));
  // Keys by position, padded so they sort in the entries' order.
  json many = {{"v", 1}, {"id", "bl-9"}, {"version", 9}, {"entries", json::array()}};
  for (int i = 0; i < 12; ++i) many["entries"].push_back({{"kind", "qr"}, {"value", "q" + std::to_string(i)}});
  ASSERT_TRUE(upgrade_legacy_list(ListName::blocklist, many));
  EXPECT_EQ(many["items"][11]["key"], "entry-0000011");
  EXPECT_LT(many["items"][2]["key"].get<std::string>(), many["items"][11]["key"].get<std::string>());
}

TEST_F(BridgeListsTest, ChunkedBlocklistAndMonthlyPassesApplyOnceCompleteAndDeduplicate) {
  const std::vector<std::string> clear = {"粤B00001", "粤B00002", "粤B00003", "04A1B2C3"};
  auto blocklist = spec("blocklist");
  auto monthly = spec("monthly-passes");
  ASSERT_TRUE(send(spec("plates"), {{"v", 1}, {"id", "p1"}, {"version", 1},
                                    {"items", {{{"key", "粤B00001"}, {"unit", "1-101"}}}}})
                  .ok);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00001").verdict, Verdict::open);
  json chunk0 = {{"v", 1}, {"id", "bl-1a"}, {"version", 4}, {"chunk", 0}, {"chunks", 2},
                 {"items", {{{"key", "bl-7"}, {"kind", "card"}, {"value", "04:a1:b2:c3"}}}}};
  auto ack = send(blocklist, chunk0);
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result, nlohmann::ordered_json({{"list", "blocklist"}, {"version", 4},
                                                {"applied", false}, {"staged", 1}, {"chunks", 2}}));
  // The same message delivered again (same command id): its stored answer, nothing staged twice.
  ack = send(blocklist, chunk0);
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["duplicate"], true);
  EXPECT_EQ(ack.result["staged"], 1);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_chunks WHERE name = 'blocklist'"), 1);
  // Half a version changes nothing at the gates.
  EXPECT_EQ(service_->index()->blocklist->version(), 0);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00001").verdict, Verdict::open);
  ack = send(blocklist, {{"v", 1}, {"id", "bl-1b"}, {"version", 4}, {"chunk", 1}, {"chunks", 2},
                         {"items", {{{"key", "bl-9"}, {"kind", "plate"}, {"value", "粤B-00001"},
                                     {"reason", "stolen"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result, nlohmann::ordered_json({{"list", "blocklist"}, {"version", 4},
                                                {"applied", true}, {"items", 2}, {"chunks", 2}}));
  EXPECT_EQ(service_->index()->blocklist->version(), 4);
  auto d = decide(CredentialKind::plate, "粤B00001");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_NE(d.reason.find("stolen"), std::string::npos) << d.reason;
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").verdict, Verdict::deny);
  EXPECT_EQ(q("SELECT count(*) FROM access_entries WHERE list = 'blocklist'"), 2);

  // An id repeated across the chunks of a version refuses the version; the previous one stays.
  ASSERT_TRUE(send(blocklist, {{"v", 1}, {"id", "bl-2a"}, {"version", 5}, {"chunk", 0},
                               {"chunks", 2},
                               {"items", {{{"key", "bl-9"}, {"kind", "plate"}, {"value", "粤B00003"}}}}})
                  .ok);
  ack = send(blocklist, {{"v", 1}, {"id", "bl-2b"}, {"version", 5}, {"chunk", 1}, {"chunks", 2},
                         {"items", {{{"key", "bl-9"}, {"kind", "qr"}, {"value", "QR-1"}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "chunk 1 items[0]: key already given by an earlier chunk or item");
  EXPECT_EQ(service_->index()->blocklist->version(), 4);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00003").verdict, Verdict::charge_as_visitor);
  // Within one message, too.
  ack = send(blocklist, {{"v", 1}, {"id", "bl-3"}, {"version", 6},
                         {"items", {{{"key", "bl-1"}, {"kind", "qr"}, {"value", "QR-1"}},
                                    {{"key", "bl-1"}, {"kind", "qr"}, {"value", "QR-2"}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "items[1]: duplicate key");

  // Monthly passes in two chunks: the plate passes free once the version is complete.
  ack = send(monthly, {{"v", 1}, {"id", "mp-a"}, {"version", 2}, {"chunk", 1}, {"chunks", 2},
                       {"items", {{{"key", "mp-2"}, {"kind", "plate"}, {"value", "粤B00003"},
                                   {"unit", "3-1-402"}, {"vehicle_class", "small"},
                                   {"valid_from", "2026-01-01T00:00:00+08:00"},
                                   {"valid_to", "2027-01-01T00:00:00+08:00"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["applied"], false);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00003").holder, HolderType::visitor);
  ack = send(monthly, {{"v", 1}, {"id", "mp-b"}, {"version", 2}, {"chunk", 0}, {"chunks", 2},
                       {"items", {{{"key", "mp-1"}, {"kind", "plate"}, {"value", "粤B00002"},
                                   {"valid_from", "2027-01-01T00:00:00+08:00"},
                                   {"valid_to", "2028-01-01T00:00:00+08:00"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result["applied"], true);
  EXPECT_EQ(ack.result["items"], 2);
  d = decide(CredentialKind::plate, "粤B00003");
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.holder, HolderType::monthly);
  EXPECT_EQ(d.room, "3-1-402");
  EXPECT_EQ(d.vehicle_class, "small");
  EXPECT_NE(decide(CredentialKind::plate, "粤B00002").holder, HolderType::monthly)
      << "a pass not valid yet";
  EXPECT_EQ(in_clear(clear), std::vector<std::string>{});
  // Both lists survive a restart, decided from their stored (hashed) form.
  service_.reset();
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00001").verdict, Verdict::deny);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00003").holder, HolderType::monthly);
}

TEST_F(BridgeListsTest, TheOldShapeIsStillTakenAndRefusalsNameItsEntries) {
  auto blocklist = spec("blocklist");
  auto ack = send(blocklist, {{"v", 1}, {"id", "bl-old"}, {"version", 1},
                              {"entries", {{{"kind", "plate"}, {"value", "粤B00001"},
                                            {"reason", "stolen"}},
                                           {{"kind", "plate"}, {"value", "粤B00001"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(ack.result, nlohmann::ordered_json({{"list", "blocklist"}, {"version", 1},
                                                {"applied", true}, {"items", 2}, {"chunks", 1}}));
  // A credential given twice keeps its last entry, as the old shape did.
  EXPECT_EQ(q("SELECT count(*) FROM access_entries WHERE list = 'blocklist'"), 1);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00001").verdict, Verdict::deny);
  ack = send(spec("monthly-passes"),
             {{"v", 1}, {"id", "mp-old"}, {"version", 1},
              {"entries", {{{"kind", "plate"}, {"value", "粤B00002"}, {"room", "3-1-402"},
                            {"valid_from", "2020-01-01T00:00:00+08:00"},
                            {"valid_to", "2099-01-01T00:00:00+08:00"}},
                           {{"kind", "boat"}, {"value", "x"}}}}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "entries[1]: kind: expected card or plate");
  ack = send(spec("monthly-passes"),
             {{"v", 1}, {"id", "mp-old2"}, {"version", 1},
              {"entries", {{{"kind", "plate"}, {"value", "粤B00002"}, {"room", "3-1-402"},
                            {"valid_from", "2020-01-01T00:00:00+08:00"},
                            {"valid_to", "2099-01-01T00:00:00+08:00"}}}}});
  ASSERT_TRUE(ack.ok) << ack.error;
  auto d = decide(CredentialKind::plate, "粤B00002");
  EXPECT_EQ(d.holder, HolderType::monthly);
  EXPECT_EQ(d.room, "3-1-402");
  // The envelope's rules hold for it: not newer is refused.
  ack = send(blocklist, {{"v", 1}, {"id", "bl-old2"}, {"version", 1}, {"entries", json::array()}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "version 1 is not newer than the applied version 1");
  ack = send(blocklist, {{"v", 1}, {"id", "bl-old3"}, {"version", 2}, {"entries", "all"}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(ack.error, "entries: expected an array");
}

TEST_F(BridgeListsTest, TheGatesListsStoredWithoutAGateAreTakenOverAtStart) {
  const auto hasher = service_->hasher();
  service_.reset();
  ASSERT_TRUE(send(bridge_store_spec("blocklist", hasher),
                   {{"v", 1}, {"id", "bl-1"}, {"version", 3},
                    {"items", {{{"key", "bl-1"}, {"kind", "plate"}, {"value", "粤B00001"}}}}})
                  .ok);
  ASSERT_TRUE(send(bridge_store_spec("monthly-passes", hasher),
                   {{"v", 1}, {"id", "mp-1"}, {"version", 8},
                    {"entries", {{{"kind", "card"}, {"value", "04A1B2C3"}, {"room", "3-201"},
                                  {"valid_from", "2020-01-01T00:00:00+08:00"},
                                  {"valid_to", "2099-01-01T00:00:00+08:00"}}}}})
                  .ok);
  EXPECT_EQ(in_clear({"粤B00001", "04A1B2C3"}), std::vector<std::string>{});
  service_ = std::make_shared<AccessService>(*store_, "gw", AccessConfig{}, nullptr);
  EXPECT_EQ(service_->index()->blocklist->version(), 3);
  EXPECT_EQ(service_->index()->monthly_passes->version(), 8);
  EXPECT_EQ(decide(CredentialKind::plate, "粤B00001").verdict, Verdict::deny);
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").room, "3-201");
}

TEST(UnknownPlates, DenyMakesAResidentsOnlyBarrierButNobodyIsTrappedInside) {
  Index idx = *empty_index();
  AccessConfig cfg;
  NoArrears arrears;
  PassageState state;
  AccessRequest req{CredentialKind::plate, "粤B77777", "main", Lane::entry, 1772323200};
  EXPECT_EQ(evaluate(idx, cfg, arrears, state, req).verdict, Verdict::charge_as_visitor);
  cfg.deny_unknown_plates = true;
  auto d = evaluate(idx, cfg, arrears, state, req);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "unknown plate: visitors not admitted");
  req.lane = Lane::exit;
  EXPECT_EQ(evaluate(idx, cfg, arrears, state, req).verdict, Verdict::charge_as_visitor);
}

}  // namespace
}  // namespace estate::access
