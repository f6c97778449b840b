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
  EXPECT_EQ(r.read->snapshot, "AAA=");
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

}  // namespace
}  // namespace estate::drivers::camera
