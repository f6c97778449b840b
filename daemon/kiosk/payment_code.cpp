#include "daemon/kiosk/payment_code.hpp"

namespace estate::kiosk {

std::string_view to_string(Wallet w) { return w == Wallet::wechat ? "wechat" : "alipay"; }

PaymentCodeCheck classify_payment_code(std::string_view code) {
  PaymentCodeCheck out;
  if (code.empty()) {
    out.error = "the payment code is empty";
    return out;
  }
  if (code.size() > 64) {
    out.error = "the payment code is longer than 64 characters";
    return out;
  }
  for (char c : code) {
    if (c < '0' || c > '9') {
      out.error = "a payment code is digits only";
      return out;
    }
  }
  const int prefix = code.size() >= 2 ? (code[0] - '0') * 10 + (code[1] - '0') : -1;
  const std::string len = std::to_string(code.size());
  if (prefix >= 10 && prefix <= 15) {
    if (code.size() == 18) out.wallet = Wallet::wechat;
    else out.error = "a WeChat Pay payment code (10-15...) is 18 digits, not " + len;
  } else if (prefix >= 25 && prefix <= 30) {
    if (code.size() >= 16 && code.size() <= 24) out.wallet = Wallet::alipay;
    else out.error = "an Alipay payment code (25-30...) is 16 to 24 digits, not " + len;
  } else {
    out.error = "not a WeChat Pay (18 digits, 10-15...) or Alipay (16-24 digits, 25-30...) "
                "payment code";
  }
  return out;
}

std::string mask_payment_code(std::string_view code) {
  if (code.size() <= 6) return std::string(code.size(), '*');
  return std::string(code.substr(0, 2)) + std::string(code.size() - 6, '*') +
         std::string(code.substr(code.size() - 4));
}

}  // namespace estate::kiosk
