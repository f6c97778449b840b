// QR codes from camera frames: the push's authentication in every build, and the "not built"
// answer of a build without OpenCV (opencv_qr_test.cpp reads real frames in a build with it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "drivers/camera/qr_frame.hpp"

namespace estate::drivers::camera {
namespace {

const std::vector<CameraSecret> cameras{{"cam-walk", "s3cret", "entry"}};
const std::map<std::string, std::string> good{{"X-Camera-Id", "cam-walk"},
                                              {"x-camera-secret", "s3cret"}};

TEST(QrFrame, UnknownCameraOrWrongSecretIsRefusedAlike) {
  auto r = handle_frame_push("x", {{"X-Camera-Id", "cam-walk"}, {"X-Camera-Secret", "nope"}}, cameras);
  EXPECT_EQ(r.status, 401);
  auto r2 = handle_frame_push("x", {{"X-Camera-Id", "cam-x"}, {"X-Camera-Secret", "s3cret"}}, cameras);
  EXPECT_EQ(r2.status, 401);
  EXPECT_EQ(r.body, r2.body);
  EXPECT_EQ(handle_frame_push("x", {{"X-Camera-Secret", "s3cret"}}, cameras).status, 400);
  EXPECT_TRUE(handle_frame_push("x", {{"X-Camera-Id", "cam-walk"}}, cameras).codes.empty());
}

TEST(QrFrame, AFrameIsNotImplementedInABuildWithoutOpenCv) {
  if (qr_frames_supported()) GTEST_SKIP() << "built with OpenCV: opencv_qr_test.cpp reads frames";
  auto r = handle_frame_push("\x89PNG", good, cameras);
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.body.find("ESTATE_EDGE_WITH_OPENCV"), std::string::npos);
  EXPECT_TRUE(r.codes.empty());
}

}  // namespace
}  // namespace estate::drivers::camera
