// QR codes from camera frames: the push's authentication in every build, the image header read
// before anything is decoded (the 50-megapixel frame refused by its header alone), and the "not
// built" answer of a build without OpenCV (opencv_qr_test.cpp reads real frames with it).
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

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// A PNG of only its signature and IHDR chunk (no image data): what the header declares.
std::string png_header_only(std::uint32_t w, std::uint32_t h) {
  std::string s("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  for (auto v : {w, h}) {
    for (int shift : {24, 16, 8, 0}) s += static_cast<char>((v >> shift) & 0xFF);
  }
  s += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit grey; no CRC, no IDAT: never decodable
  return s;
}

TEST(ImageHeader, ReadsTheDeclaredSizeOfEachFormat) {
  auto png = read_image_header(bytes(png_header_only(8660, 5774)));
  ASSERT_TRUE(png);
  EXPECT_EQ(png->format, "png");
  EXPECT_EQ(png->width, 8660u);
  EXPECT_EQ(png->height, 5774u);
  // JPEG: SOI, an APP0 segment to skip, fill bytes, then SOF0 (height 1080, width 1920).
  const std::string jpeg("\xFF\xD8\xFF\xE0\x00\x04" "ab\xFF\xFF\xC0\x00\x0B\x08\x04\x38\x07\x80\x01"
                         "\x01\x11\x00", 23);
  auto j = read_image_header(bytes(jpeg));
  ASSERT_TRUE(j);
  EXPECT_EQ(j->format, "jpeg");
  EXPECT_EQ(j->width, 1920u);
  EXPECT_EQ(j->height, 1080u);
  std::string bmp("BM", 2);
  bmp += std::string(12, '\0');
  bmp += std::string("\x28\0\0\0\x80\x02\0\0\x20\xFE\xFF\xFF", 12);  // 640 x -480 (top-down)
  auto b = read_image_header(bytes(bmp));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->width, 640u);
  EXPECT_EQ(b->height, 480u);
  auto p = read_image_header(bytes("P5\n# a comment\n360 260\n255\n"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->format, "pnm");
  EXPECT_EQ(p->width, 360u);
  EXPECT_EQ(p->height, 260u);
  // Not read: other formats, cut-short headers, a JPEG whose scan comes before any frame header.
  EXPECT_FALSE(read_image_header(bytes("GIF89a\x10\x00\x10\x00")));
  EXPECT_FALSE(read_image_header(bytes(png_header_only(10, 10).substr(0, 20))));
  EXPECT_FALSE(read_image_header(bytes(std::string("\xFF\xD8\xFF\xDA\x00\x02", 6))));
  EXPECT_FALSE(read_image_header(bytes("P5 360")));
  EXPECT_FALSE(read_image_header(bytes("P7\nWIDTH 4\n")));
}

TEST(ImageHeader, A50MegapixelFrameIsRefusedByItsHeaderWithoutDecoding) {
  const auto frame = png_header_only(8660, 5774);  // 50.0 MP declared in 33 bytes
  auto r = check_frame_push(frame, good, cameras);
  if (!qr_frames_supported()) {
    EXPECT_EQ(r.status, 501);
    return;
  }
  EXPECT_FALSE(r.decode);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.camera, "cam-walk");
  EXPECT_NE(r.body.find("8660 x 5774 pixels (50.0 MP)"), std::string::npos) << r.body;
  // read_qr_codes checks the header too: the same bytes never reach the decoder, whose answer
  // for a PNG without image data would be "not an image".
  EXPECT_EQ(read_qr_codes(bytes(frame)).error, "frame larger than 4096 x 4096 pixels");
  // A 4096 x 4096 header passes the checks (and is then handed to the decoder).
  EXPECT_TRUE(check_frame_push(png_header_only(4096, 4096), good, cameras).decode);
  EXPECT_EQ(check_frame_push("GIF89a....", good, cameras).status, 400);
}

}  // namespace
}  // namespace estate::drivers::camera
