// EN 13757-2 link layer: the stream scanner, frame parsing errors and the request encoders.
#include <gtest/gtest.h>

#include "protocols/common/hex.hpp"
#include "protocols/mbus/application.hpp"
#include "protocols/mbus/link.hpp"

namespace {

using namespace estate::protocols;
using namespace estate::protocols::mbus;

Bytes hex(std::string_view s) { return parse_hex(s).value(); }

// A real RSP_UD (GWF MTKcoder water meter, from libmbus's test frames).
const Bytes kGwf = hex(
    "68 1B 1B 68 08 01 72 07 20 18 00 E6 1E 35 07 4C 00 00 00 0C 78 07 20 18 00 0C 16 69 02 00 "
    "00 96 16");

TEST(MbusScan, AckIsOneByte) {
  auto s = scan_frame(hex("E5 10"));
  EXPECT_EQ(s.status, FrameScan::Status::complete);
  EXPECT_EQ(s.length, 1u);
}

TEST(MbusScan, EmptyBufferNeedsOneByte) {
  auto s = scan_frame({});
  EXPECT_EQ(s.status, FrameScan::Status::need_more);
  EXPECT_EQ(s.length, 1u);
}

TEST(MbusScan, ByteByByteLongFrameSaysHowMuchIsMissing) {
  for (std::size_t n = 1; n < kGwf.size(); ++n) {
    auto s = scan_frame(std::span(kGwf).first(n));
    ASSERT_EQ(s.status, FrameScan::Status::need_more) << "at " << n;
    if (n >= 4) EXPECT_EQ(s.length, kGwf.size() - n) << "at " << n;
    else EXPECT_GE(s.length, 1u);
  }
  auto s = scan_frame(kGwf);
  EXPECT_EQ(s.status, FrameScan::Status::complete);
  EXPECT_EQ(s.length, kGwf.size());
}

TEST(MbusScan, A16InsideTheDataDoesNotEndTheFrame) {
  // kGwf[26] is 0x16 (a VIF); the scanner must keep waiting for the length-given end.
  ASSERT_EQ(kGwf[26], 0x16);
  auto s = scan_frame(std::span(kGwf).first(27));
  EXPECT_EQ(s.status, FrameScan::Status::need_more);
  EXPECT_EQ(s.length, kGwf.size() - 27);
}

TEST(MbusScan, CompleteFrameFollowedByMoreBytesReportsItsLength) {
  Bytes two = kGwf;
  two.push_back(0xE5);
  auto s = scan_frame(two);
  EXPECT_EQ(s.status, FrameScan::Status::complete);
  EXPECT_EQ(s.length, kGwf.size());
}

TEST(MbusScan, ErrorsNameTheOffendingByte) {
  auto bad_start = scan_frame(hex("55 10 5B"));
  EXPECT_EQ(bad_start.status, FrameScan::Status::error);
  EXPECT_EQ(bad_start.error.offset, 0u);

  auto l_mismatch = scan_frame(hex("68 1B 1C 68"));
  EXPECT_EQ(l_mismatch.status, FrameScan::Status::error);
  EXPECT_EQ(l_mismatch.error.offset, 2u);
  EXPECT_NE(l_mismatch.error.message.find("L fields differ"), std::string::npos);

  auto l_small = scan_frame(hex("68 02"));
  EXPECT_EQ(l_small.status, FrameScan::Status::error);
  EXPECT_EQ(l_small.error.offset, 1u);

  auto second_start = scan_frame(hex("68 03 03 69"));
  EXPECT_EQ(second_start.status, FrameScan::Status::error);
  EXPECT_EQ(second_start.error.offset, 3u);

  Bytes bad_cs = kGwf;
  bad_cs[bad_cs.size() - 2] ^= 0x01;
  auto cs = scan_frame(bad_cs);
  EXPECT_EQ(cs.status, FrameScan::Status::error);
  EXPECT_EQ(cs.error.offset, kGwf.size() - 2);
  EXPECT_EQ(cs.error.message, "bad checksum: expected 0x96, got 0x97");

  Bytes bad_stop = kGwf;
  bad_stop.back() = 0x17;
  auto stop = scan_frame(bad_stop);
  EXPECT_EQ(stop.status, FrameScan::Status::error);
  EXPECT_EQ(stop.error.offset, kGwf.size() - 1);

  auto short_cs = scan_frame(hex("10 5B 01 5D 16"));
  EXPECT_EQ(short_cs.status, FrameScan::Status::error);
  EXPECT_EQ(short_cs.error.offset, 3u);
}

TEST(MbusParse, LongFrameFields) {
  auto f = parse_frame(kGwf);
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->kind, FrameKind::long_);
  EXPECT_EQ(f->control, 0x08);
  EXPECT_EQ(f->address, 0x01);
  EXPECT_EQ(f->ci, 0x72);
  EXPECT_EQ(f->data.size(), 0x1Bu - 3);
  EXPECT_EQ(f->data_offset, 7u);
}

TEST(MbusParse, TruncatedAndTrailingAreErrors) {
  auto t = parse_frame(std::span(kGwf).first(20));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().describe(), "truncated frame: 13 more byte(s) needed at byte 20");
  Bytes extra = kGwf;
  extra.push_back(0x00);
  auto e = parse_frame(extra);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().describe(), "1 trailing byte(s) after the frame at byte 33");
}

TEST(MbusEncode, ShortFrames) {
  EXPECT_EQ(to_hex(encode_snd_nke(0x05)), "1040054516");
  EXPECT_EQ(to_hex(encode_req_ud2(0x01, false)), "105b015c16");
  EXPECT_EQ(to_hex(encode_req_ud2(0x01, true)), "107b017c16");
  EXPECT_EQ(to_hex(encode_req_ud2(kAddressBroadcastReply, false)), "105bfe5916");
  EXPECT_EQ(to_hex(encode_req_ud1(0x01, true)), "107a017b16");
  auto f = parse_frame(encode_req_ud2(250, true));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, FrameKind::short_);
  EXPECT_EQ(f->address, 250);
}

TEST(MbusEncode, ApplicationReset) {
  EXPECT_EQ(to_hex(encode_application_reset(0x01)), "68030368530150a416");
  EXPECT_EQ(to_hex(encode_application_reset(0x01, 0x10)), "6804046853015010b416");
  auto f = parse_frame(encode_application_reset(0x01));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, FrameKind::control);
  EXPECT_EQ(f->ci, kCiApplicationReset);
}

TEST(MbusEncode, SelectBySecondaryAddress) {
  auto a = parse_secondary_address("1449100110570106");
  ASSERT_TRUE(a.ok()) << a.error().describe();
  const Bytes frame = encode_select_secondary(*a);
  // 68 0B 0B 68 53 FD 52 | ID 01 10 49 14 | MAN 57 10 | VER 01 | MED 06 | CS 16
  EXPECT_EQ(to_hex(frame), "680b0b6853fd5201104914571001067e16");
  EXPECT_EQ(scan_frame(frame).status, FrameScan::Status::complete);
  auto f = parse_frame(frame);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->address, kAddressNetworkLayer);
  EXPECT_EQ(f->ci, kCiSelectSecondary);
}

TEST(MbusEncode, SelectWithWildcardsAndLetters) {
  auto a = parse_secondary_address("1234FFFFFFFFFFFF");
  ASSERT_TRUE(a.ok());
  const Bytes fa = encode_select_secondary(*a);
  EXPECT_EQ(to_hex(std::span(fa).subspan(7, 8)), "ffff3412ffffffff");
  auto b = parse_secondary_address("66660205LUG0704");
  ASSERT_TRUE(b.ok()) << b.error().describe();
  EXPECT_EQ(b->manufacturer, 0x32A7);
  const Bytes fb = encode_select_secondary(*b);
  EXPECT_EQ(to_hex(std::span(fb).subspan(7, 8)), "05026666a7320704");
}

TEST(MbusEncode, SecondaryAddressErrors) {
  auto short_ = parse_secondary_address("1234");
  ASSERT_FALSE(short_.ok());
  auto bad_digit = parse_secondary_address("12A4FFFFFFFFFFFF");
  ASSERT_FALSE(bad_digit.ok());
  EXPECT_EQ(bad_digit.error().offset, 2u);
  auto bad_hex = parse_secondary_address("12345678FFFFFFFG");
  ASSERT_FALSE(bad_hex.ok());
  EXPECT_EQ(bad_hex.error().offset, 15u);
}

}  // namespace
