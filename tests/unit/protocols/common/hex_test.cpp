// Hex text <-> bytes (protocols/common/hex.hpp): the lenient parser for pasted frames and the
// exact one for keys, hashes and signatures.
#include <gtest/gtest.h>

#include "protocols/common/hex.hpp"

namespace estate::protocols {
namespace {

TEST(Hex, PastedFramesInAnyLayout) {
  auto b = parse_hex("68 04 04 68, 0x53:FE-a1");
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(to_hex(*b), "6804046853fea1");
  EXPECT_EQ(to_hex(*b, " "), "68 04 04 68 53 fe a1");
  EXPECT_FALSE(parse_hex("680"));   // odd number of digits
  EXPECT_FALSE(parse_hex("68 zz"));  // not a digit
}

TEST(Hex, ExactLengthForKeysAndHashes) {
  auto k = parse_hex_exact<4>("00fFa10B");
  ASSERT_TRUE(k);
  EXPECT_EQ((*k)[0], 0x00);
  EXPECT_EQ((*k)[1], 0xff);
  EXPECT_EQ((*k)[2], 0xa1);
  EXPECT_EQ((*k)[3], 0x0b);
  EXPECT_EQ(to_hex(*k), "00ffa10b");
  EXPECT_FALSE(parse_hex_exact<4>("00ffa1"));      // too short
  EXPECT_FALSE(parse_hex_exact<4>("00ffa10b00"));  // too long
  EXPECT_FALSE(parse_hex_exact<4>("00 ffa10b"));   // no separators in a key
  EXPECT_FALSE(parse_hex_exact<4>("0xffa10b"));    // nor a prefix
  EXPECT_FALSE(parse_hex_exact<4>("00ffa1g0"));
}

}  // namespace
}  // namespace estate::protocols
