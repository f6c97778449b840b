// DL/T 645: every captured frame in protocols/dlt645/testdata against its expected JSON, the
// stream scanner, the encoders against real captured requests, and the DI table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "daemon/cli/decode/dlt645_json.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/dlt645/dlt645.hpp"

namespace {

namespace dlt = estate::protocols::dlt645;
using estate::protocols::Bytes;
using estate::protocols::parse_hex;
using estate::protocols::to_hex;

const std::filesystem::path kTestdata =
    std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "protocols" / "dlt645" / "testdata";

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

// Each testdata/<name>.hex has <name>.json beside it: the decode output, or for a malformed
// frame {"error": message, "offset": byte}.
TEST(Dlt645Testdata, EveryCapturedFrameDecodesToItsExpectedJson) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata)) {
    if (entry.path().extension() != ".hex") continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto expected_path = entry.path();
    expected_path.replace_extension(".json");
    ASSERT_TRUE(std::filesystem::exists(expected_path)) << expected_path;
    const auto expected = nlohmann::json::parse(slurp(expected_path));
    const auto bytes = hex(slurp(entry.path()));
    auto out = estate::cli::decode_dlt645_json(bytes, {});
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

TEST(Dlt645Address, WrittenMostSignificantFirstSentLeastFirst) {
  auto a = dlt::parse_address("000000000161");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)[0], 0x61);
  EXPECT_EQ((*a)[1], 0x01);
  EXPECT_EQ(dlt::format_address(*a), "000000000161");
  EXPECT_FALSE(dlt::parse_address("00000000016").ok());
  auto bad = dlt::parse_address("00000000016G");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().offset, 11u);
}

// Requests built by the encoders equal requests captured from real masters.
TEST(Dlt645Encode, MatchesCapturedRequests) {
  auto addr = *dlt::parse_address("000000000161");
  EXPECT_EQ(to_hex(dlt::encode_read(dlt::Version::v2007, addr, 0x00010000, 0)),
            "6861010000000068110433333433" "1416");
  EXPECT_EQ(to_hex(dlt::encode_read_address(0)), "68aaaaaaaaaaaa681300df16");
  EXPECT_EQ(to_hex(dlt::encode_read_address()).substr(0, 8), "fefefefe");
  EXPECT_EQ(to_hex(dlt::encode_time_sync({2017, 6, 5, 10, 22, 51}, dlt::kBroadcastAddress, 0)),
            to_hex(hex("68 99 99 99 99 99 99 68 08 06 84 55 43 38 39 4A 4B 16")));
  auto v1997 = *dlt::parse_address("000000000003");
  EXPECT_EQ(to_hex(dlt::encode_read(dlt::Version::v1997, v1997, 0xB611, 0)),
            to_hex(hex("68 03 00 00 00 00 00 68 01 02 44 E9 03 16")));
  dlt::RelayCommand trip;
  trip.action = dlt::RelayAction::trip;
  trip.password_level = 0;
  trip.password = "000000";
  trip.operator_code = "00000000";
  trip.valid_until = {2018, 5, 12, 15, 41, 24};
  auto relay = dlt::encode_relay_control(*dlt::parse_address("111111111111"), trip, 0);
  ASSERT_TRUE(relay.ok());
  EXPECT_EQ(to_hex(*relay),
            to_hex(hex("68 11 11 11 11 11 11 68 1C 10 33 33 33 33 33 33 33 33 4D 33 57 74 48 45 "
                       "38 4B 55 16")));
  trip.password = "12345";
  EXPECT_FALSE(dlt::encode_relay_control(addr, trip).ok());
}

TEST(Dlt645Encode, FollowUpCarriesSequenceIn2007) {
  auto addr = *dlt::parse_address("000000000161");
  auto frame = dlt::encode_read_follow_up(dlt::Version::v2007, addr, 0x0001FF00, 2, 0);
  auto m = dlt::decode(frame);
  ASSERT_TRUE(m.ok()) << m.error().describe();
  EXPECT_EQ(m->kind, dlt::Message::Kind::read_request);
  EXPECT_EQ(m->frame.control, 0x12);
  EXPECT_EQ(*m->di, 0x0001FF00u);
  EXPECT_EQ(*m->seq, 2);
}

// Scanning a byte stream: need-more until the length says the frame is complete, never
// stopping at a 0x16 that is really the checksum.
TEST(Dlt645Scan, ChecksumOf16IsNotTheEnd) {
  // Find an address whose read request has CS == 0x16.
  Bytes frame;
  for (int i = 0; i < 100 && frame.empty(); ++i) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "0000000001%02d", i);
    auto f = dlt::encode_read(dlt::Version::v2007, *dlt::parse_address(digits), 0x00010000, 2);
    if (f[f.size() - 2] == 0x16) frame = f;
  }
  ASSERT_FALSE(frame.empty());
  Bytes stream;
  for (std::size_t n = 1; n <= frame.size(); ++n) {
    stream.assign(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = dlt::scan(stream);
    if (n < frame.size()) {
      EXPECT_EQ(r.status, dlt::ScanResult::Status::need_more) << "after " << n << " bytes";
    } else {
      EXPECT_EQ(r.status, dlt::ScanResult::Status::complete);
      EXPECT_EQ(r.length, frame.size());
    }
  }
}

TEST(Dlt645Scan, NoiseIsSkippedAndCountedThenTheFrameFollows) {
  Bytes stream = {0x00, 0x13, 0x55};
  auto frame = dlt::encode_read_address(1);
  stream.insert(stream.end(), frame.begin(), frame.end());
  auto r = dlt::scan(stream);
  ASSERT_EQ(r.status, dlt::ScanResult::Status::error);
  EXPECT_EQ(r.skip, 3u);
  auto rest = std::span<const std::uint8_t>(stream).subspan(r.skip);
  r = dlt::scan(rest);
  ASSERT_EQ(r.status, dlt::ScanResult::Status::complete);
  EXPECT_EQ(r.length, frame.size());
}

TEST(Dlt645Scan, BadChecksumSaysWhereAndSkipsOneByte) {
  auto bytes = hex("68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8B 16");
  auto r = dlt::scan(bytes);
  ASSERT_EQ(r.status, dlt::ScanResult::Status::error);
  EXPECT_EQ(r.error.offset, 18u);
  EXPECT_EQ(r.skip, 1u);
}

TEST(Dlt645Di, FamiliesAndUnknowns) {
  auto total = dlt::lookup_di(dlt::Version::v2007, 0x00010000);
  ASSERT_TRUE(total);
  EXPECT_EQ(total->name, "forward active energy total");
  EXPECT_EQ(total->unit, "kWh");
  auto tariff = dlt::lookup_di(dlt::Version::v2007, 0x00020203);
  ASSERT_TRUE(tariff);
  EXPECT_EQ(tariff->name, "reverse active energy, tariff 2, settlement 3 ago");
  auto block = dlt::lookup_di(dlt::Version::v2007, 0x0004FF00);
  ASSERT_TRUE(block);
  EXPECT_EQ(block->max_count, 64);
  EXPECT_FALSE(dlt::lookup_di(dlt::Version::v2007, 0x000B0000));
  EXPECT_FALSE(dlt::lookup_di(dlt::Version::v2007, 0x12345678));
  auto e1997 = dlt::lookup_di(dlt::Version::v1997, 0x9410);
  ASSERT_TRUE(e1997);
  EXPECT_EQ(e1997->name, "forward active energy total, last month");
  // An unknown DI decodes as raw BCD hex, not as an error.
  auto values = dlt::decode_values(std::nullopt, hex("12 34 56"));
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].raw, "563412");
}

TEST(Dlt645Values, SignedCurrentAndBlocks) {
  auto info = dlt::lookup_di(dlt::Version::v2007, 0x02020100);
  // 0x80 in the top byte is the sign: -1.234 A.
  auto v = dlt::decode_values(info, hex("34 12 80"));
  ASSERT_EQ(v.size(), 1u);
  ASSERT_TRUE(v[0].number);
  EXPECT_DOUBLE_EQ(*v[0].number, -1.234);
  auto volts = dlt::decode_values(dlt::lookup_di(dlt::Version::v2007, 0x0201FF00),
                                  hex("02 23 15 23 98 22"));
  ASSERT_EQ(volts.size(), 3u);
  EXPECT_DOUBLE_EQ(*volts[2].number, 229.8);
  // Not BCD: kept raw, no number.
  auto bad = dlt::decode_values(info, hex("3A 12 00"));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_FALSE(bad[0].number);
  EXPECT_EQ(bad[0].raw, "00123a");
}

TEST(Dlt645Decode, ErrorWordBits) {
  auto flags = dlt::error_flags(0x06);
  ASSERT_EQ(flags.size(), 2u);
  EXPECT_EQ(flags[0], "no requested data");
  EXPECT_EQ(flags[1], "password error or unauthorised");
}

TEST(Dlt645Decode, FollowUpAnswerSplitsSequenceNumber) {
  auto addr = *dlt::parse_address("000000000161");
  // DI 00010000, one value 0.26 kWh, SEQ 1.
  Bytes data = {0x00, 0x00, 0x01, 0x00, 0x26, 0x00, 0x00, 0x00, 0x01};
  auto frame = dlt::encode_frame(addr, 0x92, data, 0);
  auto m = dlt::decode(frame);
  ASSERT_TRUE(m.ok()) << m.error().describe();
  EXPECT_EQ(m->kind, dlt::Message::Kind::read_response);
  EXPECT_EQ(*m->seq, 1);
  ASSERT_EQ(m->values.size(), 1u);
  EXPECT_DOUBLE_EQ(*m->values[0].number, 0.26);
}

TEST(Dlt645Decode, ShortReadIsAnErrorWithOffset) {
  auto addr = *dlt::parse_address("000000000161");
  Bytes data = {0x00, 0x00};
  auto frame = dlt::encode_frame(addr, 0x91, data, 0);
  auto m = dlt::decode(frame);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().offset, 12u);
}

}  // namespace

// Remote control N1 codes (DL/T 645-2007 as amended): 1A trip, 1B close permitted, 1C direct
// close; each decodes back to its name.
TEST(Dlt645Relay, ActionsEncodeTheStandardsCodes) {
  const auto addr = *dlt::parse_address("111111111111");
  for (auto [action, n1, name] : {std::tuple{dlt::RelayAction::trip, 0x1A, "trip"},
                                  std::tuple{dlt::RelayAction::close_permitted, 0x1B, "close_permitted"},
                                  std::tuple{dlt::RelayAction::direct_close, 0x1C, "direct_close"}}) {
    dlt::RelayCommand c;
    c.action = action;
    c.valid_until = {2018, 5, 12, 15, 41, 24};
    auto frame = dlt::encode_relay_control(addr, c, 0);
    ASSERT_TRUE(frame.ok());
    auto m = dlt::decode(*frame);
    ASSERT_TRUE(m.ok()) << m.error().describe();
    EXPECT_EQ(m->frame.control, 0x1C);
    EXPECT_EQ(*m->relay_action, n1);
    EXPECT_EQ(*dlt::relay_action_name(*m->relay_action), name);
  }
}

// Status word 3 (04000503) read back after a relay command: bit 4 relay open, bit 6 trip
// commanded, bit 7 pre-trip alarm.
TEST(Dlt645Relay, StatusWord3TellsTheRelayState) {
  // 91 answer for 04000503 with the word 0x0050 (relay open, trip commanded), data + 33h.
  auto frame = dlt::encode_frame(*dlt::parse_address("000000000001"), 0x91,
                                 std::vector<std::uint8_t>{0x03, 0x05, 0x00, 0x04, 0x50, 0x00}, 0);
  auto m = dlt::decode(frame);
  ASSERT_TRUE(m.ok()) << m.error().describe();
  auto word = dlt::status_word(*m);
  ASSERT_TRUE(word);
  EXPECT_EQ(*word, 0x0050);
  auto s = dlt::relay_status(*word);
  EXPECT_TRUE(s.disconnected);
  EXPECT_TRUE(s.trip_commanded);
  EXPECT_FALSE(s.pre_trip_alarm);
  s = dlt::relay_status(0x0000);
  EXPECT_FALSE(s.disconnected);
  EXPECT_FALSE(s.trip_commanded);
  // Another DI's answer is not a status word.
  auto energy = dlt::decode(hex("68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16"));
  ASSERT_TRUE(energy.ok());
  EXPECT_FALSE(dlt::status_word(*energy));
}
