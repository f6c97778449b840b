// CJ/T 188: every captured frame in protocols/cjt188/testdata against its expected JSON, the
// stream scanner, the encoders against captured requests, status bits and units.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/cli/decode/cjt188_json.hpp"
#include "protocols/cjt188/cjt188.hpp"
#include "protocols/common/hex.hpp"

namespace {

namespace cjt = estate::protocols::cjt188;
using estate::protocols::Bytes;
using estate::protocols::parse_hex;
using estate::protocols::to_hex;

const std::filesystem::path kTestdata =
    std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "protocols" / "cjt188" / "testdata";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Bytes hex(std::string_view s) {
  auto b = parse_hex(s);
  EXPECT_TRUE(b.ok()) << s;
  return b.ok() ? *b : Bytes{};
}

TEST(Cjt188Testdata, EveryCapturedFrameDecodesToItsExpectedJson) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata)) {
    if (entry.path().extension() != ".hex") continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto expected_path = entry.path();
    expected_path.replace_extension(".json");
    ASSERT_TRUE(std::filesystem::exists(expected_path)) << expected_path;
    const auto expected = nlohmann::json::parse(slurp(expected_path));
    auto out = estate::cli::decode_cjt188_json(hex(slurp(entry.path())), {});
    if (expected.contains("error") && expected["error"].is_string()) {
      ASSERT_FALSE(out.ok()) << out->dump();
      EXPECT_EQ(out.error().message, expected["error"].get<std::string>());
      EXPECT_EQ(out.error().offset, expected["offset"].get<std::size_t>());
    } else {
      ASSERT_TRUE(out.ok()) << out.error().describe();
      EXPECT_EQ(nlohmann::json::parse(out->dump()), expected) << out->dump(2);
    }
    ++count;
  }
  EXPECT_GE(count, 8);
}

TEST(Cjt188Encode, MatchesCapturedRequests) {
  auto addr = cjt::parse_address("00201510270588");
  ASSERT_TRUE(addr.ok());
  EXPECT_EQ(cjt::format_address(*addr), "00201510270588");
  EXPECT_EQ(to_hex(cjt::encode_read(cjt::meter_type::kColdWater, *addr, 0x01, cjt::di::kCurrentData,
                                    0)),
            to_hex(hex("68 10 88 05 27 10 15 20 00 01 03 90 1F 01 25 16")));
  EXPECT_EQ(to_hex(cjt::encode_read(cjt::meter_type::kColdWater, cjt::kWildcardAddress, 0x01,
                                    cjt::di::kCurrentData, 3)),
            to_hex(hex("FE FE FE 68 10 AA AA AA AA AA AA AA 01 03 90 1F 01 D2 16")));
  EXPECT_EQ(to_hex(cjt::encode_read_address(cjt::meter_type::kColdWater, 0xA7, 0)),
            to_hex(hex("68 10 AA AA AA AA AA AA AA 03 03 0A 81 A7 56 16")));
  auto valve = *cjt::parse_address("00000019121301");
  EXPECT_EQ(to_hex(cjt::encode_valve_control(cjt::meter_type::kColdWater, valve, 0x01,
                                             cjt::ValveAction::close, 3)),
            to_hex(hex("FE FE FE 68 10 01 13 12 19 00 00 00 04 04 A0 17 01 99 10 16")));
  EXPECT_FALSE(cjt::parse_address("2015102705880").ok());
}

TEST(Cjt188Scan, LengthDrivenOverAByteStream) {
  auto frame = hex("68 10 88 05 27 10 15 20 00 81 16 90 1F 01 00 00 00 00 2C 00 00 00 00 2C 06 "
                   "20 17 09 01 17 20 00 00 8E 16");
  // The L byte itself is 0x16 here: the scanner must read it as a length, not an end.
  for (std::size_t n = 1; n < frame.size(); ++n) {
    auto r = cjt::scan(std::span(frame).first(n));
    EXPECT_EQ(r.status, cjt::ScanResult::Status::need_more) << n;
  }
  auto r = cjt::scan(frame);
  EXPECT_EQ(r.status, cjt::ScanResult::Status::complete);
  EXPECT_EQ(r.length, frame.size());
}

TEST(Cjt188Status, ValveAndBatteryBits) {
  EXPECT_EQ((cjt::Status{{0x00, 0x00}}.valve()), cjt::Status::Valve::open);
  EXPECT_EQ((cjt::Status{{0x01, 0x00}}.valve()), cjt::Status::Valve::closed);
  EXPECT_EQ((cjt::Status{{0x03, 0x00}}.valve()), cjt::Status::Valve::abnormal);
  EXPECT_EQ((cjt::Status{{0x02, 0x00}}.valve()), cjt::Status::Valve::unknown);
  EXPECT_TRUE((cjt::Status{{0x04, 0x00}}.battery_low()));
  EXPECT_FALSE((cjt::Status{{0x00, 0xFF}}.battery_low()));
}

TEST(Cjt188Decode, ValveAnswerCarriesStatus) {
  auto addr = *cjt::parse_address("00000019121301");
  Bytes data = {0xA0, 0x17, 0x05, 0x05, 0x00};  // DI A017, SER 5, ST = closed + low battery
  auto frame = cjt::encode_frame(cjt::meter_type::kColdWater, addr, 0x84, data, 0);
  auto m = cjt::decode(frame);
  ASSERT_TRUE(m.ok()) << m.error().describe();
  EXPECT_EQ(m->kind, cjt::Message::Kind::valve_response);
  EXPECT_EQ(*m->ser, 5);
  EXPECT_EQ(m->status->valve(), cjt::Status::Valve::closed);
  EXPECT_TRUE(m->status->battery_low());
}

TEST(Cjt188Decode, SettlementHistoryAndUnitDecades) {
  auto addr = *cjt::parse_address("00201510270588");
  // D123: settlement flow 4 months ago, 0012.34 in units of 10 L (code 2A) = 123.4 L.
  Bytes data = {0xD1, 0x23, 0x01, 0x34, 0x12, 0x00, 0x00, 0x2A};
  auto m = cjt::decode(cjt::encode_frame(0x10, addr, 0x81, data, 0));
  ASSERT_TRUE(m.ok()) << m.error().describe();
  ASSERT_EQ(m->quantities.size(), 1u);
  EXPECT_EQ(m->quantities[0].name, "settlement-day cumulative flow, 4 month(s) ago");
  EXPECT_EQ(m->quantities[0].unit, "L");
  EXPECT_DOUBLE_EQ(*m->quantities[0].number, 123.4);
  // Exactly: the digits as sent, at the field's decimals plus the unit's decade.
  EXPECT_EQ(m->quantities[0].raw, "00001234");
  EXPECT_EQ(m->quantities[0].exponent, std::optional<int>(-1));
}

TEST(Cjt188Decode, CumulativeFlowKeepsItsDigits) {
  auto addr = *cjt::parse_address("00000019121301");
  // 901F current data: cumulative flow 1234.50 m3 (code 2C), a value whose double prints as
  // 1234.5; the digits and exponent keep the meter's "1234.50".
  Bytes data = {0x90, 0x1F, 0x01, 0x50, 0x34, 0x12, 0x00, 0x2C,    // current 1234.50 m3
                0x00, 0x00, 0x12, 0x00, 0x2C,                      // settlement day 1200.00 m3
                0x00, 0x30, 0x13, 0x05, 0x12, 0x26, 0x20,          // 2026-12-05 13:30:00
                0x00, 0x00};                                       // ST
  auto m = cjt::decode(cjt::encode_frame(cjt::meter_type::kColdWater, addr, 0x81, data, 0));
  ASSERT_TRUE(m.ok()) << m.error().describe();
  ASSERT_FALSE(m->quantities.empty());
  EXPECT_EQ(m->quantities[0].raw, "00123450");
  EXPECT_EQ(m->quantities[0].exponent, std::optional<int>(-2));
  EXPECT_EQ(m->quantities[0].unit, "m^3");
  EXPECT_EQ(m->quantities[1].raw, "00120000");
  EXPECT_EQ(m->quantities[1].exponent, std::optional<int>(-2));
}

TEST(Cjt188Decode, TruncatedHeatDataNamesTheEnd) {
  auto addr = *cjt::parse_address("00740012064713");
  Bytes data = {0x90, 0x1F, 0x00, 0x01, 0x02};
  auto m = cjt::decode(cjt::encode_frame(0x20, addr, 0x81, data, 0));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().offset, 16u);
}

}  // namespace
