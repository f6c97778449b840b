// What a platform command proves (daemon/bridge/command_proof.hpp, docs/mqtt-api.md): the
// canonical form and the documented worked example byte for byte, Ed25519 signatures over it,
// issued_at/expires against the clock, and the nesting bound on command and HTTP JSON.
#include <gtest/gtest.h>

#include <string>

#include "daemon/bridge/command_proof.hpp"
#include "daemon/bridge/commands.hpp"
#include "daemon/runtime/bounded_json.hpp"

using namespace estate;
using nlohmann::json;

namespace {

// RFC 8032 §7.1, test 1: the test key of docs/mqtt-api.md (never a real platform's key).
constexpr const char* kSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

// The worked example of docs/mqtt-api.md, "Signed commands".
constexpr const char* kExampleMessage =
    R"({"v":1,"id":"cmd-0001","issued_at":"2026-12-04T08:00:00+08:00",)"
    R"("expires":"2026-12-04T08:01:00+08:00","gate":"exit-1",)"
    R"("reason":"visitor at the east gate 东门"})";
constexpr const char* kExampleSigned =
    R"({"body":{"gate":"exit-1","reason":"visitor at the east gate 东门"},)"
    R"("expires":"2026-12-04T08:01:00+08:00","id":"cmd-0001",)"
    R"("issued_at":"2026-12-04T08:00:00+08:00","name":"gate-open","v":1})";
constexpr const char* kExampleSig =
    "f6d47668d8923f19991995afebec78f22595d87b8b5b4fa7d587f40e2703a540"
    "a9d939797d9f519f58db387f0e7549bb912c33ca0f1fd3fc70a4db835d3fbc0e";

std::shared_ptr<const bridge::PlatformKeys> keys(std::vector<std::string> hex) {
  std::string error;
  auto k = bridge::PlatformKeys::from_hex(hex, error);
  EXPECT_TRUE(k) << error;
  return k;
}

std::unique_ptr<bridge::CommandSigner> signer(const std::string& text = kSeed) {
  std::string error;
  auto s = bridge::CommandSigner::from_text(text, error);
  EXPECT_TRUE(s) << error;
  return s;
}

}  // namespace

TEST(CanonicalForm, TheDocumentedWorkedExampleByteForByte) {
  std::string error;
  auto input = bridge::signing_input("gate-open", json::parse(kExampleMessage), error);
  ASSERT_TRUE(input) << error;
  EXPECT_EQ(*input, kExampleSigned);
  auto s = signer();
  EXPECT_EQ(s->public_key_hex(), kPublic);
  EXPECT_EQ(s->sign_hex(*input), kExampleSig);  // Ed25519 is deterministic

  auto message = json::parse(kExampleMessage);
  message["sig"] = kExampleSig;
  EXPECT_EQ(bridge::check_signature("gate-open", message, *keys({kPublic})), "");
}

TEST(CanonicalForm, KeysSortedByBytesMinimalEscapesIntegersOnly) {
  std::string error;
  auto j = json::parse(R"({"b":[1,-2,true,null,{}],"a":"q\"\\\/\b\f\n\r\t\u0001\u001f\u007fé😀",)"
                       R"("é":0,"Z":9007199254740992,"":-9007199254740992})");
  auto c = bridge::canonical_json(j, error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(*c, "{\"\":-9007199254740992,\"Z\":9007199254740992,"
                "\"a\":\"q\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f" "é😀\","
                "\"b\":[1,-2,true,null,{}],\"é\":0}");

  EXPECT_FALSE(bridge::canonical_json(json::parse(R"({"x":[1.5]})"), error));
  EXPECT_EQ(error.rfind("$.x[0]: a number with a fraction", 0), 0u) << error;
  EXPECT_FALSE(bridge::canonical_json(json::parse(R"({"x":1e3})"), error));
  EXPECT_FALSE(bridge::canonical_json(json::parse(R"({"n":9007199254740993})"), error));
  EXPECT_NE(error.find("beyond 2^53"), std::string::npos);
  EXPECT_FALSE(bridge::canonical_json(json::parse(R"({"n":-9007199254740993})"), error));
  EXPECT_FALSE(bridge::canonical_json(json::parse(R"({"n":18446744073709551615})"), error));
}

TEST(Signature, AnyChangeToNameIdTimesOrBodyBreaksIt) {
  auto k = keys({"92b2e5f8dde7871e4176403614736acb4996f2e039bd800f95394d64da18f4b4", kPublic});
  auto s = signer();
  json m = json::parse(R"({"v":1,"id":"t-1","issued_at":"2026-12-04T08:00:00Z",)"
                       R"("expires":"2026-12-04T08:01:00Z","room":"1-1-101","amount_fen":10000,)"
                       R"("ref":"pay-1"})");
  ASSERT_EQ(bridge::sign_message(*s, "topup", m), "");
  EXPECT_EQ(bridge::check_signature("topup", m, *k), "");  // the second key verifies
  // Member order and whitespace are not signed: the canonical form is.
  EXPECT_EQ(bridge::check_signature("topup", json::parse(m.dump(2)), *k), "");

  auto changed = [&](auto edit, const std::string& name = "topup") {
    json c = m;
    edit(c);
    return bridge::check_signature(name, c, *k);
  };
  const std::string bad = "signature: does not verify with any platform key";
  EXPECT_EQ(changed([](json&) {}, "relay").rfind(bad, 0), 0u);
  EXPECT_EQ(changed([](json& c) { c["id"] = "t-2"; }).rfind(bad, 0), 0u);
  EXPECT_EQ(changed([](json& c) { c["amount_fen"] = 100000; }).rfind(bad, 0), 0u);
  EXPECT_EQ(changed([](json& c) { c["expires"] = "2026-12-04T09:01:00Z"; }).rfind(bad, 0), 0u);
  EXPECT_EQ(changed([](json& c) { c["issued_at"] = "2026-12-04T08:00:01Z"; }).rfind(bad, 0), 0u);
  EXPECT_EQ(changed([](json& c) { c["note"] = "x"; }).rfind(bad, 0), 0u);
  EXPECT_EQ(changed([](json& c) { c.erase("sig"); }).rfind("signature: missing", 0), 0u);
  EXPECT_EQ(changed([](json& c) { c["sig"] = "00"; }).rfind("signature: sig: expected 128 hex", 0),
            0u);
  EXPECT_EQ(changed([](json& c) { c["sig"] = std::string(128, '0'); }).rfind(bad, 0), 0u);
  // Another key signed it.
  auto other = signer("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  json o = m;
  ASSERT_EQ(bridge::sign_message(*other, "topup", o), "");
  EXPECT_EQ(bridge::check_signature("topup", o, *keys({kPublic})).rfind(bad, 0), 0u);
}

TEST(Signature, KeysFromPemAndConfigChecks) {
  const char* pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
      "-----END PRIVATE KEY-----\n";
  EXPECT_EQ(signer(pem)->public_key_hex(), kPublic);
  std::string error;
  EXPECT_FALSE(bridge::CommandSigner::from_text("-----BEGIN PRIVATE KEY-----\nxx\n", error));
  EXPECT_FALSE(bridge::CommandSigner::from_text("abc", error));
  EXPECT_FALSE(bridge::PlatformKeys::from_hex({kPublic, "d75a98"}, error));
  EXPECT_EQ(error, "[1]: expected an Ed25519 public key as 64 hex digits");
}

TEST(CommandTimes, FormatsAndOrder) {
  std::string error;
  auto t = bridge::command_times(
      json::parse(R"({"issued_at":"2026-12-04T08:00:00+08:00","expires":"2026-12-04T00:01:00Z"})"),
      error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->expires - t->issued_at, 60);
  EXPECT_FALSE(bridge::command_times(json::parse(R"({"expires":"2026-12-04T00:01:00Z"})"), error));
  EXPECT_EQ(error.rfind("issued_at: expected an ISO 8601 time", 0), 0u) << error;
  EXPECT_FALSE(bridge::command_times(
      json::parse(R"({"issued_at":"2026-12-04T08:00:00","expires":"2026-12-04T00:01:00Z"})"),
      error));
  EXPECT_NE(error.find("missing UTC offset"), std::string::npos) << error;
  EXPECT_FALSE(bridge::command_times(
      json::parse(R"({"issued_at":"2026-12-04T08:00:00Z","expires":"2026-12-04T08:00:00Z"})"),
      error));
  EXPECT_EQ(error, "expires: must be after issued_at");
}

TEST(CommandTimes, LateCommandsAndCommandsFromTheFuture) {
  const auto policy = bridge::default_expiry_policy();
  const bridge::CommandTimes t{1000, 1000 + 3600};
  EXPECT_EQ(bridge::check_times("gate-open", t, 1059, policy), "");
  EXPECT_EQ(bridge::check_times("gate-open", t, 1060, policy).rfind("expired: issued 60 s ago", 0),
            0u);
  EXPECT_EQ(bridge::check_times("relay", t, 1060, policy).rfind("expired:", 0), 0u);
  EXPECT_EQ(bridge::check_times("valve", t, 1060, policy).rfind("expired:", 0), 0u);
  EXPECT_EQ(bridge::check_times("parking-pay", t, 1299, policy), "");
  EXPECT_EQ(bridge::check_times("topup", t, 4599, policy), "");
  EXPECT_EQ(bridge::check_times("topup", t, 4600, policy), "expired: expires was 0 s ago");
  EXPECT_EQ(bridge::late_from("gate-open", t, policy), 1060);
  EXPECT_EQ(bridge::late_from("topup", t, policy), 4600);
  // From the future: within the skew it runs, beyond it is refused.
  EXPECT_EQ(bridge::check_times("topup", t, 940, policy), "");
  EXPECT_EQ(bridge::check_times("topup", t, 939, policy).rfind("issued_at: 61 s ahead", 0), 0u);
}

TEST(BoundedJson, AMebibyteOfOpenBracketsIsRefusedBeforeParsing) {
  const std::string deep(1 << 20, '[');
  EXPECT_EQ(runtime::json_too_deep(deep), 64u);
  EXPECT_TRUE(runtime::parse_json_bounded(deep).is_discarded());
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
    return s;
  }();
  EXPECT_TRUE(runtime::parse_json_bounded(objects).is_discarded());
  // Brackets inside strings do not count; 64 levels are fine.
  EXPECT_FALSE(runtime::json_too_deep(R"({"a":"[[[[[[\"[[[[["})", 2));
  std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_FALSE(runtime::parse_json_bounded(ok).is_discarded());
  EXPECT_TRUE(runtime::parse_json_bounded("[" + ok + "]").is_discarded());

  auto p = bridge::parse_command("cards", "{\"v\":1,\"id\":\"x\",\"items\":" + deep);
  ASSERT_FALSE(p.command);
  EXPECT_EQ(p.refusal.error, "nesting: deeper than 64 levels at byte 87");
  EXPECT_EQ(p.refusal.command, "cards");
}

TEST(ParseCommand, TimesRequiredSignatureWhenKeysEnvelopeStripped) {
  const std::string times =
      R"("issued_at":"2026-12-04T08:00:00+08:00","expires":"2026-12-04T08:01:00+08:00")";
  auto p = bridge::parse_command("topup", R"({"v":1,"id":"a","room":"1"})");
  ASSERT_FALSE(p.command);
  EXPECT_EQ(p.refusal.id, "a");
  EXPECT_EQ(p.refusal.error.rfind("issued_at: expected", 0), 0u);

  p = bridge::parse_command("topup", R"({"v":1,"id":"a","room":"1",)" + times + "}");
  ASSERT_TRUE(p.command) << p.refusal.error;
  EXPECT_EQ(p.command->body, json::parse(R"({"v":1,"id":"a","room":"1"})"));
  ASSERT_TRUE(p.command->times);

  bridge::CommandPolicy policy;
  policy.keys = keys({kPublic});
  p = bridge::parse_command("topup", R"({"v":1,"id":"a","room":"1",)" + times + "}", policy);
  ASSERT_FALSE(p.command);
  EXPECT_EQ(p.refusal.error.rfind("signature: missing", 0), 0u);
  // ping needs none.
  p = bridge::parse_command("ping", R"({"v":1,"id":"a",)" + times + "}", policy);
  EXPECT_TRUE(p.command);

  json m = json::parse(R"({"v":1,"id":"a","room":"1",)" + times + "}");
  ASSERT_EQ(bridge::sign_message(*signer(), "topup", m), "");
  p = bridge::parse_command("topup", m.dump(), policy);
  ASSERT_TRUE(p.command) << p.refusal.error;
  EXPECT_EQ(p.command->body, json::parse(R"({"v":1,"id":"a","room":"1"})"));
  // A float has no canonical form: refused with its place.
  m["amount"] = 1.5;
  p = bridge::parse_command("topup", m.dump(), policy);
  ASSERT_FALSE(p.command);
  EXPECT_EQ(p.refusal.error.rfind("signature: cannot be signed: $.body.amount", 0), 0u)
      << p.refusal.error;
}
