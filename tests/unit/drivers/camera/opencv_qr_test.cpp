// QR codes from camera frames with OpenCV (ESTATE_EDGE_WITH_OPENCV, on by default): a signed
// pass read back from a PNG and a JPEG made by python3-qrcode and Pillow
// (drivers/camera/testdata/qr_pass.*, README.md there), and from frames made here with OpenCV's
// own QR encoder and written as PGM (a noisy camera frame, two codes in one frame, refused as a
// push); frames without a code, and garbage or a cut-off frame refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "drivers/camera/qr_frame.hpp"

namespace estate::drivers::camera {
namespace {

const std::vector<CameraSecret> cameras{{"cam-walk", "s3cret", "entry"}};
const std::map<std::string, std::string> good{{"X-Camera-Id", "cam-walk"},
                                              {"x-camera-secret", "s3cret"}};

// An 8-bit grey image as a binary PGM (netpbm P5): the header, then the rows' bytes.
std::vector<std::uint8_t> pgm(const cv::Mat& img) {
  EXPECT_EQ(img.type(), CV_8UC1);
  const std::string header =
      "P5\n" + std::to_string(img.cols) + " " + std::to_string(img.rows) + "\n255\n";
  std::vector<std::uint8_t> out(header.begin(), header.end());
  for (int y = 0; y < img.rows; ++y) out.insert(out.end(), img.ptr(y), img.ptr(y) + img.cols);
  return out;
}

std::string fixture(const std::string& name) {
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "drivers/camera/testdata" / name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

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
  for (const char* name : {"qr_pass.png", "qr_pass.jpg"}) {
    auto r = handle_frame_push(fixture(name), good, cameras);
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    ASSERT_EQ(r.codes.size(), 1u) << name;
    EXPECT_EQ(r.codes[0], pass);
    EXPECT_EQ(r.camera, "cam-walk");
    EXPECT_EQ(nlohmann::json::parse(r.body)["codes"], 1);
  }
  // The same code made here by OpenCV's encoder, as a PGM.
  auto found = read_qr_codes(pgm(qr_image(pass, 4)));
  ASSERT_TRUE(found.error.empty()) << found.error;
  ASSERT_EQ(found.codes.size(), 1u);
  EXPECT_EQ(found.codes[0], pass);
}

TEST(QrFrame, ACodeOnANoisyCameraFrameAndTwoCodesInOne) {
  // A 640x480 grey, noisy frame with the code pasted off-centre (a phone held to the camera).
  cv::Mat frame(480, 640, CV_8UC1);
  cv::randn(frame, 128, 30);
  cv::Mat code = qr_image(pass, 3);
  code.copyTo(frame(cv::Rect(200, 80, code.cols, code.rows)));
  auto found = read_qr_codes(pgm(frame));
  ASSERT_TRUE(found.error.empty()) << found.error;
  ASSERT_EQ(found.codes.size(), 1u);
  EXPECT_EQ(found.codes[0], pass);

  cv::Mat two(400, 900, CV_8UC1, cv::Scalar(255));
  cv::Mat a = qr_image("V-1001", 8), b = qr_image("V-1002", 8);
  a.copyTo(two(cv::Rect(20, 40, a.cols, a.rows)));
  b.copyTo(two(cv::Rect(500, 40, b.cols, b.rows)));
  found = read_qr_codes(pgm(two));
  ASSERT_TRUE(found.error.empty()) << found.error;
  std::sort(found.codes.begin(), found.codes.end());
  EXPECT_EQ(found.codes, (std::vector<std::string>{"V-1001", "V-1002"}));
  // The gate is handed neither: one pass at a time (qr_frame.hpp).
  const auto frame_two = pgm(two);
  auto r = handle_frame_push(std::string(frame_two.begin(), frame_two.end()), good, cameras);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(r.codes.empty());
}

TEST(QrFrame, AFrameWithoutACodeFindsNothingAndGarbageIsRefused) {
  cv::Mat blank(240, 320, CV_8UC1, cv::Scalar(200));
  auto found = read_qr_codes(pgm(blank));
  EXPECT_TRUE(found.error.empty());
  EXPECT_TRUE(found.codes.empty());
  auto r = handle_frame_push("this is not an image", good, cameras);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not an image"), std::string::npos);
  for (const char* name : {"qr_pass.png", "qr_pass.jpg"}) {
    auto cut = fixture(name);
    cut.resize(cut.size() / 2);  // a frame cut off in transit: refused, nothing decided
    found = read_qr_codes(bytes(cut));
    EXPECT_TRUE(found.codes.empty()) << name;
    EXPECT_EQ(found.error.rfind("truncated ", 0), 0u) << name << ": " << found.error;
    r = handle_frame_push(cut, good, cameras);
    EXPECT_EQ(r.status, 400) << name;
    EXPECT_NE(r.body.find("truncated"), std::string::npos) << r.body;
  }
  EXPECT_EQ(handle_frame_push("", good, cameras).status, 400);
  EXPECT_EQ(handle_frame_push(std::string(100, 'x'), good, cameras, 10).status, 413);
}
}  // namespace
}  // namespace estate::drivers::camera
