// The frame decoder of the OpenCV target (drivers/camera/grey_frame.hpp; the file name's
// opencv_ prefix builds it only with ESTATE_EDGE_WITH_OPENCV, as the decoder). Each format to
// the right size and grey values: PNG and JPEG files written by Pillow, python3-qrcode and
// zlib (drivers/camera/testdata/README.md, make_grey_fixtures.py), BMP from Pillow and written
// byte by byte here, PNM written here; frames cut short or corrupt give an error, never a crash.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "drivers/camera/grey_frame.hpp"

namespace estate::drivers::camera {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes fixture(const std::string& name) {
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "drivers/camera/testdata" / name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Decodes as read_qr_codes does: the header first, then the decoder with it.
GreyFrame decode(const Bytes& image) {
  const auto header = read_image_header(image);
  if (!header) {
    GreyFrame none;
    none.error = "(test) header not read";
    return none;
  }
  return decode_grey_frame(image, *header);
}

// BT.601 luma of the fixtures' colours (make_grey_fixtures.py COLOURS), rounded:
// red, green, blue, white, black, (200, 120, 40).
const std::array<int, 6> colour_luma{76, 150, 29, 255, 0, 135};

int ramp(std::uint32_t x, std::uint32_t y) { return static_cast<int>((37 * x + 11 * y) % 256); }

int at(const GreyFrame& f, std::uint32_t x, std::uint32_t y) {
  return f.pixels.at(std::size_t{y} * f.width + x);
}

void expect_size(const GreyFrame& f, std::uint32_t w, std::uint32_t h) {
  ASSERT_TRUE(f.error.empty()) << f.error;
  ASSERT_EQ(f.width, w);
  ASSERT_EQ(f.height, h);
  ASSERT_EQ(f.pixels.size(), std::size_t{w} * h);
}

TEST(GreyFrame, PngGreyOf8And16BitsInterlacedAnd1Bit) {
  struct File {
    const char* name;
    std::uint32_t width, height;
    bool threshold;  // the 1-bit file: the ramp cut at 128 (Pillow's convert("1"), no dither)
  };
  for (const auto& [name, w, h, threshold] :
       {File{"grey_ramp.png", 7, 5, false}, File{"grey_ramp_16bit.png", 7, 5, false},
        File{"grey_ramp_interlaced.png", 9, 9, false}, File{"bits_1.png", 7, 5, true}}) {
    SCOPED_TRACE(name);
    const auto f = decode(fixture(name));
    expect_size(f, w, h);
    for (std::uint32_t y = 0; y < h; ++y) {
      for (std::uint32_t x = 0; x < w; ++x) {
        const int want = threshold ? (ramp(x, y) >= 128 ? 255 : 0) : ramp(x, y);
        ASSERT_EQ(at(f, x, y), want) << "x " << x << " y " << y;
      }
    }
  }
}

TEST(GreyFrame, PngColourPaletteAndAlphaReadAsLuma) {
  // libpng's rgb_to_gray with the BT.601 weights may round a step below ours.
  for (const char* name : {"colours_rgb.png", "colours_rgba.png", "colours_palette.png"}) {
    SCOPED_TRACE(name);
    const auto f = decode(fixture(name));
    expect_size(f, 6, 4);
    for (std::uint32_t y = 0; y < 4; ++y) {
      for (std::uint32_t x = 0; x < 6; ++x) EXPECT_NEAR(at(f, x, y), colour_luma[x], 1) << x;
    }
  }
}

TEST(GreyFrame, JpegGreyColourAndProgressive) {
  // 32 x 16, the left 16 columns flat, the right 16 another flat value: grey 40 | 200, and red
  // | blue (luma 76 | 29) in baseline 4:2:0 and progressive files.
  const std::vector<std::tuple<const char*, int, int>> files{
      {"blocks_grey.jpg", 40, 200}, {"blocks_colour.jpg", 76, 29}, {"blocks_progressive.jpg", 76, 29}};
  for (const auto& [name, left, right] : files) {
    SCOPED_TRACE(name);
    const auto f = decode(fixture(name));
    expect_size(f, 32, 16);
    for (std::uint32_t y = 0; y < 16; ++y) {
      for (std::uint32_t x = 0; x < 32; ++x) {
        ASSERT_NEAR(at(f, x, y), x < 16 ? left : right, 1) << "x " << x << " y " << y;
      }
    }
  }
  const auto qr = decode(fixture("qr_pass.jpg"));
  expect_size(qr, 212, 212);
  EXPECT_GT(at(qr, 2, 2), 200);    // the quiet zone (4 modules of 4 pixels), white
  EXPECT_LT(at(qr, 17, 30), 60);   // the top-left finder's dark outer ring (pixels 16-19)
  EXPECT_GT(at(qr, 21, 30), 200);  // its light ring (20-23)
}

TEST(GreyFrame, BmpWrittenByPillow) {
  for (const char* name : {"colours_palette8.bmp", "colours_rgb24.bmp", "colours_rgba32.bmp"}) {
    SCOPED_TRACE(name);
    const auto f = decode(fixture(name));
    expect_size(f, 6, 4);
    for (std::uint32_t y = 0; y < 4; ++y) {
      for (std::uint32_t x = 0; x < 6; ++x) EXPECT_EQ(at(f, x, y), colour_luma[x]) << x;
    }
  }
}

// A BMP with a 40-byte BITMAPINFOHEADER: `rows` are the stored rows (bottom-up when height > 0)
// without their padding to 4 bytes; `palette` entries are R, G, B.
Bytes bmp(std::int32_t width, std::int32_t height, std::uint16_t bits,
          const std::vector<Bytes>& rows, const std::vector<std::array<std::uint8_t, 3>>& palette = {},
          std::uint32_t compression = 0) {
  Bytes b;
  auto u16 = [&](std::uint32_t v) { b.push_back(v & 0xFF); b.push_back((v >> 8) & 0xFF); };
  auto u32 = [&](std::uint32_t v) { u16(v & 0xFFFF); u16(v >> 16); };
  const std::uint32_t offset = 14 + 40 + 4 * static_cast<std::uint32_t>(palette.size());
  b.push_back('B');
  b.push_back('M');
  u32(0);  // file size: not read
  u32(0);
  u32(offset);
  u32(40);
  u32(static_cast<std::uint32_t>(width));
  u32(static_cast<std::uint32_t>(height));
  u16(1);
  u16(bits);
  u32(compression);
  u32(0);
  u32(2835);
  u32(2835);
  u32(static_cast<std::uint32_t>(palette.size()));
  u32(0);
  for (const auto& c : palette) {
    for (auto v : {c[2], c[1], c[0], std::uint8_t{0}}) b.push_back(v);
  }
  for (const auto& row : rows) {
    b.insert(b.end(), row.begin(), row.end());
    b.resize(b.size() + (4 - row.size() % 4) % 4, 0);
  }
  return b;
}

// The fixtures' colours as stored B, G, R bytes.
Bytes bgr(std::initializer_list<int> colours, bool with_alpha = false) {
  static const std::array<std::array<std::uint8_t, 3>, 6> rgb{
      {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}, {0, 0, 0}, {200, 120, 40}}};
  Bytes out;
  for (int c : colours) {
    out.insert(out.end(), {rgb[c][2], rgb[c][1], rgb[c][0]});
    if (with_alpha) out.push_back(0x80);
  }
  return out;
}

std::vector<int> row(const GreyFrame& f, std::uint32_t y) {
  return {f.pixels.begin() + y * f.width, f.pixels.begin() + (y + 1) * f.width};
}

TEST(GreyFrame, BmpOfEachDepthBottomUpAndTopDown) {
  // 3 x 2 of 24 bits: top row red, green, blue; bottom row white, black, (200, 120, 40). Rows
  // of 9 bytes padded to 12.
  const std::vector<int> top{76, 150, 29}, bottom{255, 0, 135};
  auto up = decode(bmp(3, 2, 24, {bgr({3, 4, 5}), bgr({0, 1, 2})}));
  expect_size(up, 3, 2);
  EXPECT_EQ(row(up, 0), top);
  EXPECT_EQ(row(up, 1), bottom);
  auto down = decode(bmp(3, -2, 24, {bgr({0, 1, 2}), bgr({3, 4, 5})}));
  expect_size(down, 3, 2);
  EXPECT_EQ(row(down, 0), top);
  EXPECT_EQ(row(down, 1), bottom);
  auto bgra = decode(bmp(3, -2, 32, {bgr({0, 1, 2}, true), bgr({3, 4, 5}, true)}));
  expect_size(bgra, 3, 2);
  EXPECT_EQ(row(bgra, 0), top);
  EXPECT_EQ(row(bgra, 1), bottom);
  // Palettes: 8 bits (index per byte), 4 bits and 1 bit (leftmost pixel in the high bits).
  const std::vector<std::array<std::uint8_t, 3>> palette{{0, 0, 0}, {255, 255, 255}, {200, 120, 40}};
  auto p8 = decode(bmp(3, 2, 8, {{1, 1, 0}, {2, 0, 1}}, palette));
  expect_size(p8, 3, 2);
  EXPECT_EQ(row(p8, 0), (std::vector<int>{135, 0, 255}));
  EXPECT_EQ(row(p8, 1), (std::vector<int>{255, 255, 0}));
  auto p4 = decode(bmp(3, -1, 4, {{0x21, 0x00}}, palette));
  expect_size(p4, 3, 1);
  EXPECT_EQ(row(p4, 0), (std::vector<int>{135, 255, 0}));
  auto p1 = decode(bmp(10, -1, 1, {{0xA0, 0x40}}, {{0, 0, 0}, {255, 255, 255}}));
  expect_size(p1, 10, 1);
  EXPECT_EQ(row(p1, 0), (std::vector<int>{255, 0, 255, 0, 0, 0, 0, 0, 0, 255}));
  // The OS/2 core header: 12 bytes, 16-bit sizes, always bottom-up.
  Bytes core{'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 26, 0, 0, 0, 12, 0, 0, 0, 2, 0, 2, 0, 1, 0, 24, 0};
  for (const auto& r : {bgr({3, 4}), bgr({0, 5})}) {
    core.insert(core.end(), r.begin(), r.end());
    core.resize(core.size() + 2, 0);
  }
  auto os2 = decode(core);
  expect_size(os2, 2, 2);
  EXPECT_EQ(row(os2, 0), (std::vector<int>{76, 135}));
  EXPECT_EQ(row(os2, 1), (std::vector<int>{255, 0}));
}

TEST(GreyFrame, CompressedAnd16BitBmpAreRefusedByName) {
  const auto rle = decode(bmp(2, 2, 8, {{0, 0}, {0, 0}}, {{0, 0, 0}}, 1));
  EXPECT_EQ(rle.error,
            "BMP compression 1 (BI_RLE8) not read: only uncompressed BMP (BI_RGB) is decoded");
  EXPECT_TRUE(rle.pixels.empty());
  EXPECT_NE(decode(bmp(2, 2, 32, {Bytes(8), Bytes(8)}, {}, 3)).error.find("(BI_BITFIELDS) not read"),
            std::string::npos);
  EXPECT_EQ(decode(bmp(2, 2, 16, {Bytes(4), Bytes(4)})).error,
            "BMP of 16 bits per pixel not read (1, 4, 8, 24 or 32)");
}

TEST(GreyFrame, PnmOfEachKind) {
  // P2: maxval 15 scaled to 255 (x 17); a comment in the header.
  auto p2 = decode(bytes("P2\n# grey\n3 2\n15\n0 5 15\n15 10 0\n"));
  expect_size(p2, 3, 2);
  EXPECT_EQ(row(p2, 0), (std::vector<int>{0, 85, 255}));
  EXPECT_EQ(row(p2, 1), (std::vector<int>{255, 170, 0}));
  auto p5 = decode(bytes(std::string("P5 3 2 255\n\x00\x80\xff\x01\x02\x03", 17)));
  expect_size(p5, 3, 2);
  EXPECT_EQ(row(p5, 0), (std::vector<int>{0, 128, 255}));
  EXPECT_EQ(row(p5, 1), (std::vector<int>{1, 2, 3}));
  // 16-bit samples, most significant byte first.
  auto p5_16 = decode(bytes(std::string("P5 3 1 65535\n\x00\x00\x80\x00\xff\xff", 19)));
  expect_size(p5_16, 3, 1);
  EXPECT_EQ(row(p5_16, 0), (std::vector<int>{0, 128, 255}));
  // Colour: red, green | blue, (200, 120, 40).
  auto p3 = decode(bytes("P3 2 2 255\n255 0 0  0 255 0\n0 0 255  200 120 40\n"));
  expect_size(p3, 2, 2);
  EXPECT_EQ(row(p3, 0), (std::vector<int>{76, 150}));
  EXPECT_EQ(row(p3, 1), (std::vector<int>{29, 135}));
  auto p6 = decode(bytes(std::string("P6\n2 1\n255\n\xff\x00\x00\xc8\x78\x28", 17)));
  expect_size(p6, 2, 1);
  EXPECT_EQ(row(p6, 0), (std::vector<int>{76, 135}));
  // Bitmaps: 1 is black; the plain form needs no space between pixels, the raw one packs 8 to
  // a byte and starts each row on a byte.
  auto p1 = decode(bytes("P1\n4 2\n0 1 0 1\n1100\n"));
  expect_size(p1, 4, 2);
  EXPECT_EQ(row(p1, 0), (std::vector<int>{255, 0, 255, 0}));
  EXPECT_EQ(row(p1, 1), (std::vector<int>{0, 0, 255, 255}));
  auto p4 = decode(bytes(std::string("P4 10 2\n\xa0\x40\xff\xc0", 12)));
  expect_size(p4, 10, 2);
  EXPECT_EQ(row(p4, 0), (std::vector<int>{0, 255, 0, 255, 255, 255, 255, 255, 255, 0}));
  EXPECT_EQ(row(p4, 1), std::vector<int>(10, 0));
  EXPECT_EQ(decode(bytes("P2 1 1 0\n0\n")).error, "PNM maxval missing or not in 1-65535");
  EXPECT_EQ(decode(bytes("P1 2 1 0 2\n")).error, "PNM bitmap pixel not 0 or 1 at row 0 of 1");
}

TEST(GreyFrame, AnotherSizeThanTheHeaderDeclaresIsAnError) {
  for (const char* name : {"grey_ramp.png", "blocks_grey.jpg"}) {
    auto header = read_image_header(fixture(name));
    ASSERT_TRUE(header);
    header->width += 1;
    const auto f = decode_grey_frame(fixture(name), *header);
    EXPECT_EQ(f.error, "image decoded to another size than its header declares") << name;
    EXPECT_TRUE(f.pixels.empty());
  }
  EXPECT_EQ(decode_grey_frame(bytes("P5 0 4 255\n"), {"pnm", 0, 4}).error,
            "image of no pixels (0 x 4)");
}

TEST(GreyFrame, TruncatedFramesAreErrorsNamingTheRow) {
  auto cut = [](Bytes b, double keep) {
    b.resize(static_cast<std::size_t>(static_cast<double>(b.size()) * keep));
    return b;
  };
  const auto jpeg = decode(cut(fixture("qr_pass.jpg"), 0.6));
  EXPECT_EQ(jpeg.error.rfind("truncated JPEG at row ", 0), 0u) << jpeg.error;
  EXPECT_NE(jpeg.error.find(" of 212"), std::string::npos) << jpeg.error;
  EXPECT_TRUE(jpeg.pixels.empty());
  const auto png = decode(cut(fixture("qr_pass.png"), 0.5));
  EXPECT_EQ(png.error.rfind("truncated PNG at row ", 0), 0u) << png.error;
  const auto interlaced = decode(cut(fixture("grey_ramp_interlaced.png"), 0.8));
  EXPECT_EQ(interlaced.error.rfind("truncated PNG at row ", 0), 0u) << interlaced.error;
  EXPECT_NE(interlaced.error.find("(interlace pass "), std::string::npos) << interlaced.error;
  auto b = bmp(3, 2, 24, {bgr({3, 4, 5}), bgr({0, 1, 2})});
  b.resize(b.size() - 4);  // the top row stored last, cut inside its pixels
  EXPECT_EQ(decode(b).error, "truncated BMP at row 1 of 2 (rows stored bottom-up)");
  auto p = bmp(3, 2, 8, {{1, 1, 0}, {2, 0, 1}}, std::vector<std::array<std::uint8_t, 3>>(256));
  p.resize(200);
  EXPECT_EQ(decode(p).error, "truncated BMP in its palette");
  EXPECT_EQ(decode(bytes(std::string("P5 3 2 255\n\x00\x80\xff\x01", 15))).error,
            "truncated PNM at row 1 of 2");
  EXPECT_EQ(decode(bytes("P2 3 2 255\n0 1 2 3 4")).error, "truncated PNM at row 1 of 2");
  EXPECT_EQ(decode(bytes("P4 10 2\n\xa0\x40")).error, "truncated PNM at row 1 of 2");
}

TEST(GreyFrame, EveryCutAndCorruptionOfAFrameIsAnErrorOrAnImageNeverACrash) {
  // Every cut of each file before its end is an error; only the PNG's IEND chunk (12 bytes),
  // the JPEG's EOI marker (2 bytes) and the padding of the BMP's last stored row (2 bytes here)
  // may go missing.
  for (const auto& [name, tail] : std::vector<std::pair<const char*, std::size_t>>{
           {"qr_pass.jpg", 2}, {"blocks_progressive.jpg", 2}, {"qr_pass.png", 12},
           {"grey_ramp_interlaced.png", 12}, {"colours_palette8.bmp", 2}}) {
    const auto whole = fixture(name);
    ASSERT_TRUE(decode(whole).error.empty()) << name;
    const std::size_t step = whole.size() > 2000 ? 7 : 1;
    for (std::size_t n = 0; n + tail < whole.size(); n += step) {
      const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
      const auto f = decode(part);
      ASSERT_FALSE(f.error.empty()) << name << " cut to " << n << " bytes decoded";
      ASSERT_TRUE(f.pixels.empty());
    }
    // Bytes flipped anywhere: decoded (libjpeg steps over corrupt entropy data) or refused.
    for (std::size_t i = 0; i < whole.size(); i += step * 3) {
      Bytes bad = whole;
      bad[i] ^= 0x5A;
      const auto f = decode(bad);
      if (f.error.empty()) {
        ASSERT_EQ(f.pixels.size(), std::size_t{f.width} * f.height) << name << " byte " << i;
      }
    }
  }
}

}  // namespace
}  // namespace estate::drivers::camera
