// Downlink commands against a real store: envelope checks, versioned lists (older refused,
// re-delivery answered from the record), chunked lists applied all or nothing; outbox retire.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "daemon/bridge/commands.hpp"
#include "daemon/bridge/store_outbox.hpp"
#include "daemon/store/store.hpp"

using namespace estate;
using nlohmann::json;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "bridge-test-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

bridge::Command cmd(const std::string& name, json body) {
  return {name, body.at("id").get<std::string>(), std::move(body)};
}

class ListTest : public ::testing::Test {
 protected:
  TempDir dir;
  store::Store store{dir.path()};
  bridge::ListSpec spec = [] {
    bridge::ListSpec s;
    s.name = "cards";
    return s;
  }();

  cloud_bridge::CommandAck send(json body) {
    cloud_bridge::CommandAck ack;
    auto c = cmd("cards", std::move(body));
    auto err = bridge::check_list_message(spec, c.body);
    if (!err.empty()) {
      ack.ok = false;
      ack.error = err;
      return ack;
    }
    store.write_sync([&](store::Database& db) { ack = bridge::apply_list_message(db, spec, c, "t"); });
    return ack;
  }
  std::int64_t q(const std::string& sql) {
    auto db = store.open_reader();
    return db.query_int(sql, -1);
  }
};

json items(std::initializer_list<const char*> keys) {
  json a = json::array();
  for (auto k : keys) a.push_back({{"key", k}, {"holder", "unit 3-201"}});
  return a;
}

}  // namespace

TEST(ParseCommand, RefusesWhatIsNotAnEnvelope) {
  auto p = bridge::parse_command("ping", "{not json");
  ASSERT_FALSE(p.command);
  EXPECT_NE(p.refusal.error.find("not valid JSON"), std::string::npos);
  EXPECT_FALSE(p.refusal.id);

  p = bridge::parse_command("ping", "[1,2]");
  EXPECT_EQ(p.refusal.error, "expected a JSON object");

  p = bridge::parse_command("ping", R"({"v":1,"id":""})");
  EXPECT_NE(p.refusal.error.find("id:"), std::string::npos);

  p = bridge::parse_command("ping", R"({"v":2,"id":"c-1"})");
  ASSERT_FALSE(p.command);
  EXPECT_EQ(p.refusal.id, "c-1");
  EXPECT_NE(p.refusal.error.find("v: expected 1"), std::string::npos);

  p = bridge::parse_command("ping", R"({"v":1,"id":"c-1"})");
  ASSERT_FALSE(p.command);
  EXPECT_EQ(p.refusal.id, "c-1");
  EXPECT_EQ(p.refusal.error.rfind("issued_at: expected", 0), 0u);

  p = bridge::parse_command("ping", R"({"v":1,"id":"c-1","issued_at":"2026-12-04T08:00:00+08:00",)"
                                   R"("expires":"2026-12-04T08:00:01+08:00"})");
  ASSERT_TRUE(p.command);
  EXPECT_EQ(p.command->id, "c-1");
}

TEST(Registry, UnknownCommandAndDuplicates) {
  bridge::CommandRegistry r;
  r.add("ping", [](bridge::Command c, bridge::CommandReply reply) {
    cloud_bridge::CommandAck a;
    a.id = c.id;
    a.ok = true;
    reply(a);
  });
  EXPECT_THROW(r.add("ping", {}), std::logic_error);
  cloud_bridge::CommandAck got;
  r.dispatch({"valve", "c-9", json::object()}, [&](cloud_bridge::CommandAck a) { got = a; });
  EXPECT_FALSE(got.ok);
  EXPECT_EQ(got.id, "c-9");
  EXPECT_NE(got.error.find("unknown command 'valve'"), std::string::npos);
  EXPECT_NE(got.error.find("ping"), std::string::npos);
}

TEST_F(ListTest, StructureIsChecked) {
  EXPECT_NE(send({{"v", 1}, {"id", "a"}, {"items", items({"1"})}}).error.find("version"),
            std::string::npos);
  EXPECT_NE(send({{"v", 1}, {"id", "a"}, {"version", 1}, {"items", "x"}}).error.find("items"),
            std::string::npos);
  EXPECT_EQ(send({{"v", 1}, {"id", "a"}, {"version", 1}, {"items", items({"1", "1"})}}).error,
            "items[1]: duplicate key");
  EXPECT_EQ(send({{"v", 1}, {"id", "a"}, {"version", 1}, {"items", json::array({{{"key", 5}}})}})
                .error.substr(0, 13),
            "items[0].key:");
  EXPECT_EQ(send({{"v", 1}, {"id", "a"}, {"version", 1}, {"items", items({})}, {"evil", 1}}).error,
            "unknown field 'evil'");
  EXPECT_NE(send({{"v", 1}, {"id", "a"}, {"version", 1}, {"items", items({})}, {"chunk", 0}})
                .error.find("both or neither"),
            std::string::npos);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_commands"), 0);
}

TEST_F(ListTest, VersionsApplyInOrderOlderRefusedNothingChanges) {
  auto a = send({{"v", 1}, {"id", "c-1"}, {"version", 5}, {"items", items({"A", "B"})}});
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_EQ(a.result["applied"], true);
  EXPECT_EQ(a.result["items"], 2);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 5);

  auto old = send({{"v", 1}, {"id", "c-2"}, {"version", 4}, {"items", items({"X"})}});
  EXPECT_FALSE(old.ok);
  EXPECT_EQ(old.error, "version 4 is not newer than the applied version 5");
  auto same = send({{"v", 1}, {"id", "c-3"}, {"version", 5}, {"items", items({"X"})}});
  EXPECT_FALSE(same.ok);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE name='cards'"), 2);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE key='X'"), 0);

  auto newer = send({{"v", 1}, {"id", "c-4"}, {"version", 6}, {"items", items({"C"})}});
  ASSERT_TRUE(newer.ok);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE name='cards'"), 1);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 6);
}

TEST_F(ListTest, RedeliveredCommandGetsTheSameAnswerAndIsNotAppliedTwice) {
  json body{{"v", 1}, {"id", "c-1"}, {"version", 1}, {"items", items({"A"})}};
  ASSERT_TRUE(send(body).ok);
  auto again = send(body);
  EXPECT_TRUE(again.ok);
  EXPECT_EQ(again.result["duplicate"], true);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 1);
}

TEST_F(ListTest, ChunksApplyOnlyWhenAllArrived) {
  ASSERT_TRUE(send({{"v", 1}, {"id", "base"}, {"version", 1}, {"items", items({"OLD"})}}).ok);
  auto c0 = send({{"v", 1}, {"id", "k0"}, {"version", 2}, {"chunk", 0}, {"chunks", 3},
                  {"items", items({"A", "B"})}});
  ASSERT_TRUE(c0.ok) << c0.error;
  EXPECT_EQ(c0.result["applied"], false);
  EXPECT_EQ(c0.result["staged"], 1);
  auto c2 = send({{"v", 1}, {"id", "k2"}, {"version", 2}, {"chunk", 2}, {"chunks", 3},
                  {"items", items({"E"})}});
  ASSERT_TRUE(c2.ok);
  // Two of three chunks: the applied list is still version 1.
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 1);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE name='cards'"), 1);
  auto mismatch = send({{"v", 1}, {"id", "kx"}, {"version", 2}, {"chunk", 1}, {"chunks", 4},
                        {"items", items({"C"})}});
  EXPECT_FALSE(mismatch.ok);
  auto c1 = send({{"v", 1}, {"id", "k1"}, {"version", 2}, {"chunk", 1}, {"chunks", 3},
                  {"items", items({"C", "D"})}});
  ASSERT_TRUE(c1.ok) << c1.error;
  EXPECT_EQ(c1.result["applied"], true);
  EXPECT_EQ(c1.result["items"], 5);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 2);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE name='cards'"), 5);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_chunks"), 0);
}

TEST_F(ListTest, DuplicateAcrossChunksRefusesTheWholeVersion) {
  ASSERT_TRUE(send({{"v", 1}, {"id", "base"}, {"version", 1}, {"items", items({"OLD"})}}).ok);
  ASSERT_TRUE(send({{"v", 1}, {"id", "k0"}, {"version", 2}, {"chunk", 0}, {"chunks", 2},
                    {"items", items({"A"})}})
                  .ok);
  auto last = send({{"v", 1}, {"id", "k1"}, {"version", 2}, {"chunk", 1}, {"chunks", 2},
                    {"items", items({"A"})}});
  EXPECT_FALSE(last.ok);
  EXPECT_NE(last.error.find("earlier chunk"), std::string::npos);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 1);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE key='OLD'"), 1);
}

TEST_F(ListTest, DomainApplierRefusalKeepsThePreviousVersion) {
  spec.apply = [](store::Database&, const std::string&,
                  std::int64_t version) -> bridge::ListSpec::Committed {
    if (version == 3) throw std::runtime_error("tariff table has no tier for water");
    return nullptr;
  };
  ASSERT_TRUE(send({{"v", 1}, {"id", "a"}, {"version", 2}, {"items", items({"A"})}}).ok);
  auto bad = send({{"v", 1}, {"id", "b"}, {"version", 3}, {"items", items({"B"})}});
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.error, "tariff table has no tier for water");
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 2);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE key='A'"), 1);
}

TEST_F(ListTest, TransformedItemsAreWhatChunksAndItemsHold) {
  // A domain keeping a digest instead of the key: neither a staged chunk nor an item holds the
  // key as sent, and the domain reads the transformed form back.
  spec.transform_item = [](const json& item) {
    return json{{"key", "h:" + std::to_string(std::hash<std::string>{}(item.at("key"))) },
                {"unit", item.value("unit", "")}};
  };
  std::vector<json> seen;
  spec.apply = [&seen](store::Database& db, const std::string& name,
                       std::int64_t) -> bridge::ListSpec::Committed {
    bridge::for_each_list_item(db, name, [&](const json& item) { seen.push_back(item); });
    return nullptr;
  };
  ASSERT_TRUE(send({{"v", 1}, {"id", "t0"}, {"version", 1}, {"chunk", 0}, {"chunks", 2},
                    {"items", {{{"key", "SECRET-A"}, {"unit", "1"}}}}})
                  .ok);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_chunks WHERE items LIKE '%SECRET%'"), 0);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_chunks WHERE items LIKE '%h:%'"), 1);
  auto done = send({{"v", 1}, {"id", "t1"}, {"version", 1}, {"chunk", 1}, {"chunks", 2},
                    {"items", {{{"key", "SECRET-B"}, {"unit", "2"}}}}});
  ASSERT_TRUE(done.ok) << done.error;
  EXPECT_EQ(done.result["applied"], true);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE item LIKE '%SECRET%' OR "
              "key LIKE '%SECRET%'"),
            0);
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& item : seen) EXPECT_EQ(item.at("key").get<std::string>().rfind("h:", 0), 0u);
  // Two items the transform makes equal refuse the version, naming neither key.
  spec.transform_item = [](const json&) { return json{{"key", "same"}}; };
  auto dup = send({{"v", 1}, {"id", "t2"}, {"version", 2},
                   {"items", {{{"key", "SECRET-C"}}, {{"key", "SECRET-D"}}}}});
  EXPECT_FALSE(dup.ok);
  EXPECT_EQ(dup.error, "chunk 0 items[1]: key already given by an earlier chunk or item");
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name='cards'"), 1);
}

TEST(StoreOutbox, ReadsInOrderAndRetiresEachRowOnce) {
  TempDir dir;
  store::Store store(dir.path());
  store.write_sync([](store::Database& db) {
    for (int i = 0; i < 5; ++i) {
      store::append_outbox(db, "gw", i % 2 ? "readings" : "events", "t", R"({"kind":"x"})", false);
    }
  });
  bridge::StoreOutbox outbox(store);
  auto rows = outbox.read_pending(0, 3);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seq, 1);
  EXPECT_EQ(rows[2].seq, 3);
  EXPECT_EQ(json::parse(rows[1].payload)["id"], "gw-2");
  EXPECT_EQ(outbox.read_pending(3, 10).size(), 2u);
  EXPECT_EQ(outbox.backlog(), 5);

  store.write_sync([](store::Database& db) { bridge::StoreOutbox::retire(db, {1, 2}); });
  store.write_sync([](store::Database& db) { bridge::StoreOutbox::retire(db, {2, 3}); });  // 2 again
  EXPECT_EQ(outbox.backlog(), 2);
  auto db = store.open_reader();
  EXPECT_EQ(db.query_int("SELECT acknowledged FROM stream_counts WHERE stream='events'"), 2);
  EXPECT_EQ(db.query_int("SELECT acknowledged FROM stream_counts WHERE stream='readings'"), 1);
  EXPECT_EQ(db.query_int("SELECT value FROM meta WHERE key='outbox_acked_seq'"), 3);
  EXPECT_EQ(outbox.read_pending(0, 10).front().seq, 4);
}

// A list version and its list.change entry commit together: a version the domain refuses
// leaves no entry, an entry that cannot be appended leaves no version. The entry names the
// source (the platform's command id, or the local admin token's name).
TEST_F(ListTest, AListVersionAndItsAuditEntryCommitTogether) {
  auto audited = [this] { return q("SELECT count(*) FROM audit_log WHERE kind = 'list.change'"); };
  ASSERT_TRUE(send({{"v", 1}, {"id", "c-1"}, {"version", 1}, {"items", items({"AA"})}}).ok);
  EXPECT_EQ(audited(), 1);
  {
    auto db = store.open_reader();
    auto st = db.prepare("SELECT actor, subject FROM audit_log WHERE kind = 'list.change'");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.text(0), "platform:c-1");
    EXPECT_EQ(st.text(1), "list:cards");
  }
  // From the admin API: the token's name is the actor.
  auto c = cmd("cards", {{"v", 1}, {"id", "admin-ops-1"}, {"version", 2}, {"items", items({"BB"})}});
  c.source = "token:ops";
  cloud_bridge::CommandAck ack;
  store.write_sync([&](store::Database& db) { ack = bridge::apply_list_message(db, spec, c, "t"); });
  ASSERT_TRUE(ack.ok) << ack.error;
  EXPECT_EQ(q("SELECT count(*) FROM audit_log WHERE actor = 'token:ops'"), 1);
  // The domain refuses the version: no entry, the list stays at version 2.
  spec.apply = [](store::Database&, const std::string&, std::int64_t) -> bridge::ListSpec::Committed {
    throw std::runtime_error("the gates refuse it");
  };
  ack = send({{"v", 1}, {"id", "c-3"}, {"version", 3}, {"items", items({"CC"})}});
  EXPECT_FALSE(ack.ok);
  EXPECT_EQ(audited(), 2);
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name = 'cards'"), 2);
  // The audit append fails: the version is not kept either (the writer's job fails whole).
  spec.apply = nullptr;
  store.write_sync([](store::Database& db) {
    db.exec("CREATE TRIGGER no_audit BEFORE INSERT ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
  });
  EXPECT_ANY_THROW(send({{"v", 1}, {"id", "c-4"}, {"version", 4}, {"items", items({"DD"})}}));
  EXPECT_EQ(q("SELECT version FROM bridge_lists WHERE name = 'cards'"), 2);
  EXPECT_EQ(q("SELECT count(*) FROM bridge_list_items WHERE name = 'cards' AND key = 'DD'"), 0);
  EXPECT_EQ(audited(), 2);
}
