// The payment code (付款码, the "micropay" / barcode-pay auth_code) a payer shows in WeChat or
// Alipay and the kiosk's scanner reads: which wallet it belongs to, from its digits alone.
//   WeChat Pay: 18 digits beginning 10-15 (WeChat Pay, "Important Parameters: auth_code",
//     pay.weixin.qq.com/wiki/doc/api/wxpay/en/guide/pos/ImportantParameters.shtml: 10-14
//     mainland users, 15 Hong Kong users; valid one minute, refreshed once used; the micropay
//     API's own refusal reads "以10/11/12/13/14/15为前缀的18位数字").
//   Alipay: 16 to 24 digits beginning 25-30 (Alipay Open Platform, barcode pay 当面付条码支付,
//     opendocs.alipay.com/open/194/106039: "25-30 开头的长度为 16-24 位的数字"; used once,
//     even when the payment fails).
// The code is a one-time bearer secret: it is never logged, printed nor kept (mask_payment_code
// is what may be shown).
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace estate::kiosk {

enum class Wallet { wechat, alipay };
// "wechat" | "alipay": the journal's `method` of a payment made with such a code.
std::string_view to_string(Wallet w);

struct PaymentCodeCheck {
  std::optional<Wallet> wallet;  // set when the code is valid
  std::string error;             // otherwise what is wrong (never repeating the code)
};
PaymentCodeCheck classify_payment_code(std::string_view code);

// The first 2 and last 4 digits, the rest as '*': enough to tell two scans apart, useless to pay.
std::string mask_payment_code(std::string_view code);

}  // namespace estate::kiosk
