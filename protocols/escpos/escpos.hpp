// ESC/POS command encoding for receipt printers and decoding of their real-time status bytes.
// Commands follow the Epson ESC/POS command reference: ESC @ initialise, ESC a alignment,
// ESC E emphasis, GS ! character size, FS & Chinese (double-byte) character mode, ESC d feed,
// GS ( k QR code (functions 165/167/169/180/181), GS V cut, DLE EOT real-time status.
// Text is passed already encoded for the printer (GB18030 on Chinese printers; the transcoding
// lives with the printer driver, this codec stays standard-library only).
// Not thread-safe: one Builder per receipt.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::escpos {

enum class Align : std::uint8_t { left = 0, center = 1, right = 2 };
enum class PaperWidth { mm58, mm80 };
enum class QrErrorCorrection : std::uint8_t { L = 48, M = 49, Q = 50, H = 51 };

// Characters per line of font A (12x24 dots): 58 mm paper prints 384 dots, 80 mm 576 dots.
int columns(PaperWidth w);
std::optional<PaperWidth> parse_paper_width(std::string_view s);  // "58mm"/"80mm"/"58"/"80"

class Builder {
 public:
  Builder& init();                              // ESC @, then FS & (double-byte mode on)
  Builder& align(Align a);                      // ESC a n
  Builder& bold(bool on);                       // ESC E n
  Builder& size(int width, int height);         // GS ! n, each 1..8 (clamped)
  Builder& text(std::span<const std::uint8_t> encoded);  // raw printer-encoded bytes
  Builder& text_ascii(std::string_view ascii);
  Builder& line_feed(int lines = 1);            // LF, or ESC d n for several
  // GS ( k: model 2, module size 1..16, error correction, store, print. Data up to 7089 bytes;
  // an empty or longer string is an error (offset 0) and nothing is appended.
  Result<bool> qr(std::string_view data, int module_size = 6,
                  QrErrorCorrection ec = QrErrorCorrection::M);
  Builder& cut(bool feed = true);               // GS V 66 3 (feed and partial cut) or GS V 1

  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

// DLE EOT n: the real-time status request (n = 1 printer, 2 offline cause, 3 error cause,
// 4 roll paper sensor).
Bytes status_request(int n);

struct Status {
  bool offline = false;
  bool cover_open = false;
  bool paper_end = false;
  bool paper_near_end = false;
  bool error = false;
};

// Folds one status byte answered to DLE EOT `n` into `into`. A byte without the fixed bits of
// a status answer (bit 1 and 4 set, bits 0 and 7 clear) is an error.
Result<bool> apply_status(int n, std::uint8_t byte, Status& into);

// UTF-8 aware layout helpers: CJK and full-width characters take two columns.
int display_columns(std::string_view utf8);
// "left .... right" padded with spaces to `width` columns (at least one space between).
std::string justify(std::string_view left, std::string_view right, int width);
// Splits text into lines of at most `width` columns without cutting a character.
std::vector<std::string> wrap(std::string_view utf8, int width);

}  // namespace estate::protocols::escpos
