// The pure parts of the uplink contract: message building (batching keeps every record's seq),
// broker URLs, state and ack payloads (the reconnect schedule: drivers_transports/backoff_test.cpp).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cloud-bridge/command_sink.hpp"
#include "cloud-bridge/topics.hpp"
#include "cloud-bridge/uplink.hpp"

using namespace estate::cloud_bridge;

namespace {

OutboxRecord rec(std::int64_t seq, const std::string& stream) {
  nlohmann::json j{{"v", 1}, {"id", "gw-" + std::to_string(seq)}, {"seq", seq}};
  return {seq, stream, j.dump()};
}

}  // namespace

TEST(TakeMessage, WithoutBatchingOneRecordIsOneObject) {
  std::deque<OutboxRecord> q{rec(1, "events"), rec(2, "events")};
  auto m = take_message(q, 1);
  EXPECT_EQ(m.stream, "events");
  EXPECT_EQ(m.seqs, std::vector<std::int64_t>{1});
  EXPECT_EQ(nlohmann::json::parse(m.payload)["seq"], 1);
  EXPECT_EQ(q.size(), 1u);
}

TEST(TakeMessage, BatchIsAnArrayOfConsecutiveRecordsOfOneStream) {
  std::deque<OutboxRecord> q{rec(1, "readings"), rec(2, "readings"), rec(3, "readings"),
                             rec(4, "events"), rec(5, "readings")};
  auto m = take_message(q, 10);
  EXPECT_EQ(m.stream, "readings");
  EXPECT_EQ(m.seqs, (std::vector<std::int64_t>{1, 2, 3}));
  auto arr = nlohmann::json::parse(m.payload);
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(arr[i]["seq"], i + 1);
  auto m2 = take_message(q, 10);
  EXPECT_EQ(m2.stream, "events");
  EXPECT_EQ(m2.seqs, std::vector<std::int64_t>{4});
  EXPECT_TRUE(nlohmann::json::parse(m2.payload).is_array());
}

TEST(TakeMessage, BatchStopsAtItsLimit) {
  std::deque<OutboxRecord> q;
  for (int i = 1; i <= 7; ++i) q.push_back(rec(i, "readings"));
  EXPECT_EQ(take_message(q, 3).seqs, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(take_message(q, 3).seqs, (std::vector<std::int64_t>{4, 5, 6}));
  EXPECT_EQ(take_message(q, 3).seqs, (std::vector<std::int64_t>{7}));
  EXPECT_TRUE(q.empty());
}

TEST(PahoUri, SchemesAndDefaultPorts) {
  EXPECT_EQ(paho_uri("mqtt://broker.example:1884"), "tcp://broker.example:1884");
  EXPECT_EQ(paho_uri("mqtt://broker.example"), "tcp://broker.example:1883");
  EXPECT_EQ(paho_uri("mqtts://broker.example"), "ssl://broker.example:8883");
  EXPECT_EQ(paho_uri("mqtts://[::1]:9000"), "ssl://[::1]:9000");
  EXPECT_EQ(paho_uri("mqtt://[::1]"), "tcp://[::1]:1883");
  EXPECT_EQ(paho_uri("tcp://h:1"), "tcp://h:1");
  EXPECT_FALSE(paho_uri("http://h:1"));
  EXPECT_FALSE(paho_uri("mqtt://"));
  EXPECT_FALSE(paho_uri("mqtt://h:1/path"));
  EXPECT_FALSE(paho_uri("mqtt://h:"));
  EXPECT_TRUE(is_tls("mqtts://h"));
  EXPECT_FALSE(is_tls("mqtt://h"));
}

TEST(StatePayloads, BirthAndOffline) {
  auto b = nlohmann::json::parse(birth_payload("gw", "0.1.0", 12, 345, "2026-01-01T00:00:00.000+08:00"));
  EXPECT_EQ(b["v"], 1);
  EXPECT_EQ(b["state"], "online");
  EXPECT_EQ(b["uptime_s"], 12);
  EXPECT_EQ(b["backlog"], 345);
  EXPECT_EQ(b["version"], "0.1.0");
  EXPECT_FALSE(b.contains("seq"));  // only outbox records carry seq
  auto o = nlohmann::json::parse(offline_payload("gw", "0.1.0", "t", false));
  EXPECT_EQ(o["state"], "offline");
  EXPECT_EQ(o["clean"], false);
}

TEST(Ack, OkAndErrorShapes) {
  CommandAck ok;
  ok.id = "c-1";
  ok.command = "ping";
  ok.ok = true;
  ok.result = {{"pong", true}};
  auto j = nlohmann::json::parse(encode_ack(ok, "ts"));
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["id"], "c-1");
  EXPECT_EQ(j["ok"], true);
  EXPECT_FALSE(j.contains("error"));
  EXPECT_EQ(j["result"]["pong"], true);

  CommandAck bad;
  bad.command = "cards";
  bad.error = std::string("bad \xff byte");  // hostile text must not make encoding throw
  auto k = nlohmann::json::parse(encode_ack(bad, "ts"));
  EXPECT_TRUE(k["id"].is_null());
  EXPECT_EQ(k["ok"], false);
  EXPECT_FALSE(k["error"].get<std::string>().empty());
}

TEST(Topics, CommandNames) {
  Topics t("site", "gw");
  EXPECT_EQ(t.stream("events"), "estate/site/gw/events");
  EXPECT_EQ(t.command_filter(), "estate/site/gw/cmd/+");
  EXPECT_EQ(t.command_name("estate/site/gw/cmd/cards"), "cards");
  EXPECT_FALSE(t.command_name("estate/site/gw/cmd/"));
  EXPECT_FALSE(t.command_name("estate/site/gw/cmd/a/b"));
  EXPECT_FALSE(t.command_name("estate/site/other/cmd/cards"));
}
