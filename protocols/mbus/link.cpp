#include "protocols/mbus/link.hpp"

#include "protocols/common/hex.hpp"
#include "protocols/mbus/manufacturer.hpp"

namespace estate::protocols::mbus {

namespace {

std::uint8_t checksum(std::span<const std::uint8_t> bytes) {
  unsigned sum = 0;
  for (auto b : bytes) sum += b;
  return static_cast<std::uint8_t>(sum & 0xFF);
}

FrameScan need(std::size_t n) { return {FrameScan::Status::need_more, n, {}}; }
FrameScan complete(std::size_t n) { return {FrameScan::Status::complete, n, {}}; }
FrameScan fault(std::string message, std::size_t offset) {
  return {FrameScan::Status::error, 0, decode_error(std::move(message), offset)};
}

std::string cs_message(std::uint8_t expected, std::uint8_t got) {
  return "bad checksum: expected " + hex_byte(expected) + ", got " + hex_byte(got);
}

}  // namespace

std::string_view to_string(FrameKind kind) {
  switch (kind) {
    case FrameKind::ack: return "ack";
    case FrameKind::short_: return "short";
    case FrameKind::control: return "control";
    case FrameKind::long_: return "long";
  }
  return "unknown";
}

FrameScan scan_frame(std::span<const std::uint8_t> b) {
  if (b.empty()) return need(1);
  switch (b[0]) {
    case kAck:
      return complete(1);
    case kShortStart: {
      // EN 13757-2 §5.2: 10 C A CS 16, CS = C + A.
      if (b.size() < 5) return need(5 - b.size());
      const std::uint8_t cs = checksum(b.subspan(1, 2));
      if (b[3] != cs) return fault(cs_message(cs, b[3]), 3);
      if (b[4] != kStop) return fault("missing stop byte 0x16, got " + hex_byte(b[4]), 4);
      return complete(5);
    }
    case kLongStart: {
      // 68 L L 68: the L field counts C, A, CI and the user data; it is sent twice and the
      // frame is only accepted when both copies agree (EN 13757-2 §5.2). L < 3 cannot hold
      // C, A and CI, so it is rejected before waiting for more bytes.
      if (b.size() < 2) return need(4 - b.size());
      const std::size_t len = b[1];
      if (len < 3) return fault("L field " + std::to_string(len) + " too small (at least 3)", 1);
      if (b.size() < 3) return need(4 - b.size());
      if (b[2] != b[1]) {
        return fault("L fields differ: " + hex_byte(b[1]) + " and " + hex_byte(b[2]), 2);
      }
      if (b.size() < 4) return need(1);
      if (b[3] != kLongStart) return fault("second start byte 0x68 missing, got " + hex_byte(b[3]), 3);
      const std::size_t total = len + 6;
      if (b.size() < total) return need(total - b.size());
      const std::uint8_t cs = checksum(b.subspan(4, len));
      if (b[4 + len] != cs) return fault(cs_message(cs, b[4 + len]), 4 + len);
      if (b[5 + len] != kStop) {
        return fault("missing stop byte 0x16, got " + hex_byte(b[5 + len]), 5 + len);
      }
      return complete(total);
    }
    default:
      return fault("not an M-Bus frame start (E5, 10 or 68): " + hex_byte(b[0]), 0);
  }
}

Result<Frame> parse_frame(std::span<const std::uint8_t> bytes) {
  const FrameScan scan = scan_frame(bytes);
  if (scan.status == FrameScan::Status::error) return scan.error;
  if (scan.status == FrameScan::Status::need_more) {
    return decode_error("truncated frame: " + std::to_string(scan.length) + " more byte(s) needed",
                        bytes.size());
  }
  if (scan.length != bytes.size()) {
    return decode_error(std::to_string(bytes.size() - scan.length) + " trailing byte(s) after the frame",
                        scan.length);
  }
  Frame f;
  switch (bytes[0]) {
    case kAck:
      f.kind = FrameKind::ack;
      break;
    case kShortStart:
      f.kind = FrameKind::short_;
      f.control = bytes[1];
      f.address = bytes[2];
      break;
    default:
      f.kind = bytes[1] == 3 ? FrameKind::control : FrameKind::long_;
      f.control = bytes[4];
      f.address = bytes[5];
      f.ci = bytes[6];
      f.data = bytes.subspan(7, bytes[1] - 3);
      f.data_offset = 7;
      break;
  }
  return f;
}

namespace {

Bytes short_frame(std::uint8_t control, std::uint8_t address) {
  return {kShortStart, control, address, static_cast<std::uint8_t>(control + address), kStop};
}

}  // namespace

Bytes encode_snd_nke(std::uint8_t address) { return short_frame(kControlSndNke, address); }

Bytes encode_req_ud2(std::uint8_t address, bool fcb) {
  return short_frame(static_cast<std::uint8_t>(kControlReqUd2 | (fcb ? kControlFcb : 0)), address);
}

Bytes encode_req_ud1(std::uint8_t address, bool fcb) {
  return short_frame(static_cast<std::uint8_t>(kControlReqUd1 | (fcb ? kControlFcb : 0)), address);
}

Bytes encode_snd_ud(std::uint8_t address, std::uint8_t ci, std::span<const std::uint8_t> data,
                    bool fcb) {
  // The L field is one byte: C + A + CI + data must fit in 255 bytes. Longer user data is a
  // programming error on the master side, so it is cut rather than sent with a wrong L field.
  const std::size_t n = std::min<std::size_t>(data.size(), 252);
  const auto len = static_cast<std::uint8_t>(n + 3);
  const auto control = static_cast<std::uint8_t>(kControlSndUd | (fcb ? kControlFcb : 0));
  Bytes out;
  out.reserve(n + 9);
  out.insert(out.end(), {kLongStart, len, len, kLongStart, control, address, ci});
  out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  out.push_back(checksum(std::span(out).subspan(4)));
  out.push_back(kStop);
  return out;
}

Bytes encode_application_reset(std::uint8_t address, std::optional<std::uint8_t> subcode, bool fcb) {
  if (subcode) {
    const std::uint8_t data[1] = {*subcode};
    return encode_snd_ud(address, kCiApplicationReset, data, fcb);
  }
  return encode_snd_ud(address, kCiApplicationReset, {}, fcb);
}

Result<SecondaryAddress> parse_secondary_address(std::string_view text) {
  const auto nibble = hex_digit;
  SecondaryAddress a;
  if (text.size() != 16 && text.size() != 15) {
    return decode_error("secondary address must be 16 hex digits (IIIIIIIIMMMMVVTT) or "
                        "8 digits, 3 letters and 4 hex digits; got " +
                            std::to_string(text.size()) + " characters",
                        0);
  }
  for (std::size_t i = 0; i < 8; ++i) {
    int n = nibble(text[i]);
    if (n < 0 || (n > 9 && n != 0xF)) {
      return decode_error(std::string("identification digit must be 0-9 or F (wildcard), got '") +
                              text[i] + "'",
                          i);
    }
    a.id_digits[i] = static_cast<std::uint8_t>(n);
  }
  std::size_t pos = 8;
  if (text.size() == 15) {
    auto code = manufacturer_code(text.substr(8, 3));
    if (!code) return decode_error("manufacturer must be three letters A-Z", 8);
    a.manufacturer = *code;
    pos = 11;
  } else {
    unsigned v = 0;
    for (std::size_t i = 8; i < 12; ++i) {
      int n = nibble(text[i]);
      if (n < 0) return decode_error(std::string("not a hex digit: '") + text[i] + "'", i);
      v = v << 4 | static_cast<unsigned>(n);
    }
    a.manufacturer = static_cast<std::uint16_t>(v);
    pos = 12;
  }
  std::uint8_t tail[2] = {};
  for (int k = 0; k < 2; ++k) {
    int hi = nibble(text[pos]);
    int lo = nibble(text[pos + 1]);
    if (hi < 0) return decode_error(std::string("not a hex digit: '") + text[pos] + "'", pos);
    if (lo < 0) return decode_error(std::string("not a hex digit: '") + text[pos + 1] + "'", pos + 1);
    tail[k] = static_cast<std::uint8_t>(hi << 4 | lo);
    pos += 2;
  }
  a.version = tail[0];
  a.medium = tail[1];
  return a;
}

Bytes encode_select_secondary(const SecondaryAddress& a, bool fcb) {
  // EN 13757-3 §6.6 (selection with CI 52): identification number in BCD, least significant
  // byte first, a nibble F matching any digit; then manufacturer (LSB first), version, medium.
  std::uint8_t data[8];
  for (int i = 0; i < 4; ++i) {
    // byte 0 carries the two least significant digits
    const auto hi = a.id_digits[static_cast<std::size_t>(6 - 2 * i)];
    const auto lo = a.id_digits[static_cast<std::size_t>(7 - 2 * i)];
    data[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  data[4] = static_cast<std::uint8_t>(a.manufacturer & 0xFF);
  data[5] = static_cast<std::uint8_t>(a.manufacturer >> 8);
  data[6] = a.version;
  data[7] = a.medium;
  return encode_snd_ud(kAddressNetworkLayer, kCiSelectSecondary, data, fcb);
}

}  // namespace estate::protocols::mbus
