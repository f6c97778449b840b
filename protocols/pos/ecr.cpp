#include "protocols/pos/ecr.hpp"

#include <array>

namespace estate::protocols::pos {

namespace {

constexpr std::array<FrameFormat, 2> format_table{{
    {"generic", 0x02, 0x03, 0x06, 0x15, 0x1C, LengthEncoding::binary_be16, 1024},
    {"bcd", 0x02, 0x03, 0x06, 0x15, 0x1C, LengthEncoding::bcd16, 1024},
}};

// RF: the gateway's reference of the payment, unique per payment, repeated in every answer;
// AM: amount in fen (decimal digits); RC: result code; AU: authorisation code; RR: retrieval
// reference number; CN: masked card number; MS: text for people; CT/TT: settlement count/total.
constexpr std::array<std::string_view, 2> rf_am{{"RF", "AM"}};
constexpr std::array<std::string_view, 1> rf{{"RF"}};
constexpr std::array<std::string_view, 2> rc_rf{{"RC", "RF"}};
constexpr std::array<std::string_view, 0> none{};
constexpr std::array<std::string_view, 3> rc_ct_tt{{"RC", "CT", "TT"}};

constexpr std::array<MessageSpec, 8> message_table{{
    {"S0", "sale request", rf_am},
    {"S1", "sale response", rc_rf},
    {"Q0", "query request", rf},
    {"Q1", "query response", rc_rf},
    {"V0", "void request", rf_am},
    {"V1", "void response", rc_rf},
    {"T0", "settlement request", none},
    {"T1", "settlement response", rc_ct_tt},
}};

bool valid_tag(std::string_view t) {
  return t.size() == 2 && t[0] >= 'A' && t[0] <= 'Z' && t[1] >= 'A' && t[1] <= 'Z';
}

std::size_t length_size(const FrameFormat&) { return 2; }

std::optional<std::size_t> read_length(const FrameFormat& f, std::uint8_t hi, std::uint8_t lo) {
  if (f.length == LengthEncoding::binary_be16) return (std::size_t{hi} << 8) | lo;
  auto digit = [](std::uint8_t nib) { return nib <= 9 ? std::optional<std::size_t>(nib) : std::nullopt; };
  auto a = digit(hi >> 4), b = digit(hi & 15), c = digit(lo >> 4), d = digit(lo & 15);
  if (!a || !b || !c || !d) return std::nullopt;
  return *a * 1000 + *b * 100 + *c * 10 + *d;
}

void write_length(const FrameFormat& f, std::size_t n, Bytes& out) {
  if (f.length == LengthEncoding::binary_be16) {
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n & 0xFF));
    return;
  }
  out.push_back(static_cast<std::uint8_t>(((n / 1000) % 10) << 4 | ((n / 100) % 10)));
  out.push_back(static_cast<std::uint8_t>(((n / 10) % 10) << 4 | (n % 10)));
}

std::size_t max_length(const FrameFormat& f) {
  std::size_t limit = f.length == LengthEncoding::bcd16 ? 9999 : 65535;
  return f.max_data < limit ? f.max_data : limit;
}

}  // namespace

std::span<const FrameFormat> formats() { return format_table; }

const FrameFormat* find_format(std::string_view name) {
  for (const auto& f : format_table) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::span<const MessageSpec> message_specs() { return message_table; }

const MessageSpec* find_message(std::string_view type) {
  for (const auto& m : message_table) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

std::optional<std::string> Message::get(std::string_view tag) const {
  for (const auto& [t, v] : fields) {
    if (t == tag) return v;
  }
  return std::nullopt;
}

Message& Message::set(std::string tag, std::string value) {
  for (auto& [t, v] : fields) {
    if (t == tag) {
      v = std::move(value);
      return *this;
    }
  }
  fields.emplace_back(std::move(tag), std::move(value));
  return *this;
}

std::uint8_t lrc(std::span<const std::uint8_t> bytes) {
  std::uint8_t x = 0;
  for (auto b : bytes) x ^= b;
  return x;
}

Result<Bytes> encode(const FrameFormat& f, const Message& m) {
  const auto* spec = find_message(m.type);
  if (!spec) return decode_error("unknown message type '" + m.type + "'", 0);
  for (auto req : spec->required) {
    if (!m.get(req)) {
      return decode_error(std::string(spec->meaning) + " needs field " + std::string(req), 0);
    }
  }
  Bytes data(m.type.begin(), m.type.end());
  for (const auto& [tag, value] : m.fields) {
    if (!valid_tag(tag)) return decode_error("field tag '" + tag + "' is not 2 letters A-Z", 0);
    data.push_back(f.field_separator);
    data.insert(data.end(), tag.begin(), tag.end());
    for (char c : value) {
      auto b = static_cast<std::uint8_t>(c);
      if (b < 0x20 || b > 0x7E) {
        return decode_error("field " + tag + " has a non-printable byte " + hex_byte(b), 0);
      }
      data.push_back(b);
    }
  }
  if (data.size() > max_length(f)) {
    return decode_error("message of " + std::to_string(data.size()) +
                            " bytes exceeds the frame limit of " + std::to_string(max_length(f)),
                        0);
  }
  Bytes out;
  out.reserve(data.size() + 5);
  out.push_back(f.stx);
  write_length(f, data.size(), out);
  out.insert(out.end(), data.begin(), data.end());
  out.push_back(f.etx);
  out.push_back(lrc(std::span(out).subspan(1)));
  return out;
}

Result<Message> decode(const FrameFormat& f, std::span<const std::uint8_t> frame) {
  const std::size_t ls = length_size(f);
  if (frame.size() < 1 + ls + 2 + 2) {
    return decode_error("frame of " + std::to_string(frame.size()) + " bytes is too short",
                        frame.size());
  }
  if (frame[0] != f.stx) return decode_error("expected STX " + hex_byte(f.stx) + ", got " + hex_byte(frame[0]), 0);
  auto len = read_length(f, frame[1], frame[2]);
  if (!len) return decode_error("length is not BCD", 1);
  if (*len > max_length(f)) {
    return decode_error("length " + std::to_string(*len) + " exceeds the limit " +
                            std::to_string(max_length(f)),
                        1);
  }
  std::size_t etx_at = 1 + ls + *len;
  if (frame.size() != etx_at + 2) {
    return decode_error("frame is " + std::to_string(frame.size()) + " bytes, length says " +
                            std::to_string(etx_at + 2),
                        frame.size() < etx_at + 2 ? frame.size() : etx_at + 2);
  }
  if (frame[etx_at] != f.etx) {
    return decode_error("expected ETX " + hex_byte(f.etx) + ", got " + hex_byte(frame[etx_at]), etx_at);
  }
  auto want = lrc(frame.subspan(1, etx_at));
  if (frame[etx_at + 1] != want) {
    return decode_error("bad LRC: expected " + hex_byte(want) + ", got " + hex_byte(frame[etx_at + 1]),
                        etx_at + 1);
  }
  auto data = frame.subspan(1 + ls, *len);
  if (data.size() < 2) return decode_error("message type missing", 1 + ls);
  Message m;
  m.type.assign(data.begin(), data.begin() + 2);
  const auto* spec = find_message(m.type);
  if (!spec) return decode_error("unknown message type '" + m.type + "'", 1 + ls);
  std::size_t i = 2;
  while (i < data.size()) {
    std::size_t at = 1 + ls + i;
    if (data[i] != f.field_separator) return decode_error("expected field separator", at);
    std::size_t j = i + 1;
    while (j < data.size() && data[j] != f.field_separator) ++j;
    if (j - i - 1 < 2) return decode_error("field without a 2-letter tag", at + 1);
    std::string tag(data.begin() + static_cast<std::ptrdiff_t>(i + 1),
                    data.begin() + static_cast<std::ptrdiff_t>(i + 3));
    if (!valid_tag(tag)) return decode_error("field tag is not 2 letters A-Z", at + 1);
    std::string value;
    for (std::size_t k = i + 3; k < j; ++k) {
      if (data[k] < 0x20 || data[k] > 0x7E) {
        return decode_error("field " + tag + " has a non-printable byte " + hex_byte(data[k]),
                            1 + ls + k);
      }
      value += static_cast<char>(data[k]);
    }
    if (m.get(tag)) return decode_error("field " + tag + " appears twice", at + 1);
    m.fields.emplace_back(std::move(tag), std::move(value));
    i = j;
  }
  for (auto req : spec->required) {
    if (!m.get(req)) {
      return decode_error(std::string(spec->meaning) + " lacks field " + std::string(req),
                          frame.size() - 2);
    }
  }
  return m;
}

Scan scan(const FrameFormat& f, std::span<const std::uint8_t> buf) {
  if (buf.empty()) return {};
  if (buf[0] == f.ack) return {Scan::ack, 1};
  if (buf[0] == f.nak) return {Scan::nak, 1};
  if (buf[0] != f.stx) {
    std::size_t n = 1;
    while (n < buf.size() && buf[n] != f.stx && buf[n] != f.ack && buf[n] != f.nak) ++n;
    return {Scan::garbage, n};
  }
  const std::size_t ls = length_size(f);
  if (buf.size() < 1 + ls) return {};
  auto len = read_length(f, buf[1], buf[2]);
  // A length that cannot be right: drop the STX and resynchronise on the next one.
  if (!len || *len > max_length(f) || *len < 2) return {Scan::garbage, 1};
  std::size_t total = 1 + ls + *len + 2;
  if (buf.size() < total) return {};
  return {Scan::frame, total};
}

namespace {

constexpr std::array<std::string_view, 24> decline_table{{
    "01", "03", "04", "05", "12", "13", "14", "15", "30", "41", "43", "51",
    "54", "55", "57", "58", "59", "61", "62", "63", "65", "75", "94", "96",
}};

}  // namespace

std::span<const std::string_view> decline_codes() { return decline_table; }

ResultClass classify_result(std::string_view code) {
  if (code == rc_approved) return ResultClass::approved;
  if (code == rc_not_found) return ResultClass::not_found;
  for (auto d : decline_table) {
    if (d == code) return ResultClass::declined;
  }
  return ResultClass::unknown;
}

std::string mask_card_number(std::string_view cn) {
  std::size_t digits = 0;
  for (char c : cn) digits += (c >= '0' && c <= '9');
  std::string out;
  std::size_t seen = 0;
  for (char c : cn) {
    if (out.size() >= 32) break;
    if (c >= '0' && c <= '9') {
      ++seen;
      out += (seen <= 6 || seen + 4 > digits) ? c : '*';
    } else {
      out += (c >= 0x20 && c <= 0x7E) ? c : '*';
    }
  }
  return out;
}

std::string mask_card_numbers_in_text(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i) {
      out += text[i++];
      continue;
    }
    auto run = text.substr(i, j - i);
    out += run.size() >= 12 ? mask_card_number(run) : std::string(run);
    i = j;
  }
  return out;
}

}  // namespace estate::protocols::pos
