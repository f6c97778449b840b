#include "drivers/card/card_frames.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <vector>

#include "drivers/model_table.hpp"

namespace estate::drivers::card {

namespace {

// One row per reader model. A model whose frames fit these columns needs no code.
constexpr std::array formats{
    // RS-485 readers sharing a line: STX, address, UID length, UID, XOR of address..UID, ETX.
    FrameFormat{"generic-485", "STX addr len uid BCC(xor) ETX", Payload::uid_binary, 0x02, 0x03,
                true, true, Check::xor_bcc, 4, 10},
    // Desktop and wall readers in serial text mode: the UID as hex text, CR LF, one per line.
    FrameFormat{"ascii-hex", "STX hex-uid CR LF ETX", Payload::uid_ascii_hex, 0x02, 0x03, false,
                false, Check::none, 4, 10},
    // Wiegand-26/34 to RS-485 converters: the raw Wiegand bits, MSB first, parity included.
    FrameFormat{"wiegand-485", "STX addr bits data SUM8 ETX", Payload::wiegand, 0x02, 0x03, true,
                true, Check::sum8, 4, 10},
    // QR / barcode scanners at pedestrian gates in serial mode: the code's text, CR, maybe LF.
    FrameFormat{"qr-text", "text CR [LF]", Payload::text_line, 0x0D, std::nullopt, false, false,
                Check::none, 1, 1000},
    // Keyboard-wedge readers (USB HID, or serial in "keyboard" mode): the UID as a decimal
    // number, then Enter. Ten digits are the 4-byte UID most such readers type ("0012345678").
    FrameFormat{"decimal-text", "digits CR [LF]", Payload::uid_decimal_line, 0x0D, std::nullopt,
                false, false, Check::none, 8, 20},
    // The same readers set to type the UID in hex.
    FrameFormat{"hex-text", "hex-digits CR [LF]", Payload::uid_hex_line, 0x0D, std::nullopt, false,
                false, Check::none, 8, 20},
};

bool is_line(Payload p) {
  return p == Payload::text_line || p == Payload::uid_decimal_line || p == Payload::uid_hex_line;
}

std::size_t next_start(const FrameFormat& f, std::span<const std::uint8_t> b, std::size_t from) {
  for (std::size_t i = from; i < b.size(); ++i) {
    if (b[i] == f.start) return i;
  }
  return b.size();
}

std::uint8_t check_of(Check c, std::span<const std::uint8_t> b) {
  std::uint8_t v = 0;
  for (auto x : b) v = c == Check::xor_bcc ? static_cast<std::uint8_t>(v ^ x)
                                           : static_cast<std::uint8_t>(v + x);
  return v;
}

bool is_hex(std::uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

std::size_t wiegand_bytes(int bits) { return static_cast<std::size_t>((bits + 7) / 8); }

bool bit_at(std::span<const std::uint8_t> data, int i) {
  return (data[static_cast<std::size_t>(i / 8)] >> (7 - i % 8)) & 1;
}

// The data bits between the two parity bits, or nullopt when a parity bit is wrong
// (SIA AC-01 for 26 bits; the 34-bit format extends it to 16 + 16 bits).
std::optional<std::uint32_t> wiegand_data(std::span<const std::uint8_t> data, int bits) {
  const int half = (bits - 2) / 2;
  int even = 0, odd = 0;
  for (int i = 0; i <= half; ++i) even += bit_at(data, i);
  for (int i = half + 1; i < bits; ++i) odd += bit_at(data, i);
  if (even % 2 != 0 || odd % 2 != 1) return std::nullopt;
  std::uint32_t v = 0;
  for (int i = 1; i < bits - 1; ++i) v = (v << 1) | (bit_at(data, i) ? 1u : 0u);
  return v;
}

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string s;
  for (auto x : b) {
    s += digits[x >> 4];
    s += digits[x & 15];
  }
  return s;
}

// Header length (STX, address, length byte) and the payload bytes the length byte announces.
struct Layout {
  std::size_t header = 1;
  std::size_t payload = 0;
  std::size_t total = 0;
};

}  // namespace

const FrameFormat* find_format(std::string_view model) {
  return find_model(formats, model, &FrameFormat::model);
}

std::string known_models() { return model_names(formats, &FrameFormat::model); }

FrameScan scan_frame(const FrameFormat& f, std::span<const std::uint8_t> b) {
  FrameScan r;
  if (b.empty()) return r;
  if (is_line(f.payload)) {
    // Line ends left over from the previous line are not a frame of their own.
    std::size_t i = 0;
    while (i < b.size() && (b[i] == 0x0D || b[i] == 0x0A)) ++i;
    r.skip = i;
    std::size_t j = i;
    while (j < b.size() && b[j] >= 0x20 && b[j] <= 0x7E) ++j;
    if (j - i > f.max_uid) {
      r.status = FrameScan::Status::invalid;
      r.skip = j;
      r.message = "scanned text longer than " + std::to_string(f.max_uid) + " characters";
      return r;
    }
    if (j == b.size()) return r;
    if (b[j] != 0x0D || j - i < f.min_uid) {
      r.status = FrameScan::Status::invalid;
      r.skip = j + 1;
      r.message = b[j] != 0x0D ? "not printable text" : "empty line";
      return r;
    }
    r.status = FrameScan::Status::complete;
    r.length = j + 1 - i;
    return r;
  }
  if (b[0] != f.start) {
    r.status = FrameScan::Status::invalid;
    r.skip = next_start(f, b, 1);
    r.message = "bytes before the start of a frame";
    return r;
  }
  auto invalid = [&](std::string why) {
    r.status = FrameScan::Status::invalid;
    r.skip = next_start(f, b, 1);
    r.message = std::move(why);
    return r;
  };
  if (f.payload == Payload::uid_ascii_hex) {
    std::size_t i = 1;
    while (i < b.size() && is_hex(b[i])) ++i;
    const std::size_t digits = i - 1;
    if (digits > 2 * f.max_uid) return invalid("card number longer than the reader's maximum");
    if (i == b.size()) return r;
    if (digits < 2 * f.min_uid || digits % 2 != 0) return invalid("bad card number length");
    const std::array<std::uint8_t, 2> crlf{0x0D, 0x0A};
    for (std::size_t k = 0; k < crlf.size(); ++k, ++i) {
      if (i == b.size()) return r;
      if (b[i] != crlf[k]) return invalid("expected CR LF after the card number");
    }
    if (f.end) {
      if (i == b.size()) return r;
      if (b[i] != *f.end) return invalid("expected ETX");
      ++i;
    }
    r.status = FrameScan::Status::complete;
    r.length = i;
    return r;
  }
  Layout l;
  if (f.address) ++l.header;
  if (f.length) {
    if (b.size() < l.header + 1) return r;
    const std::uint8_t n = b[l.header];
    ++l.header;
    if (f.payload == Payload::wiegand) {
      if (n != 26 && n != 34) return invalid("Wiegand bit count " + std::to_string(n) + " (26 or 34)");
      l.payload = wiegand_bytes(n);
    } else {
      if (n < f.min_uid || n > f.max_uid) return invalid("UID length " + std::to_string(n));
      l.payload = n;
    }
  } else {
    l.payload = f.max_uid;
  }
  l.total = l.header + l.payload + (f.check != Check::none ? 1 : 0) + (f.end ? 1 : 0);
  if (b.size() < l.total) return r;
  if (f.end && b[l.total - 1] != *f.end) return invalid("expected ETX");
  if (f.check != Check::none) {
    const auto body = b.subspan(1, l.header - 1 + l.payload);
    if (check_of(f.check, body) != b[1 + body.size()]) {
      r.status = FrameScan::Status::bad_checksum;
      r.skip = l.total;
      r.message = "check byte mismatch";
      return r;
    }
  }
  if (f.payload == Payload::wiegand &&
      !wiegand_data(b.subspan(l.header, l.payload), b[l.header - 1])) {
    r.status = FrameScan::Status::bad_checksum;
    r.skip = l.total;
    r.message = "Wiegand parity error";
    return r;
  }
  r.status = FrameScan::Status::complete;
  r.length = l.total;
  return r;
}

FrameScanner scanner(const FrameFormat& f) {
  return [&f](std::span<const std::uint8_t> b) { return scan_frame(f, b); };
}

std::optional<CardFrame> decode_frame(const FrameFormat& f, std::span<const std::uint8_t> frame,
                                      std::string& error) {
  const auto s = scan_frame(f, frame);
  if (s.status != FrameScan::Status::complete || s.skip + s.length != frame.size()) {
    error = s.message.empty() ? "incomplete frame" : s.message;
    return std::nullopt;
  }
  CardFrame out;
  if (f.payload == Payload::text_line) {
    out.card.assign(frame.begin() + static_cast<std::ptrdiff_t>(s.skip), frame.end() - 1);
    out.qr = true;
    return out;
  }
  if (f.payload == Payload::uid_hex_line || f.payload == Payload::uid_decimal_line) {
    std::string text(frame.begin() + static_cast<std::ptrdiff_t>(s.skip), frame.end() - 1);
    if (f.payload == Payload::uid_hex_line) {
      if (!std::all_of(text.begin(), text.end(), [](char c) { return is_hex(static_cast<std::uint8_t>(c)); })) {
        error = "not a hex card number";
        return std::nullopt;
      }
      if (text.size() % 2) text.insert(text.begin(), '0');
      std::transform(text.begin(), text.end(), text.begin(),
                     [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
      out.card = text;
      return out;
    }
    // Decimal: the UID's value, big-endian, in 4 bytes (7 when it needs them: ISO 14443
    // double-size UIDs; triple-size ones do not fit a decimal number readers type).
    std::uint64_t v = 0;
    for (char c : text) {
      const auto d = static_cast<std::uint64_t>(c - '0');
      if (c < '0' || c > '9') {
        error = "not a decimal card number";
        return std::nullopt;
      }
      if (v > (UINT64_MAX - d) / 10) {
        error = "card number wider than 7 bytes";
        return std::nullopt;
      }
      v = v * 10 + d;
    }
    const std::size_t bytes = v <= 0xFFFFFFFFull ? 4 : 7;
    if (v >> 56) {
      error = "card number wider than 7 bytes";
      return std::nullopt;
    }
    std::vector<std::uint8_t> be(bytes);
    for (std::size_t k = 0; k < bytes; ++k) be[bytes - 1 - k] = static_cast<std::uint8_t>(v >> (8 * k));
    out.card = hex(be);
    return out;
  }
  if (f.payload == Payload::uid_ascii_hex) {
    std::string digits(frame.begin() + 1, frame.begin() + static_cast<std::ptrdiff_t>(
                                                           frame.size() - 2 - (f.end ? 1 : 0)));
    std::transform(digits.begin(), digits.end(), digits.begin(),
                   [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    out.card = digits;
    return out;
  }
  std::size_t i = 1;
  if (f.address) out.address = frame[i++];
  std::size_t n = f.max_uid;
  if (f.length) n = frame[i++];
  if (f.payload == Payload::wiegand) {
    out.wiegand_bits = static_cast<int>(n);
    const auto data = frame.subspan(i, wiegand_bytes(out.wiegand_bits));
    const std::uint32_t v = *wiegand_data(data, out.wiegand_bits);
    std::array<std::uint8_t, 4> be{static_cast<std::uint8_t>(v >> 24),
                                   static_cast<std::uint8_t>(v >> 16),
                                   static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    // 24 data bits (facility + number) are 3 bytes, 32 bits 4: the numbers printed on the card.
    out.card = hex(std::span(be).subspan(out.wiegand_bits == 26 ? 1 : 0));
    return out;
  }
  out.card = hex(frame.subspan(i, n));
  return out;
}

std::vector<std::uint8_t> encode_uid(const FrameFormat& f, int address,
                                     std::span<const std::uint8_t> uid) {
  std::vector<std::uint8_t> b{f.start};
  if (f.payload == Payload::uid_ascii_hex) {
    for (char c : hex(uid)) b.push_back(static_cast<std::uint8_t>(c));
    b.push_back(0x0D);
    b.push_back(0x0A);
  } else {
    if (f.address) b.push_back(static_cast<std::uint8_t>(address));
    if (f.length) b.push_back(static_cast<std::uint8_t>(uid.size()));
    b.insert(b.end(), uid.begin(), uid.end());
    if (f.check != Check::none) b.push_back(check_of(f.check, std::span(b).subspan(1)));
  }
  if (f.end) b.push_back(*f.end);
  return b;
}

std::vector<std::uint8_t> encode_wiegand(const FrameFormat& f, int address, int bits,
                                         std::uint32_t facility, std::uint32_t number) {
  const std::uint32_t data = bits == 26 ? ((facility & 0xFF) << 16) | (number & 0xFFFF) : number;
  const int n = bits - 2;
  std::vector<bool> v(static_cast<std::size_t>(bits));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i + 1)] = (data >> (n - 1 - i)) & 1;
  int ones_first = 0, ones_second = 0;
  for (int i = 1; i <= n / 2; ++i) ones_first += v[static_cast<std::size_t>(i)];
  for (int i = n / 2 + 1; i <= n; ++i) ones_second += v[static_cast<std::size_t>(i)];
  v[0] = ones_first % 2 == 1;                                  // even parity
  v[static_cast<std::size_t>(bits - 1)] = ones_second % 2 == 0;  // odd parity
  std::vector<std::uint8_t> payload(wiegand_bytes(bits), 0);
  for (int i = 0; i < bits; ++i) {
    if (v[static_cast<std::size_t>(i)]) {
      payload[static_cast<std::size_t>(i / 8)] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
    }
  }
  std::vector<std::uint8_t> b{f.start};
  if (f.address) b.push_back(static_cast<std::uint8_t>(address));
  b.push_back(static_cast<std::uint8_t>(bits));
  b.insert(b.end(), payload.begin(), payload.end());
  if (f.check != Check::none) b.push_back(check_of(f.check, std::span(b).subspan(1)));
  if (f.end) b.push_back(*f.end);
  return b;
}

}  // namespace estate::drivers::card
