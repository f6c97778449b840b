#include <gtest/gtest.h>

#include "protocols/escpos/escpos.hpp"

namespace estate::protocols::escpos {
namespace {

TEST(Escpos, InitAlignBoldSizeCut) {
  Builder b;
  b.init().align(Align::center).bold(true).size(2, 2).text_ascii("A").line_feed().cut();
  EXPECT_EQ(to_hex(b.bytes()), "1b401c26" "1b6101" "1b4501" "1d2111" "41" "0a" "1d564203");
}

TEST(Escpos, QrCodeUsesGsParenK) {
  Builder b;
  ASSERT_TRUE(b.qr("AB", 6, QrErrorCorrection::M));
  EXPECT_EQ(to_hex(b.bytes()),
            "1d286b0400314132" "00"      // fn 165: model 2
            "1d286b03003143" "06"        // fn 167: module size 6
            "1d286b03003145" "31"        // fn 169: error correction M
            "1d286b0500315030" "4142"    // fn 180: pL=5 (2 + 3), data "AB"
            "1d286b0300315130");         // fn 181: print
  Builder big;
  ASSERT_TRUE(big.qr(std::string(300, 'x')));
  // pL, pH for 303 = 0x012f.
  EXPECT_NE(to_hex(big.bytes()).find("1d286b2f01315030"), std::string::npos);
  Builder none;
  EXPECT_FALSE(none.qr(""));
  EXPECT_FALSE(none.qr(std::string(7090, 'x')));
  EXPECT_TRUE(none.bytes().empty());
}

TEST(Escpos, StatusBytes) {
  EXPECT_EQ(to_hex(status_request(4)), "100404");
  Status s;
  ASSERT_TRUE(apply_status(1, 0x12, s));
  EXPECT_FALSE(s.offline);
  ASSERT_TRUE(apply_status(1, 0x1A, s));
  EXPECT_TRUE(s.offline);
  Status p;
  ASSERT_TRUE(apply_status(4, 0x72, p));  // bits 5,6: roll paper end
  EXPECT_TRUE(p.paper_end);
  Status n;
  ASSERT_TRUE(apply_status(4, 0x1E, n));  // bits 2,3: near end
  EXPECT_TRUE(n.paper_near_end);
  EXPECT_FALSE(n.paper_end);
  Status c;
  ASSERT_TRUE(apply_status(2, 0x16, c));
  EXPECT_TRUE(c.cover_open);
  EXPECT_FALSE(apply_status(1, 0x00, s));  // fixed bits missing
  EXPECT_FALSE(apply_status(1, 0xFF, s));
  EXPECT_FALSE(apply_status(9, 0x12, s));
}

TEST(EscposText, WidthsCountChineseAsTwoColumns) {
  EXPECT_EQ(display_columns("abc"), 3);
  EXPECT_EQ(display_columns("房号"), 4);
  EXPECT_EQ(display_columns("¥12.00"), 6);
  EXPECT_EQ(display_columns("（补打）"), 8);
  EXPECT_EQ(columns(PaperWidth::mm58), 32);
  EXPECT_EQ(columns(PaperWidth::mm80), 48);
  auto line = justify("金额", "¥1.00", 32);
  EXPECT_EQ(display_columns(line), 32);
  EXPECT_EQ(justify("a very long left text", "right", 10), "a very long left text right");
}

TEST(EscposText, WrapNeverSplitsACharacter) {
  auto lines = wrap("缴费凭条缴费凭条缴费", 7);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "缴费凭");
  for (const auto& l : lines) EXPECT_LE(display_columns(l), 7);
  EXPECT_EQ(wrap("", 10).size(), 1u);
  // Broken UTF-8 never reads past the end.
  EXPECT_EQ(display_columns("\xE6\x88"), 2);
}

}  // namespace
}  // namespace estate::protocols::escpos
