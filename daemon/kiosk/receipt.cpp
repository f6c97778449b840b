#include "daemon/kiosk/receipt.hpp"

#include "daemon/kiosk/parking_charges.hpp"

#include <stdexcept>

#include "drivers/printer/gb18030.hpp"

namespace estate::kiosk {

namespace escpos = protocols::escpos;

std::string yuan_text(Fen fen) {
  bool neg = fen < 0;
  std::uint64_t v = neg ? static_cast<std::uint64_t>(-(fen + 1)) + 1 : static_cast<std::uint64_t>(fen);
  std::string cents = std::to_string(v % 100);
  if (cents.size() < 2) cents = "0" + cents;
  return (neg ? "-" : "") + std::to_string(v / 100) + "." + cents;
}

namespace {

std::string kind_text(const std::string& kind) {
  if (kind == "topup") return "预存充值";
  if (kind == "parking") return "停车缴费";
  return "物业缴费";
}

std::string datetime(const std::string& iso) {
  // "2026-11-23T18:16:01.123+08:00" -> "2026-11-23 18:16:01"
  if (iso.size() < 19) return iso;
  return iso.substr(0, 10) + " " + iso.substr(11, 8);
}

}  // namespace

std::vector<std::string> receipt_lines(const Payment& p, const ReceiptHeader& h, bool reprint) {
  int w = escpos::columns(h.width);
  std::vector<std::string> l;
  l.push_back(std::string(static_cast<std::size_t>(w), '-'));
  if (auto session = parking_session_of(p.room); session && p.kind == "parking") {
    l.push_back(escpos::justify("停车记录", std::to_string(*session), w));
  } else {
    l.push_back(escpos::justify("房号", p.room, w));
  }
  l.push_back(escpos::justify("业务", kind_text(p.kind), w));
  // A QR payment shows its wallet, never the payer's payment code (not kept anyway).
  const std::string method = p.method == "card"     ? "银行卡"
                             : p.method == "wechat" ? "微信支付"
                             : p.method == "alipay" ? "支付宝"
                                                    : p.method;
  l.push_back(escpos::justify("支付方式", method, w));
  if (!p.card.empty()) l.push_back(escpos::justify("卡号", p.card, w));
  l.push_back(escpos::justify("金额", "¥" + yuan_text(p.amount_fen), w));
  for (const auto& [bill, fen] : p.allocations) {
    l.push_back(escpos::justify("  缴清 " + bill, "¥" + yuan_text(fen), w));
  }
  if (p.applied && p.kind == "parking") {
    l.push_back(escpos::justify("停车费", "¥" + yuan_text(p.settled_fen), w));
  } else if (p.applied) {
    l.push_back(escpos::justify("缴清欠费", "¥" + yuan_text(p.settled_fen), w));
    l.push_back(escpos::justify("预存充值", "¥" + yuan_text(p.topped_up_fen), w));
    l.push_back(escpos::justify("当前余额", "¥" + yuan_text(p.balance_after_fen), w));
  }
  if (!p.auth_code.empty()) l.push_back(escpos::justify("授权码", p.auth_code, w));
  // A QR payment's reference is the acquirer's transaction number.
  if (!p.rrn.empty()) l.push_back(escpos::justify(p.method == "card" ? "参考号" : "交易单号", p.rrn, w));
  l.push_back(escpos::justify("时间", datetime(p.created_at), w));
  l.push_back(escpos::justify("流水号", p.id, w));
  if (reprint) l.push_back("（补打凭条）");
  l.push_back(std::string(static_cast<std::size_t>(w), '-'));
  return l;
}

std::vector<std::uint8_t> render_receipt(const Payment& p, const ReceiptHeader& h, bool reprint) {
  auto enc = [](const std::string& s) {
    auto b = drivers::printer::to_gb18030(s);
    if (!b) throw std::runtime_error("receipt text is not valid UTF-8: " + s);
    return *b;
  };
  escpos::Builder b;
  b.init().align(escpos::Align::center).bold(true).size(2, 2).text(enc("缴费凭条")).line_feed();
  b.size(1, 1).bold(false);
  if (!h.site_name.empty()) b.text(enc(h.site_name)).line_feed();
  b.align(escpos::Align::left);
  for (const auto& line : receipt_lines(p, h, reprint)) {
    for (const auto& part : escpos::wrap(line, escpos::columns(h.width))) b.text(enc(part)).line_feed();
  }
  b.align(escpos::Align::center);
  (void)b.qr(p.id, h.width == escpos::PaperWidth::mm58 ? 5 : 6);
  b.line_feed().text(enc("谢谢惠顾，请妥善保管凭条")).line_feed(3).cut();
  return b.bytes();
}

}  // namespace estate::kiosk
