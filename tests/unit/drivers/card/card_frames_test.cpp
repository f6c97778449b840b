// Card reader frames: captured frames per model with the card number each must give, the
// Wiegand parity rules, and what the scanner does with garbage, half frames and bad checks.
#include <gtest/gtest.h>

#include "drivers/card/card_frames.hpp"

namespace estate::drivers::card {
namespace {

std::vector<std::uint8_t> bytes(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

struct Case {
  std::string_view model;
  std::string_view frame;  // hex, as read from the line
  int address;             // -1: the format has none
  std::string_view card;
};

// Frames written by tests/sim/card_reader_sim.py (an encoder independent of this code).
constexpr Case cases[] = {
    {"generic-485", "02010404a1b2c3d103", 1, "04A1B2C3"},
    {"generic-485", "020207041122334455667603", 2, "04112233445566"},
    {"ascii-hex", "023034413142324333" "0d0a03", -1, "04A1B2C3"},
    {"wiegand-485", "02031a896a18c0e803", 3, "12D431"},  // W26: facility 18, number 54321
};

TEST(CardFrames, CapturedFramesDecode) {
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.model) + " " + std::string(c.frame));
    const auto* f = find_format(c.model);
    ASSERT_NE(f, nullptr);
    const auto b = bytes(c.frame);
    auto s = scan_frame(*f, b);
    ASSERT_EQ(s.status, FrameScan::Status::complete) << s.message;
    EXPECT_EQ(s.length, b.size());
    std::string err;
    auto r = decode_frame(*f, b, err);
    ASSERT_TRUE(r) << err;
    EXPECT_EQ(r->card, c.card);
    EXPECT_EQ(r->address.value_or(-1), c.address);
    // Every prefix of the frame is "need more", never complete or invalid.
    for (std::size_t n = 1; n < b.size(); ++n) {
      EXPECT_EQ(scan_frame(*f, std::span(b).first(n)).status, FrameScan::Status::need_more) << n;
    }
  }
}

TEST(CardFrames, EncodersRoundTrip) {
  const auto* g = find_format("generic-485");
  const std::vector<std::uint8_t> uid{0x04, 0xA1, 0xB2, 0xC3};
  EXPECT_EQ(encode_uid(*g, 1, uid), bytes("02010404a1b2c3d103"));
  const auto* w = find_format("wiegand-485");
  EXPECT_EQ(encode_wiegand(*w, 3, 26, 18, 54321), bytes("02031a896a18c0e803"));
  std::string err;
  for (std::uint32_t n : {0u, 1u, 0x7FFFFFFFu, 0xFFFFFFFFu, 0x80000001u}) {
    auto r = decode_frame(*w, encode_wiegand(*w, 9, 34, 0, n), err);
    ASSERT_TRUE(r) << err;
    char expect[9];
    std::snprintf(expect, sizeof expect, "%08X", n);
    EXPECT_EQ(r->card, expect);
    EXPECT_EQ(r->wiegand_bits, 34);
  }
}

TEST(CardFrames, WiegandParityErrorsAreBadChecks) {
  const auto* w = find_format("wiegand-485");
  for (int bit : {0, 5, 25}) {
    auto f = encode_wiegand(*w, 3, 26, 18, 54321);
    f[3 + bit / 8] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    f[f.size() - 2] = 0;
    for (std::size_t i = 1; i + 2 < f.size(); ++i) f[f.size() - 2] = static_cast<std::uint8_t>(f[f.size() - 2] + f[i]);
    auto s = scan_frame(*w, f);
    EXPECT_EQ(s.status, FrameScan::Status::bad_checksum) << "bit " << bit;
    EXPECT_EQ(s.skip, f.size());
  }
  // A bit count other than 26 or 34 is not a Wiegand frame.
  auto s = scan_frame(*w, bytes("02031b"));
  EXPECT_EQ(s.status, FrameScan::Status::invalid);
}

TEST(CardFrames, GarbageHalfFramesAndBadChecks) {
  const auto* g = find_format("generic-485");
  // Bytes before STX: skip up to the next STX.
  auto s = scan_frame(*g, bytes("ffff0002"));
  EXPECT_EQ(s.status, FrameScan::Status::invalid);
  EXPECT_EQ(s.skip, 3u);
  // A UID length the reader cannot send.
  s = scan_frame(*g, bytes("020120"));
  EXPECT_EQ(s.status, FrameScan::Status::invalid);
  // A wrong BCC: the whole frame is dropped.
  s = scan_frame(*g, bytes("02010401020304" "00" "03"));
  EXPECT_EQ(s.status, FrameScan::Status::bad_checksum);
  EXPECT_EQ(s.skip, 9u);
  // No ETX where it belongs.
  s = scan_frame(*g, bytes("02010401020304" "01" "04"));
  EXPECT_EQ(s.status, FrameScan::Status::invalid);
  // ASCII: a non-hex character, an odd digit count, too many digits.
  const auto* a = find_format("ascii-hex");
  EXPECT_EQ(scan_frame(*a, bytes("0230344731")).status, FrameScan::Status::invalid);
  EXPECT_EQ(scan_frame(*a, bytes("02303441314232433" "30" "0d0a03")).status,
            FrameScan::Status::invalid);
  std::string many = "02";
  for (int i = 0; i < 21; ++i) many += "3030";
  EXPECT_EQ(scan_frame(*a, bytes(many)).status, FrameScan::Status::invalid);
  // Lower-case hex text is read upper case.
  std::string err;
  auto r = decode_frame(*a, bytes("023034613162326333" "0d0a03"), err);
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->card, "04A1B2C3");
}

TEST(CardFrames, ScannedTextLines) {
  const auto* q = find_format("qr-text");
  ASSERT_NE(q, nullptr);
  const std::string line = "EEP1.abc-_.xyz\r";
  std::vector<std::uint8_t> b(line.begin(), line.end());
  auto s = scan_frame(*q, b);
  ASSERT_EQ(s.status, FrameScan::Status::complete);
  std::string err;
  auto r = decode_frame(*q, b, err);
  ASSERT_TRUE(r) << err;
  EXPECT_EQ(r->card, "EEP1.abc-_.xyz");
  EXPECT_TRUE(r->qr);
  // The LF after the previous line's CR is skipped, not an error.
  std::vector<std::uint8_t> lf{0x0A, 'A', 'B', 0x0D};
  s = scan_frame(*q, lf);
  ASSERT_EQ(s.status, FrameScan::Status::complete);
  EXPECT_EQ(s.length, 3u);
  EXPECT_EQ(s.skip, 1u);
  // Control bytes in the text, and text without an end, are dropped.
  std::vector<std::uint8_t> bad{'A', 0x01, 'B', 0x0D};
  s = scan_frame(*q, bad);
  EXPECT_EQ(s.status, FrameScan::Status::invalid);
  EXPECT_EQ(s.skip, 2u);
  std::vector<std::uint8_t> long_line(1001, 'A');
  EXPECT_EQ(scan_frame(*q, long_line).status, FrameScan::Status::invalid);
}

TEST(CardFrames, UnknownModelAndTheListOfKnownOnes) {
  EXPECT_EQ(find_format("nope"), nullptr);
  EXPECT_EQ(known_models(), "generic-485, ascii-hex, wiegand-485, qr-text, decimal-text, hex-text");
  EXPECT_NE(find_format(default_model), nullptr);
}

}  // namespace
}  // namespace estate::drivers::card
