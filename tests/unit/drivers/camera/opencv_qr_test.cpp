// QR codes from camera frames with OpenCV (ESTATE_EDGE_WITH_OPENCV, on by default): codes read
// back from images made here with OpenCV's own QR encoder (PNG and JPEG, a noisy camera frame,
// two codes in one frame, refused as a push), frames without a code, and garbage refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>

#include "drivers/camera/qr_frame.hpp"

namespace estate::drivers::camera {
namespace {

const std::vector<CameraSecret> cameras{{"cam-walk", "s3cret", "entry"}};
const std::map<std::string, std::string> good{{"X-Camera-Id", "cam-walk"},
                                              {"x-camera-secret", "s3cret"}};

std::vector<std::uint8_t> encode(const cv::Mat& img, const std::string& ext) {
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, img, out));
  return out;
}

// A QR code of `text`, each module `scale` pixels, with a quiet zone, on white.
cv::Mat qr_image(const std::string& text, int scale) {
  cv::Mat code;
  cv::QRCodeEncoder::create()->encode(text, code);
  cv::Mat big;
  cv::resize(code, big, cv::Size(), scale, scale, cv::INTER_NEAREST);
  cv::Mat framed(big.rows + 8 * scale, big.cols + 8 * scale, CV_8UC1, cv::Scalar(255));
  big.copyTo(framed(cv::Rect(4 * scale, 4 * scale, big.cols, big.rows)));
  return framed;
}

const std::string pass =
    "EEP1.eyJwYXNzIjoiVi03Iiwic2l0ZSI6InRlc3Qtc2l0ZSIsImZyb20iOjAsInRvIjoxfQ."
    "c2lnbmF0dXJlLWJ5dGVzLWFyZS1ub3QtY2hlY2tlZC1oZXJl";

TEST(QrFrame, ReadsThePassFromPngAndJpegFrames) {
  ASSERT_TRUE(qr_frames_supported());
  for (const char* ext : {".png", ".jpg"}) {
    auto r = handle_frame_push(
        [&] { auto b = encode(qr_image(pass, 4), ext); return std::string(b.begin(), b.end()); }(),
        good, cameras);
    ASSERT_EQ(r.status, 200) << ext << ": " << r.body;
    ASSERT_EQ(r.codes.size(), 1u) << ext;
    EXPECT_EQ(r.codes[0], pass);
    EXPECT_EQ(r.camera, "cam-walk");
    EXPECT_EQ(nlohmann::json::parse(r.body)["codes"], 1);
  }
}

TEST(QrFrame, ACodeOnANoisyCameraFrameAndTwoCodesInOne) {
  // A 640x480 grey, noisy frame with the code pasted off-centre (a phone held to the camera).
  cv::Mat frame(480, 640, CV_8UC1);
  cv::randn(frame, 128, 30);
  cv::Mat code = qr_image(pass, 3);
  code.copyTo(frame(cv::Rect(200, 80, code.cols, code.rows)));
  auto found = read_qr_codes(encode(frame, ".png"));
  ASSERT_TRUE(found.error.empty()) << found.error;
  ASSERT_EQ(found.codes.size(), 1u);
  EXPECT_EQ(found.codes[0], pass);

  cv::Mat two(400, 900, CV_8UC1, cv::Scalar(255));
  cv::Mat a = qr_image("V-1001", 8), b = qr_image("V-1002", 8);
  a.copyTo(two(cv::Rect(20, 40, a.cols, a.rows)));
  b.copyTo(two(cv::Rect(500, 40, b.cols, b.rows)));
  found = read_qr_codes(encode(two, ".png"));
  ASSERT_TRUE(found.error.empty()) << found.error;
  std::sort(found.codes.begin(), found.codes.end());
  EXPECT_EQ(found.codes, (std::vector<std::string>{"V-1001", "V-1002"}));
  // The gate is handed neither: one pass at a time (qr_frame.hpp).
  const auto png = encode(two, ".png");
  auto r = handle_frame_push(std::string(png.begin(), png.end()), good, cameras);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(r.codes.empty());
}

TEST(QrFrame, AFrameWithoutACodeFindsNothingAndGarbageIsRefused) {
  cv::Mat blank(240, 320, CV_8UC1, cv::Scalar(200));
  auto found = read_qr_codes(encode(blank, ".png"));
  EXPECT_TRUE(found.error.empty());
  EXPECT_TRUE(found.codes.empty());
  auto r = handle_frame_push("this is not an image", good, cameras);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not an image"), std::string::npos);
  auto png = encode(qr_image(pass, 4), ".png");
  png.resize(png.size() / 2);  // a frame cut off in transit
  found = read_qr_codes(png);
  EXPECT_TRUE(found.codes.empty());
  EXPECT_EQ(handle_frame_push("", good, cameras).status, 400);
  EXPECT_EQ(handle_frame_push(std::string(100, 'x'), good, cameras, 10).status, 413);
}
}  // namespace
}  // namespace estate::drivers::camera
