#include <gtest/gtest.h>

#include "drivers/camera/anpr_push.hpp"

namespace estate::drivers::camera {
namespace {

const std::vector<CameraSecret> cams{{"cam-in", "s3cret", "entry"}, {"cam-out", "other", "exit"}};

TEST(AnprPush, AcceptsAPushWithTheRightSecret) {
  auto r = handle_anpr_push(
      R"({"camera":"cam-in","plate":"粤B12345","colour":"blue","confidence":93,"snapshot":"AAA="})",
      {{"x-camera-secret", "s3cret"}}, cams);
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.read);
  EXPECT_EQ(r.read->plate, "粤B12345");
  EXPECT_EQ(r.read->lane, "entry");  // from the camera's config
  EXPECT_EQ(r.read->confidence, 93);
  EXPECT_EQ(r.read->snapshot, std::string(2, '\0'));  // "AAA=" decoded
}

TEST(AnprPush, RefusesWrongSecretOrUnknownCameraAlike) {
  auto a = handle_anpr_push(R"({"camera":"cam-in","plate":"A1"})", {{"X-Camera-Secret", "other"}},
                            cams);
  auto b = handle_anpr_push(R"({"camera":"cam-x","plate":"A1"})", {{"X-Camera-Secret", "s3cret"}},
                            cams);
  auto c = handle_anpr_push(R"({"camera":"cam-in","plate":"A1"})", {}, cams);
  for (const auto& r : {a, b, c}) {
    EXPECT_EQ(r.status, 401);
    EXPECT_FALSE(r.read);
    EXPECT_EQ(r.body, R"({"error":"unknown camera or wrong secret","ok":false})");
  }
}

TEST(AnprPush, BadBodiesGetAClearError) {
  const std::map<std::string, std::string> h{{"X-Camera-Id", "cam-out"},
                                             {"X-Camera-Secret", "other"}};
  EXPECT_EQ(handle_anpr_push("{not json", h, cams).status, 400);
  EXPECT_EQ(handle_anpr_push("[1]", h, cams).status, 400);
  auto r = handle_anpr_push(R"({"plate":""})", h, cams);
  EXPECT_EQ(r.body, R"({"error":"plate: required","ok":false})");
  r = handle_anpr_push(R"({"plate":"A1","confidence":101})", h, cams);
  EXPECT_EQ(r.status, 400);
  r = handle_anpr_push(R"({"plate":"A1","lane":"sideways"})", h, cams);
  EXPECT_EQ(r.body, R"({"error":"lane: expected entry or exit, got 'sideways'","ok":false})");
  r = handle_anpr_push(R"({"plate":7})", h, cams);
  EXPECT_EQ(r.body, R"({"error":"plate: expected a string","ok":false})");
  r = handle_anpr_push(std::string(100, ' '), h, cams, 10);
  EXPECT_EQ(r.status, 413);
  r = handle_anpr_push(R"({"plate":"A1"})", h, cams);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.read->lane, "exit");
}

// HMAC-SHA256(key "s3cret", "1767225600\n{\"plate\":\"A1\"}"), computed with
//   printf '1767225600\n{"plate":"A1"}' | openssl dgst -sha256 -hmac s3cret
TEST(SignedPush, SignatureIsTheDocumentedHmac) {
  EXPECT_EQ(push_signature("s3cret", "1767225600", R"({"plate":"A1"})"),
            "f299c8663b63ef4d4ecd546a90f2661eb3b6aa085110e069a2c63257664286fb");
}

class SignedPushTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1767225600;
  PushGuard guard_{std::chrono::seconds(300), 4, [this] { return now_; }};
  std::map<std::string, std::string> signed_headers(const std::string& body, std::int64_t ts,
                                                    const std::string& secret = "s3cret") {
    return {{"X-Camera-Id", "cam-in"},
            {"X-Estate-Timestamp", std::to_string(ts)},
            {"X-Estate-Signature", push_signature(secret, std::to_string(ts), body)}};
  }
};

TEST_F(SignedPushTest, ASignedPushIsAcceptedOnceWithinTheWindow) {
  const std::string body = R"({"plate":"A1"})";
  auto h = signed_headers(body, now_ - 10);
  auto r = handle_anpr_push(body, h, cams, 1 << 20, &guard_);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.read);
  EXPECT_EQ(r.read->camera, "cam-in");
  // The same bytes again (a captured push replayed): refused.
  r = handle_anpr_push(body, h, cams, 1 << 20, &guard_);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"error":"replayed push: this signature was already accepted","ok":false})");
  // Signed again with a later timestamp: a new push.
  EXPECT_EQ(handle_anpr_push(body, signed_headers(body, now_), cams, 1 << 20, &guard_).status, 200);
  // Without a guard the gateway cannot refuse replays, so it refuses signed pushes.
  EXPECT_EQ(handle_anpr_push(body, signed_headers(body, now_ + 1), cams).status, 401);
}

TEST_F(SignedPushTest, StaleBadOrForeignSignaturesAreRefused) {
  const std::string body = R"({"plate":"A1"})";
  auto stale = handle_anpr_push(body, signed_headers(body, now_ - 301), cams, 1 << 20, &guard_);
  EXPECT_EQ(stale.status, 401);
  EXPECT_NE(stale.body.find("stale push"), std::string::npos);
  EXPECT_EQ(handle_anpr_push(body, signed_headers(body, now_ + 301), cams, 1 << 20, &guard_).status,
            401);
  // Signed with another camera's secret, or over another body: the same answer as a wrong secret.
  auto foreign = handle_anpr_push(body, signed_headers(body, now_, "other"), cams, 1 << 20, &guard_);
  EXPECT_EQ(foreign.body, R"({"error":"unknown camera or wrong secret","ok":false})");
  auto h = signed_headers(body, now_);
  auto changed = handle_anpr_push(R"({"plate":"B2"})", h, cams, 1 << 20, &guard_);
  EXPECT_EQ(changed.body, R"({"error":"unknown camera or wrong secret","ok":false})");
  h["X-Estate-Timestamp"] = "soon";
  EXPECT_EQ(handle_anpr_push(body, h, cams, 1 << 20, &guard_).status, 401);
}

TEST_F(SignedPushTest, ACameraThatSignsMayNotSendItsBareSecret) {
  std::vector<CameraSecret> strict{{"cam-in", "s3cret", "entry", true}};
  const std::string body = R"({"plate":"A1"})";
  auto r = handle_anpr_push(body, {{"X-Camera-Id", "cam-in"}, {"X-Camera-Secret", "s3cret"}},
                            strict, 1 << 20, &guard_);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("must sign"), std::string::npos);
  EXPECT_EQ(handle_anpr_push(body, signed_headers(body, now_), strict, 1 << 20, &guard_).status,
            200);
}

TEST_F(SignedPushTest, TheMemoryOfSignaturesIsBounded) {
  // Bounded at 4 here: a fifth verified push forgets the oldest; expired ones go first.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(guard_.first_use("cam-in", "sig" + std::to_string(i), now_));
  }
  EXPECT_FALSE(guard_.first_use("cam-in", "sig4", now_));
  EXPECT_TRUE(guard_.first_use("cam-in", "sig0", now_));  // forgotten: the bound held
  EXPECT_TRUE(guard_.first_use("cam-out", "sig4", now_));  // per camera
}

}  // namespace
}  // namespace estate::drivers::camera
