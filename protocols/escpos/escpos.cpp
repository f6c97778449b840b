#include "protocols/escpos/escpos.hpp"

#include <vector>

namespace estate::protocols::escpos {

namespace {
constexpr std::uint8_t ESC = 0x1B, GS = 0x1D, FS = 0x1C, DLE = 0x10, EOT = 0x04, LF = 0x0A;
}

int columns(PaperWidth w) { return w == PaperWidth::mm58 ? 32 : 48; }

std::optional<PaperWidth> parse_paper_width(std::string_view s) {
  if (s == "58" || s == "58mm") return PaperWidth::mm58;
  if (s == "80" || s == "80mm") return PaperWidth::mm80;
  return std::nullopt;
}

Builder& Builder::init() {
  out_.insert(out_.end(), {ESC, '@', FS, '&'});
  return *this;
}

Builder& Builder::align(Align a) {
  out_.insert(out_.end(), {ESC, 'a', static_cast<std::uint8_t>(a)});
  return *this;
}

Builder& Builder::bold(bool on) {
  out_.insert(out_.end(), {ESC, 'E', static_cast<std::uint8_t>(on ? 1 : 0)});
  return *this;
}

Builder& Builder::size(int w, int h) {
  auto clamp = [](int v) { return v < 1 ? 1 : v > 8 ? 8 : v; };
  // GS ! n: bits 4-6 width magnification - 1, bits 0-2 height magnification - 1.
  auto n = static_cast<std::uint8_t>(((clamp(w) - 1) << 4) | (clamp(h) - 1));
  out_.insert(out_.end(), {GS, '!', n});
  return *this;
}

Builder& Builder::text(std::span<const std::uint8_t> encoded) {
  out_.insert(out_.end(), encoded.begin(), encoded.end());
  return *this;
}

Builder& Builder::text_ascii(std::string_view ascii) {
  for (char c : ascii) out_.push_back(static_cast<std::uint8_t>(c));
  return *this;
}

Builder& Builder::line_feed(int lines) {
  if (lines <= 1) {
    out_.push_back(LF);
  } else {
    out_.insert(out_.end(), {ESC, 'd', static_cast<std::uint8_t>(lines > 255 ? 255 : lines)});
  }
  return *this;
}

Result<bool> Builder::qr(std::string_view data, int module_size, QrErrorCorrection ec) {
  if (data.empty() || data.size() > 7089) {
    return decode_error("QR data must be 1..7089 bytes, got " + std::to_string(data.size()), 0);
  }
  auto m = static_cast<std::uint8_t>(module_size < 1 ? 1 : module_size > 16 ? 16 : module_size);
  // Function 165: model 2; 167: module size; 169: error correction level.
  out_.insert(out_.end(), {GS, '(', 'k', 4, 0, 49, 65, 50, 0});
  out_.insert(out_.end(), {GS, '(', 'k', 3, 0, 49, 67, m});
  out_.insert(out_.end(), {GS, '(', 'k', 3, 0, 49, 69, static_cast<std::uint8_t>(ec)});
  // Function 180: store k bytes, (pL + pH * 256) = k + 3.
  std::size_t p = data.size() + 3;
  out_.insert(out_.end(), {GS, '(', 'k', static_cast<std::uint8_t>(p & 0xFF),
                           static_cast<std::uint8_t>(p >> 8), 49, 80, 48});
  for (char c : data) out_.push_back(static_cast<std::uint8_t>(c));
  // Function 181: print the stored symbol.
  out_.insert(out_.end(), {GS, '(', 'k', 3, 0, 49, 81, 48});
  return true;
}

Builder& Builder::cut(bool feed) {
  if (feed) out_.insert(out_.end(), {GS, 'V', 66, 3});
  else out_.insert(out_.end(), {GS, 'V', 1});
  return *this;
}

Bytes status_request(int n) { return {DLE, EOT, static_cast<std::uint8_t>(n)}; }

Result<bool> apply_status(int n, std::uint8_t b, Status& s) {
  if ((b & 0x93) != 0x12) {
    return decode_error("not a DLE EOT status byte: " + hex_byte(b), 0);
  }
  switch (n) {
    case 1: s.offline = s.offline || (b & 0x08); break;
    case 2:
      s.cover_open = s.cover_open || (b & 0x04);
      s.paper_end = s.paper_end || (b & 0x20);
      s.error = s.error || (b & 0x40);
      break;
    case 3: s.error = s.error || (b & 0x68); break;
    case 4:
      s.paper_near_end = s.paper_near_end || (b & 0x0C) == 0x0C;
      s.paper_end = s.paper_end || (b & 0x60) == 0x60;
      break;
    default: return decode_error("DLE EOT n must be 1..4, got " + std::to_string(n), 0);
  }
  return true;
}

namespace {

// Decodes one UTF-8 sequence at `i`; returns the code point and advances, or U+FFFD.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int extra = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : -1;
  if (extra == 0) {
    ++i;
    return b;
  }
  if (extra < 0 || i + static_cast<std::size_t>(extra) >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = b & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  i += static_cast<std::size_t>(extra) + 1;
  return cp;
}

bool wide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

}  // namespace

int display_columns(std::string_view s) {
  int n = 0;
  for (std::size_t i = 0; i < s.size();) n += wide(next_code_point(s, i)) ? 2 : 1;
  return n;
}

std::string justify(std::string_view left, std::string_view right, int width) {
  int gap = width - display_columns(left) - display_columns(right);
  if (gap < 1) gap = 1;
  std::string out(left);
  out.append(static_cast<std::size_t>(gap), ' ');
  out += right;
  return out;
}

std::vector<std::string> wrap(std::string_view s, int width) {
  std::vector<std::string> lines;
  std::string cur;
  int cols = 0;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t start = i;
    char32_t cp = next_code_point(s, i);
    if (cp == '\n') {
      lines.push_back(std::move(cur));
      cur.clear();
      cols = 0;
      continue;
    }
    int w = wide(cp) ? 2 : 1;
    if (cols + w > width && !cur.empty()) {
      lines.push_back(std::move(cur));
      cur.clear();
      cols = 0;
    }
    cur.append(s.substr(start, i - start));
    cols += w;
  }
  if (!cur.empty() || lines.empty()) lines.push_back(std::move(cur));
  return lines;
}

}  // namespace estate::protocols::escpos
