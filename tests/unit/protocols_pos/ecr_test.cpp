#include <gtest/gtest.h>

#include "protocols/pos/ecr.hpp"

namespace estate::protocols::pos {
namespace {

const FrameFormat& generic() { return *find_format("generic"); }
const FrameFormat& bcd() { return *find_format("bcd"); }

Message sale(std::string ref, std::string amount) {
  Message m{"S0", {}};
  m.set("RF", std::move(ref)).set("AM", std::move(amount));
  return m;
}

TEST(EcrFrame, EncodesTheDocumentedLayout) {
  auto f = encode(generic(), sale("P1", "100"));
  ASSERT_TRUE(f) << f.error().describe();
  // DATA = "S0" FS "RFP1" FS "AM100" = 2 + 5 + 6 = 13 bytes.
  Bytes expect{0x02, 0x00, 0x0D, 'S', '0', 0x1C, 'R', 'F', 'P', '1', 0x1C, 'A', 'M', '1', '0', '0', 0x03};
  std::uint8_t x = 0;
  for (std::size_t i = 1; i < expect.size(); ++i) x ^= expect[i];
  expect.push_back(x);
  EXPECT_EQ(to_hex(*f), to_hex(expect));
}

TEST(EcrFrame, BcdLengthVariantIsADataChange) {
  auto f = encode(bcd(), sale("P1", "100"));
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)[1], 0x00);
  EXPECT_EQ((*f)[2], 0x13);  // 13 in BCD
  auto m = decode(bcd(), *f);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->get("AM"), "100");
  // The same bytes read with the binary format disagree on the length: an error, not a crash.
  EXPECT_FALSE(decode(generic(), *f));
}

TEST(EcrFrame, RoundTripsEveryMessageType) {
  for (const auto& spec : message_specs()) {
    Message m{std::string(spec.type), {}};
    for (auto tag : spec.required) m.set(std::string(tag), "00");
    m.set("MS", "card read ok");
    auto f = encode(generic(), m);
    ASSERT_TRUE(f) << spec.type << ": " << f.error().describe();
    auto back = decode(generic(), *f);
    ASSERT_TRUE(back) << spec.type << ": " << back.error().describe();
    EXPECT_EQ(back->type, m.type);
    EXPECT_EQ(back->fields, m.fields);
  }
}

TEST(EcrFrame, BadLrcNamesTheByte) {
  auto f = *encode(generic(), sale("P1", "100"));
  f.back() ^= 0x01;
  auto m = decode(generic(), f);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("bad LRC"), std::string::npos);
  EXPECT_EQ(m.error().offset, f.size() - 1);
}

TEST(EcrFrame, RejectsMissingFieldsUnknownTypesAndBadBytes) {
  Message no_amount{"S0", {{"RF", "P1"}}};
  EXPECT_FALSE(encode(generic(), no_amount));
  EXPECT_FALSE(encode(generic(), Message{"ZZ", {}}));
  EXPECT_FALSE(encode(generic(), sale("P\x01", "1")));
  EXPECT_FALSE(encode(generic(), Message{"T0", {{"r1", "x"}}}));
  // A response without its result code.
  Message s1{"S1", {{"RF", "P1"}, {"RC", "00"}}};
  auto f = *encode(generic(), s1);
  // Rebuild without RC by hand: STX len "S1" FS "RFP1" ETX LRC.
  Bytes raw{0x02, 0x00, 0x07, 'S', '1', 0x1C, 'R', 'F', 'P', '1', 0x03};
  std::uint8_t x = 0;
  for (std::size_t i = 1; i < raw.size(); ++i) x ^= raw[i];
  raw.push_back(x);
  auto m = decode(generic(), raw);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("RC"), std::string::npos);
  EXPECT_TRUE(decode(generic(), f));
}

TEST(EcrFrame, OversizedMessageIsRefused) {
  auto m = sale("P1", "1");
  m.set("MS", std::string(2000, 'a'));
  EXPECT_FALSE(encode(generic(), m));
}

TEST(EcrScan, FindsAckNakFramesAndResynchronises) {
  auto f = *encode(generic(), sale("P9", "5"));
  Bytes buf{0xFF, 0x00, 0x06, 0x15};
  buf.insert(buf.end(), f.begin(), f.end());
  auto s = scan(generic(), buf);
  EXPECT_EQ(s.kind, Scan::garbage);
  EXPECT_EQ(s.size, 2u);
  buf.erase(buf.begin(), buf.begin() + 2);
  EXPECT_EQ(scan(generic(), buf).kind, Scan::ack);
  buf.erase(buf.begin());
  EXPECT_EQ(scan(generic(), buf).kind, Scan::nak);
  buf.erase(buf.begin());
  s = scan(generic(), buf);
  EXPECT_EQ(s.kind, Scan::frame);
  EXPECT_EQ(s.size, f.size());
  // Half a frame: wait for more.
  Bytes half(f.begin(), f.begin() + 5);
  EXPECT_EQ(scan(generic(), half).kind, Scan::need_more);
  // An STX with an impossible length is dropped alone.
  Bytes bogus{0x02, 0xFF, 0xFF, 0x02};
  s = scan(generic(), bogus);
  EXPECT_EQ(s.kind, Scan::garbage);
  EXPECT_EQ(s.size, 1u);
}

}  // namespace
}  // namespace estate::protocols::pos
