#include "protocols/dlt645/dlt645.hpp"

#include <cstdio>

#include "protocols/common/frame68.hpp"

namespace estate::protocols::dlt645 {

namespace {

constexpr std::uint8_t kStart = 0x68;
constexpr std::uint8_t kEnd = 0x16;
constexpr std::uint8_t kWake = 0xFE;
constexpr std::uint8_t kOffset = 0x33;  // DL/T 645-2007 §4.1.5: data sent "plus 33H"

bool is_bcd(std::uint8_t b) { return (b >> 4) <= 9 && (b & 0x0F) <= 9; }
int bcd_value(std::uint8_t b) { return (b >> 4) * 10 + (b & 0x0F); }
std::uint8_t to_bcd(int v) { return static_cast<std::uint8_t>(((v / 10) % 10) << 4 | (v % 10)); }

// Bytes arrive least significant first; people read them most significant first.
std::string reversed_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = bytes.size(); i-- > 0;) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0x0F]);
  }
  return out;
}

// A message whose data must be exactly `size` bytes: the error when it is not.
std::optional<DecodeError> wrong_size(std::span<const std::uint8_t> data, std::size_t size,
                                      std::string_view message, std::string_view unit,
                                      std::size_t at) {
  if (data.size() == size) return std::nullopt;
  return decode_error(std::string(message) + " must carry " + std::to_string(size) + " " +
                          std::string(unit) + ", has " + std::to_string(data.size()),
                      at);
}

bool valid_datetime(const DateTime& t) {
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.hour <= 23 &&
         t.minute <= 59 && t.second <= 59;
}

// ss mm hh DD MM YY, least significant first (DL/T 645-2007 §7.1 broadcast time, A.5).
std::optional<DateTime> parse_datetime6(std::span<const std::uint8_t> b) {
  if (b.size() < 6) return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i) {
    if (!is_bcd(b[i])) return std::nullopt;
  }
  DateTime t{2000 + bcd_value(b[5]), bcd_value(b[4]), bcd_value(b[3]),
             bcd_value(b[2]), bcd_value(b[1]), bcd_value(b[0])};
  if (!valid_datetime(t)) return std::nullopt;
  return t;
}

void append_datetime6(Bytes& out, const DateTime& t) {
  out.push_back(to_bcd(t.second));
  out.push_back(to_bcd(t.minute));
  out.push_back(to_bcd(t.hour));
  out.push_back(to_bcd(t.day));
  out.push_back(to_bcd(t.month));
  out.push_back(to_bcd(t.year % 100));
}

Value decode_one(const DiInfo& info, std::span<const std::uint8_t> b) {
  Value v;
  v.raw = reversed_hex(b);
  bool bcd = true;
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::uint8_t x = b[i];
    if (info.is_signed && i + 1 == b.size()) x &= 0x7F;
    if (!is_bcd(x)) bcd = false;
  }
  switch (info.format) {
    case ValueFormat::number: {
      if (!bcd) break;
      // One division of an exact integer gives the double nearest the decimal value.
      std::uint64_t digits = 0, scale = 1;
      for (std::size_t i = b.size(); i-- > 0;) {
        std::uint8_t x = b[i];
        if (info.is_signed && i + 1 == b.size()) x &= 0x7F;
        digits = digits * 100 + static_cast<std::uint64_t>(bcd_value(x));
      }
      for (int d = 0; d < info.decimals; ++d) scale *= 10;
      double n = static_cast<double>(digits) / static_cast<double>(scale);
      if (info.is_signed && (b.back() & 0x80) != 0) n = -n;
      v.number = n;
      break;
    }
    case ValueFormat::date_week: {  // WW DD MM YY on the wire
      if (!bcd || b.size() != 4) break;
      char buf[32];
      int month = bcd_value(b[2]), day = bcd_value(b[1]);
      if (month < 1 || month > 12 || day < 1 || day > 31) break;
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", 2000 + bcd_value(b[3]), month, day);
      v.text = buf;
      break;
    }
    case ValueFormat::time: {  // ss mm hh
      if (!bcd || b.size() != 3) break;
      if (bcd_value(b[2]) > 23 || bcd_value(b[1]) > 59 || bcd_value(b[0]) > 59) break;
      char buf[16];
      std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", bcd_value(b[2]), bcd_value(b[1]),
                    bcd_value(b[0]));
      v.text = buf;
      break;
    }
    case ValueFormat::datetime: {
      if (auto t = parse_datetime6(b)) v.text = t->iso8601();
      break;
    }
    case ValueFormat::digits:
      if (bcd) v.text = v.raw;
      break;
    case ValueFormat::hex:
      v.text = v.raw;
      break;
  }
  return v;
}

Result<std::string> digits_to_bytes(std::string_view digits, std::size_t n, const char* what,
                                    Bytes& out) {
  if (digits.size() != n * 2) {
    return decode_error(std::string(what) + " must be " + std::to_string(n * 2) + " digits", 0);
  }
  // Written most significant first; sent least significant first.
  for (std::size_t i = n; i-- > 0;) {
    int hi = hex_digit(digits[2 * i]), lo = hex_digit(digits[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return decode_error(std::string(what) + ": not a hex digit", hi < 0 ? 2 * i : 2 * i + 1);
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return std::string();
}

}  // namespace

std::string_view to_string(Version v) { return v == Version::v2007 ? "2007" : "1997"; }

std::string DateTime::iso8601() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute,
                second);
  return buf;
}

Result<Address> parse_address(std::string_view digits) {
  Bytes b;
  auto r = digits_to_bytes(digits, 6, "address", b);
  if (!r) return r.error();
  Address a{};
  for (std::size_t i = 0; i < 6; ++i) a[i] = b[i];
  return a;
}

std::string format_address(const Address& address) { return reversed_hex(address); }

Result<Frame> decode_frame(std::span<const std::uint8_t> bytes) {
  auto s = whole_frame68(bytes, kFrameLayout);
  if (!s) return s.error();
  const std::size_t head = s->preamble;
  Frame f;
  f.preamble = head;
  for (std::size_t i = 0; i < 6; ++i) f.address[i] = bytes[head + 1 + i];
  f.control = bytes[head + 8];
  const std::size_t len = bytes[head + 9];
  f.data_offset = head + kHeaderSize;
  f.data.reserve(len);
  for (std::size_t i = 0; i < len; ++i) {
    f.data.push_back(static_cast<std::uint8_t>(bytes[f.data_offset + i] - kOffset));
  }
  return f;
}

Bytes encode_frame(const Address& address, std::uint8_t control,
                   std::span<const std::uint8_t> data, std::size_t preamble) {
  if (data.size() > 255) data = data.first(255);
  Bytes out(preamble, kWake);
  out.reserve(preamble + kHeaderSize + data.size() + 2);
  out.push_back(kStart);
  out.insert(out.end(), address.begin(), address.end());
  out.push_back(kStart);
  out.push_back(control);
  out.push_back(static_cast<std::uint8_t>(data.size()));
  for (auto b : data) out.push_back(static_cast<std::uint8_t>(b + kOffset));
  out.push_back(sum8(std::span(out).subspan(preamble)));
  out.push_back(kEnd);
  return out;
}

std::vector<Value> decode_values(const std::optional<DiInfo>& info,
                                 std::span<const std::uint8_t> data) {
  std::vector<Value> out;
  if (data.empty()) return out;
  if (!info || info->size == 0 || data.size() % info->size != 0 ||
      data.size() / info->size > info->max_count) {
    Value v;
    v.raw = reversed_hex(data);
    v.text = v.raw;
    out.push_back(std::move(v));
    return out;
  }
  for (std::size_t at = 0; at < data.size(); at += info->size) {
    out.push_back(decode_one(*info, data.subspan(at, info->size)));
  }
  return out;
}

std::vector<std::string> error_flags(std::uint8_t err) {
  // DL/T 645-2007 §7.1.2 (abnormal answer ERR byte). Bit 7 is reserved.
  static constexpr const char* kBits[8] = {
      "other error",
      "no requested data",
      "password error or unauthorised",
      "baud rate cannot be changed",
      "annual time zones exceed limit",
      "daily time periods exceed limit",
      "tariff count exceeds limit",
      "reserved bit 7",
  };
  std::vector<std::string> out;
  for (int i = 0; i < 8; ++i) {
    if (err & (1u << i)) out.emplace_back(kBits[i]);
  }
  return out;
}

std::optional<std::string_view> relay_action_name(std::uint8_t n1) {
  switch (n1) {
    case 0x1A: return "trip";
    case 0x1B: return "close_permitted";
    case 0x1C: return "direct_close";
    case 0x2A: return "alarm";
    case 0x2B: return "alarm_release";
    case 0x3A: return "keep_power";
    case 0x3B: return "keep_power_release";
    default: return std::nullopt;
  }
}

RelayStatus relay_status(std::uint16_t word) {
  return RelayStatus{(word & 0x10) != 0, (word & 0x40) != 0, (word & 0x80) != 0};
}

std::optional<std::uint16_t> status_word(const Message& m) {
  if (m.kind != Message::Kind::read_response || m.di != kStatusWord3 || m.values.size() != 1 ||
      m.length_mismatch || m.values[0].raw.size() != 4) {
    return std::nullopt;
  }
  auto bytes = parse_hex(m.values[0].raw);  // the word as written, most significant first
  if (!bytes || bytes->size() != 2) return std::nullopt;
  return static_cast<std::uint16_t>((*bytes)[0] << 8 | (*bytes)[1]);
}

Version version_of(const Frame& frame) {
  switch (frame.function()) {
    case control::kRead1997:
    case control::kReadFollowUp1997:
    case control::kWrite1997:
    case 0x0A:  // write address (1997)
    case 0x0C:  // change baud rate (1997)
    case 0x0F:  // change password (1997)
    case 0x10:  // demand reset (1997)
      return Version::v1997;
    default:
      return Version::v2007;
  }
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  auto frame = decode_frame(bytes);
  if (!frame) return frame.error();
  Message m;
  m.frame = std::move(frame).value();
  m.version = version_of(m.frame);
  const auto& f = m.frame;
  const auto data = std::span<const std::uint8_t>(f.data);
  const std::size_t base = f.data_offset;
  const std::uint8_t fn = f.function();
  const std::size_t di_size = m.version == Version::v2007 ? 4 : 2;

  auto read_di = [&](std::span<const std::uint8_t> d) {
    std::uint32_t di = 0;
    for (std::size_t i = di_size; i-- > 0;) di = di << 8 | d[i];
    return di;
  };

  if (f.is_response() && f.is_abnormal()) {
    m.kind = Message::Kind::error_response;
    if (data.size() < 1) return decode_error("abnormal answer without an error byte", base);
    m.error = data[0];
    return m;
  }

  const bool is_read = fn == control::kRead || fn == control::kReadFollowUp ||
                       fn == control::kRead1997 || fn == control::kReadFollowUp1997;
  if (is_read) {
    const bool follow_up_read = fn == control::kReadFollowUp;  // 2007 carries SEQ
    if (data.size() < di_size) {
      return decode_error("read frame has " + std::to_string(data.size()) +
                              " data bytes, the data identifier needs " + std::to_string(di_size),
                          base + data.size());
    }
    m.di = read_di(data);
    m.info = lookup_di(m.version, *m.di);
    auto rest = data.subspan(di_size);
    if (!f.is_response()) {
      m.kind = Message::Kind::read_request;
      // 2007 §7.1: a read request may carry a block count (N) or time; 0x12 carries SEQ.
      if (follow_up_read && !rest.empty()) m.seq = rest.back();
      return m;
    }
    m.kind = Message::Kind::read_response;
    if (follow_up_read) {
      if (rest.empty()) {
        return decode_error("follow-up answer without its sequence number", base + data.size());
      }
      m.seq = rest.back();
      rest = rest.first(rest.size() - 1);
    }
    m.values = decode_values(m.info, rest);
    m.length_mismatch = m.info && !rest.empty() &&
                        (rest.size() % m.info->size != 0 ||
                         rest.size() / m.info->size > m.info->max_count);
    return m;
  }

  if (m.version == Version::v2007) {
    switch (fn) {
      case control::kReadAddress:
        if (!f.is_response()) {
          m.kind = Message::Kind::read_address_request;
          return m;
        }
        m.kind = Message::Kind::read_address_response;
        if (auto e = wrong_size(data, 6, "read-address answer", "address bytes", base)) return *e;
        m.meter_address = Address{data[0], data[1], data[2], data[3], data[4], data[5]};
        return m;
      case control::kBroadcastTime:
        m.kind = Message::Kind::time_sync;
        if (auto e = wrong_size(data, 6, "time sync", "bytes (ss mm hh DD MM YY)", base)) return *e;
        m.time = parse_datetime6(data);
        if (!m.time) return decode_error("time sync: not a valid BCD date and time", base);
        return m;
      case control::kRelayControl:
        if (f.is_response()) {
          m.kind = Message::Kind::relay_control_response;
          return m;
        }
        m.kind = Message::Kind::relay_control;
        if (auto e = wrong_size(data, 16, "relay control", "bytes (PA P0-P2 C0-C3 N1-N8)", base)) {
          return *e;
        }
        m.password_level = data[0];
        m.password = reversed_hex(data.subspan(1, 3));
        m.operator_code = reversed_hex(data.subspan(4, 4));
        m.relay_action = data[8];
        if (!relay_action_name(data[8])) {
          return decode_error("relay control: unknown action " + hex_byte(data[8]), base + 8);
        }
        m.valid_until = parse_datetime6(data.subspan(10, 6));
        return m;
      default:
        break;
    }
  } else if (fn == control::kBroadcastTime) {
    m.kind = Message::Kind::time_sync;
    m.time = parse_datetime6(data);
    if (!m.time) return decode_error("time sync: not a valid BCD date and time", base);
    return m;
  }
  m.kind = Message::Kind::other;
  return m;
}

Bytes encode_read(Version version, const Address& address, std::uint32_t di,
                  std::size_t preamble) {
  Bytes data;
  const std::size_t n = version == Version::v2007 ? 4 : 2;
  for (std::size_t i = 0; i < n; ++i) data.push_back(static_cast<std::uint8_t>(di >> (8 * i)));
  return encode_frame(address, version == Version::v2007 ? control::kRead : control::kRead1997,
                      data, preamble);
}

Bytes encode_read_follow_up(Version version, const Address& address, std::uint32_t di,
                            std::uint8_t seq, std::size_t preamble) {
  Bytes data;
  const std::size_t n = version == Version::v2007 ? 4 : 2;
  for (std::size_t i = 0; i < n; ++i) data.push_back(static_cast<std::uint8_t>(di >> (8 * i)));
  if (version == Version::v2007) data.push_back(seq);
  return encode_frame(address,
                      version == Version::v2007 ? control::kReadFollowUp
                                                : control::kReadFollowUp1997,
                      data, preamble);
}

Bytes encode_read_address(std::size_t preamble) {
  return encode_frame(kWildcardAddress, control::kReadAddress, {}, preamble);
}

Bytes encode_time_sync(const DateTime& time, const Address& address, std::size_t preamble) {
  Bytes data;
  append_datetime6(data, time);
  return encode_frame(address, control::kBroadcastTime, data, preamble);
}

Result<Bytes> encode_relay_control(const Address& address, const RelayCommand& command,
                                   std::size_t preamble) {
  Bytes data;
  data.push_back(command.password_level);
  if (auto r = digits_to_bytes(command.password, 3, "password", data); !r) return r.error();
  if (auto r = digits_to_bytes(command.operator_code, 4, "operator code", data); !r) {
    return r.error();
  }
  data.push_back(static_cast<std::uint8_t>(command.action));
  data.push_back(0x00);  // N2: reserved
  append_datetime6(data, command.valid_until);
  return encode_frame(address, control::kRelayControl, data, preamble);
}

}  // namespace estate::protocols::dlt645
