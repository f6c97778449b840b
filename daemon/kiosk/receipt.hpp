// The receipt of a payment as ESC/POS bytes (GB18030 text), for 58 or 80 mm paper: title, site,
// room, what was paid, bills settled, top-up, balance, terminal references, time, the payment id
// as text and as a QR code (so the property office can look it up), and a cut.
// Pure function of its inputs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/kiosk/journal.hpp"
#include "protocols/escpos/escpos.hpp"

namespace estate::kiosk {

struct ReceiptHeader {
  std::string site_name;
  protocols::escpos::PaperWidth width = protocols::escpos::PaperWidth::mm80;
};

// "123.45" from 12345 fen (integer arithmetic; negative with a leading '-').
std::string yuan_text(Fen fen);

// The receipt's lines in UTF-8, as printed (for logs and tests).
std::vector<std::string> receipt_lines(const Payment& p, const ReceiptHeader& h, bool reprint);

// The ESC/POS job. std::runtime_error if a text cannot be encoded in GB18030.
std::vector<std::uint8_t> render_receipt(const Payment& p, const ReceiptHeader& h, bool reprint);

}  // namespace estate::kiosk
