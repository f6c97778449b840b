// Payment codes (付款码) as the kiosk's scanner reads them: WeChat Pay 18 digits beginning
// 10-15, Alipay 16-24 digits beginning 25-30 (sources in daemon/kiosk/payment_code.hpp).
#include <gtest/gtest.h>

#include <string>

#include "daemon/kiosk/payment_code.hpp"

namespace estate::kiosk {
namespace {

TEST(PaymentCode, WeChatPayIs18DigitsBeginning10To15) {
  for (const char* prefix : {"10", "11", "12", "13", "14", "15"}) {
    const std::string code = std::string(prefix) + "5112298638468293";
    ASSERT_EQ(code.size(), 18u);
    auto c = classify_payment_code(code);
    ASSERT_TRUE(c.wallet) << code << ": " << c.error;
    EXPECT_EQ(*c.wallet, Wallet::wechat);
    EXPECT_EQ(to_string(*c.wallet), "wechat");
  }
}

TEST(PaymentCode, AlipayIs16To24DigitsBeginning25To30) {
  for (const char* prefix : {"25", "26", "27", "28", "29", "30"}) {
    for (std::size_t len : {16u, 18u, 24u}) {
      std::string code = prefix;
      while (code.size() < len) code += static_cast<char>('0' + code.size() % 10);
      auto c = classify_payment_code(code);
      ASSERT_TRUE(c.wallet) << code << ": " << c.error;
      EXPECT_EQ(*c.wallet, Wallet::alipay);
    }
  }
  // The example an Alipay integration guide shows (17 digits).
  EXPECT_EQ(classify_payment_code("28763443825664394").wallet, Wallet::alipay);
}

TEST(PaymentCode, WrongLengthIsRefusedNamingTheRule) {
  auto c = classify_payment_code("13511229863846829");  // 17
  EXPECT_FALSE(c.wallet);
  EXPECT_EQ(c.error, "a WeChat Pay payment code (10-15...) is 18 digits, not 17");
  EXPECT_FALSE(classify_payment_code("1351122986384682934").wallet);  // 19
  c = classify_payment_code("287634438256643");  // 15
  EXPECT_FALSE(c.wallet);
  EXPECT_EQ(c.error, "an Alipay payment code (25-30...) is 16 to 24 digits, not 15");
  EXPECT_FALSE(classify_payment_code("2876344382566439412345678").wallet);  // 25
}

TEST(PaymentCode, WrongPrefixIsRefused) {
  // 09, 16 (no wallet), 24, 31 (outside Alipay's range), 62 (UnionPay QuickPass, not taken).
  for (const char* code : {"095112298638468293", "165112298638468293", "245112298638468293",
                           "315112298638468293", "6212345678901234567", "1", ""}) {
    auto c = classify_payment_code(code);
    EXPECT_FALSE(c.wallet) << code;
    EXPECT_FALSE(c.error.empty()) << code;
  }
}

TEST(PaymentCode, NonDigitsAreRefusedAndTheErrorNeverRepeatsTheCode) {
  for (const char* code : {"13511229863846829a", " 135112298638468293", "135112298638468293\r",
                           "135112298638468293\n", "1351122986-8468293", "１３５１１２２９８６３８４６８２９３",
                           "-35112298638468293"}) {
    auto c = classify_payment_code(code);
    EXPECT_FALSE(c.wallet) << code;
    EXPECT_EQ(c.error.find("35112298"), std::string::npos) << c.error;
  }
  EXPECT_EQ(classify_payment_code("13511229863846829a").error, "a payment code is digits only");
  EXPECT_FALSE(classify_payment_code(std::string(100, '1')).wallet);
}

TEST(PaymentCode, MaskKeepsTheWalletPrefixAndLastFour) {
  EXPECT_EQ(mask_payment_code("135112298638468293"), "13************8293");
  EXPECT_EQ(mask_payment_code("12345"), "*****");
}

}  // namespace
}  // namespace estate::kiosk
