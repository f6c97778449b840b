#include "protocols/pos/ecr.hpp"

#include <array>

namespace estate::protocols::pos {

namespace {

// ---- Transbank POS Integrado (transbankdevelopers.cl/referencia/posintegrado) ----
// Field widths are the document's "largo" column; the transaction date is DDMMAAAA (8), which
// the document's table gives as 2.

constexpr std::array<Field, 5> tbk_sale_request{{
    {"amount", 9, true, true},
    {"ticket", 6, false, true},
    {"print", 0, false, false},     // empty in a single-merchant sale
    {"merchant", 0, false, false},  // empty in a single-merchant sale
    {"send_status", 1, true, true}, // 0: no intermediate messages
}};

// Answers of sale (0210) and last sale (0260) share one layout.
constexpr std::array<Field, 18> tbk_sale_response{{
    {"code", 2, false, true},
    {"merchant", 12, false, false},
    {"terminal", 8, false, false},
    {"ticket", 6, false, false},
    {"auth", 6, false, false},
    {"amount", 9, true, false},
    {"installments", 2, false, false},
    {"installment_amount", 9, false, false},
    {"last4", 4, false, false},
    {"operation", 6, false, false},
    {"card_type", 2, false, false},
    {"accounting_date", 6, false, false},
    {"account", 19, false, false},
    {"card_brand", 2, false, false},
    {"date", 8, false, false},
    {"time", 6, false, false},
    {"employee", 4, false, false},
    {"tip", 9, false, false},
}};

constexpr std::array<Field, 1> tbk_void_request{{{"operation", 6, true, true}}};

constexpr std::array<Field, 5> tbk_void_response{{
    {"code", 2, false, true},
    {"merchant", 12, false, false},
    {"terminal", 8, false, false},
    {"auth", 6, false, false},
    {"operation", 6, false, false},
}};

constexpr std::array<Field, 0> none{};

constexpr std::array<MessageLayout, 7> tbk_messages{{
    {"0200", "sale request", tbk_sale_request, false},
    {"0210", "sale response", tbk_sale_response, false},
    {"0250", "last sale request", none, true},
    {"0260", "last sale response", tbk_sale_response, false},
    {"1200", "void request", tbk_void_request, true},
    {"1210", "void response", tbk_void_response, false},
    {"0100", "poll", none, false},
}};

constexpr auto A = ResultClass::approved;
constexpr auto D = ResultClass::declined;
constexpr auto N = ResultClass::not_found;
constexpr auto P = ResultClass::in_progress;
constexpr auto U = ResultClass::unknown;

// The document's response table. It says every code but 00 is a refusal, so each listed code is
// a decline of a sale (78-82: the intermediate status messages, not an answer). The answer to the
// last-sale query only says something about a sale with 00 (its ticket is then compared) or 11
// (no sale in the terminal's memory); any other code there leaves the sale unknown. A void is
// done with 00, and with 04 (already voided: the money went back before).
constexpr std::array<ResultCode, 50> tbk_codes{{
    {"00", "approved", A, A, A},
    {"01", "rejected", D, U, D},
    {"02", "host not responding", D, U, D},
    {"03", "connection failed", D, U, D},
    {"04", "transaction already voided", D, U, A},
    {"05", "no transaction to void", D, U, D},
    {"06", "card not supported", D, U, D},
    {"07", "cancelled at the POS", D, U, D},
    {"08", "cannot void a debit transaction", D, U, D},
    {"09", "card read error", D, U, D},
    {"10", "amount below the minimum", D, U, D},
    {"11", "no sale", D, N, D},
    {"12", "transaction not supported", D, U, D},
    {"13", "close required", D, U, D},
    {"14", "no dial tone", D, U, D},
    {"15", "BITMAP.DAT not found", D, U, D},
    {"16", "host answer format error", D, U, D},
    {"17", "last 4 digits error", D, U, D},
    {"18", "invalid menu", D, U, D},
    {"19", "ERROR_TARJ_DIST", D, U, D},
    {"20", "invalid card", D, U, D},
    {"21", "void not allowed", D, U, D},
    {"22", "timeout", D, U, D},
    {"24", "printer out of paper", D, U, D},
    {"25", "invalid date", D, U, D},
    {"26", "keys must be loaded", D, U, D},
    {"27", "update required", D, U, D},
    {"60", "installments error", D, U, D},
    {"61", "request build error", D, U, D},
    {"62", "internal pinpad problem", D, U, D},
    {"65", "host answer processing error", D, U, D},
    {"67", "sales limit reached, close required", D, U, D},
    {"68", "generic error entering amounts", D, U, D},
    {"70", "ticket field format error", D, U, D},
    {"71", "print field length error", D, U, D},
    {"72", "sale amount must be above 0", D, U, D},
    {"73", "terminal id not configured", D, U, D},
    {"74", "close required", D, U, D},
    {"75", "merchant has no cards configured", D, U, D},
    {"76", "sales limit reached, close required", D, U, D},
    {"77", "close required", D, U, D},
    {"78", "waiting for the card", P, U, U},
    {"79", "asking to confirm the amount", P, U, U},
    {"80", "choosing installments", P, U, U},
    {"81", "asking for the PIN", P, U, U},
    {"82", "sending to the host", P, U, U},
    {"88", "installment count error", D, U, D},
    {"93", "declined", D, U, D},
    {"94", "answer processing error", D, U, D},
    {"95", "rate printing error", D, U, D},
}};

constexpr std::array<Protocol, 1> protocol_table{{
    {
        "transbank-integrado",
        "Transbank POS Integrado (RS-232 ECR, Verifone VX520 / Ingenico terminals in integrated mode)",
        "transbankdevelopers.cl/referencia/posintegrado (TransbankDevelopers/transbank-developers-docs "
        "referencia/posintegrado/README.md)",
        0x02, 0x03, 0x06, 0x15,
        0x00,
        '|',
        1024,
        3,  // "retry twice" after a NAK: three sends in all, both ways
        2000,
        "0200", "0210",
        "0250", "0260",
        "1200", "1210",
        "0100",
        "",
        QueryKind::last_sale,
        6,
        "E",
        tbk_messages,
        tbk_codes,
    },
}};

bool printable(std::uint8_t b) { return b >= 0x20 && b <= 0x7E; }

}  // namespace

std::string_view to_string(ResultClass c) {
  switch (c) {
    case ResultClass::approved: return "approved";
    case ResultClass::declined: return "declined";
    case ResultClass::not_found: return "not_found";
    case ResultClass::in_progress: return "in_progress";
    case ResultClass::unknown: return "unknown";
  }
  return "unknown";
}

std::span<const Protocol> protocols() { return protocol_table; }

const Protocol* find_protocol(std::string_view name) {
  for (const auto& p : protocol_table) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string known_protocols() {
  std::string out;
  for (const auto& p : protocol_table) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

const MessageLayout* find_message(const Protocol& p, std::string_view command) {
  for (const auto& m : p.messages) {
    if (m.command == command) return &m;
  }
  return nullptr;
}

const ResultCode* find_code(const Protocol& p, std::string_view code) {
  for (const auto& c : p.codes) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

ResultClass classify(const Protocol& p, Use use, std::string_view code) {
  const auto* c = find_code(p, code);
  if (!c) return ResultClass::unknown;
  switch (use) {
    case Use::sale: return c->sale;
    case Use::query: return c->query;
    case Use::void_: return c->void_;
  }
  return ResultClass::unknown;
}

std::optional<std::string> Message::get(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return v;
  }
  return std::nullopt;
}

Message& Message::set(std::string key, std::string value) {
  for (auto& [k, v] : fields) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  fields.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::uint8_t lrc(const Protocol& p, std::span<const std::uint8_t> bytes) {
  std::uint8_t x = p.lrc_seed;
  for (auto b : bytes) x ^= b;
  return x;
}

namespace {

// Checks one value against its field; an error message or "".
std::string check_value(const Protocol& p, const Field& f, std::string_view v) {
  if (v.size() > f.max) {
    return "field " + std::string(f.key) + " has " + std::to_string(v.size()) +
           " characters, at most " + std::to_string(f.max) + " allowed";
  }
  for (char c : v) {
    auto b = static_cast<std::uint8_t>(c);
    if (!printable(b) || b == p.separator) {
      return "field " + std::string(f.key) + " holds byte " + hex_byte(b);
    }
    if (f.numeric && (c < '0' || c > '9')) {
      return "field " + std::string(f.key) + " must be digits, got '" + std::string(v) + "'";
    }
  }
  return "";
}

}  // namespace

Result<Bytes> encode(const Protocol& p, const Message& m) {
  const auto* layout = find_message(p, m.command);
  if (!layout) return decode_error("unknown " + std::string(p.name) + " command '" + m.command + "'", 0);
  for (const auto& [k, v] : m.fields) {
    bool known = false;
    for (const auto& f : layout->fields) known |= f.key == k;
    if (!known) {
      return decode_error(std::string(layout->meaning) + " has no field " + k, 0);
    }
  }
  Bytes data(m.command.begin(), m.command.end());
  for (const auto& f : layout->fields) {
    auto v = m.get(f.key).value_or("");
    if (f.required && v.empty()) {
      return decode_error(std::string(layout->meaning) + " needs field " + std::string(f.key), 0);
    }
    if (auto bad = check_value(p, f, v); !bad.empty()) return decode_error(bad, 0);
    data.push_back(p.separator);
    data.insert(data.end(), v.begin(), v.end());
  }
  if (layout->trailing_separator) data.push_back(p.separator);
  if (data.size() > p.max_data) {
    return decode_error("message of " + std::to_string(data.size()) +
                            " bytes exceeds the frame limit of " + std::to_string(p.max_data),
                        0);
  }
  Bytes out;
  out.reserve(data.size() + 3);
  out.push_back(p.stx);
  out.insert(out.end(), data.begin(), data.end());
  out.push_back(p.etx);
  out.push_back(lrc(p, std::span(out).subspan(1)));
  return out;
}

Result<Message> decode(const Protocol& p, std::span<const std::uint8_t> frame) {
  if (frame.size() < 4) {
    return decode_error("frame of " + std::to_string(frame.size()) + " bytes is too short",
                        frame.size());
  }
  if (frame[0] != p.stx) {
    return decode_error("expected STX " + hex_byte(p.stx) + ", got " + hex_byte(frame[0]), 0);
  }
  const std::size_t etx_at = frame.size() - 2;
  if (frame[etx_at] != p.etx) {
    return decode_error("expected ETX " + hex_byte(p.etx) + ", got " + hex_byte(frame[etx_at]), etx_at);
  }
  auto want = lrc(p, frame.subspan(1, etx_at));
  if (frame.back() != want) {
    return decode_error("bad LRC: expected " + hex_byte(want) + ", got " + hex_byte(frame.back()),
                        frame.size() - 1);
  }
  if (etx_at - 1 > p.max_data) {
    return decode_error("message of " + std::to_string(etx_at - 1) + " bytes exceeds the limit " +
                            std::to_string(p.max_data),
                        1);
  }
  // Split DATA on the separator; every byte must be printable.
  std::vector<std::pair<std::size_t, std::string>> parts;  // (offset, text)
  std::size_t start = 1;
  std::string cur;
  for (std::size_t i = 1; i < etx_at; ++i) {
    if (!printable(frame[i])) return decode_error("non-printable byte " + hex_byte(frame[i]), i);
    if (frame[i] == p.separator) {
      parts.emplace_back(start, std::move(cur));
      cur.clear();
      start = i + 1;
    } else {
      cur += static_cast<char>(frame[i]);
    }
  }
  parts.emplace_back(start, std::move(cur));
  Message m;
  m.command = parts[0].second;
  const auto* layout = find_message(p, m.command);
  if (!layout) {
    return decode_error("unknown " + std::string(p.name) + " command '" + m.command.substr(0, 8) + "'", 1);
  }
  for (std::size_t i = 0; i < layout->fields.size(); ++i) {
    const auto& f = layout->fields[i];
    if (i + 1 >= parts.size()) {
      if (f.required) {
        return decode_error(std::string(layout->meaning) + " lacks field " + std::string(f.key), etx_at);
      }
      continue;
    }
    const auto& [at, v] = parts[i + 1];
    if (f.required && v.empty()) {
      return decode_error(std::string(layout->meaning) + " has an empty field " + std::string(f.key), at);
    }
    if (auto bad = check_value(p, f, v); !bad.empty()) return decode_error(bad, at);
    if (!v.empty()) m.fields.emplace_back(std::string(f.key), v);
  }
  return m;
}

Scan scan(const Protocol& p, std::span<const std::uint8_t> buf) {
  if (buf.empty()) return {};
  if (buf[0] == p.ack) return {Scan::ack, 1};
  if (buf[0] == p.nak) return {Scan::nak, 1};
  if (buf[0] != p.stx) {
    std::size_t n = 1;
    while (n < buf.size() && buf[n] != p.stx && buf[n] != p.ack && buf[n] != p.nak) ++n;
    return {Scan::garbage, n};
  }
  // DATA is printable: the first byte that is not ends the frame (ETX) or breaks it.
  for (std::size_t i = 1; i < buf.size(); ++i) {
    if (buf[i] == p.etx) {
      if (i == 1) return {Scan::garbage, 1};
      if (i + 1 >= buf.size()) return {};
      return {Scan::frame, i + 2};
    }
    // Another control byte, or longer than any message: drop the STX and resynchronise.
    if (!printable(buf[i]) || i > p.max_data) return {Scan::garbage, 1};
  }
  return {};
}

std::optional<std::string> ticket_for(const Protocol& p, std::string_view ref) {
  const std::size_t n = p.ticket_width - p.ticket_prefix.size();
  std::size_t end = ref.size(), begin = end;
  while (begin > 0 && ref[begin - 1] >= '0' && ref[begin - 1] <= '9') --begin;
  if (begin == end) return std::nullopt;
  auto digits = ref.substr(begin);
  std::string out(p.ticket_prefix);
  if (digits.size() >= n) {
    out += digits.substr(digits.size() - n);
  } else {
    out += std::string(n - digits.size(), '0');
    out += digits;
  }
  return out;
}

namespace {

std::optional<std::uint64_t> ticket_number(const Protocol& p, std::string_view t) {
  if (t.size() != p.ticket_width || !t.starts_with(p.ticket_prefix)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t.substr(p.ticket_prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

bool ticket_after(const Protocol& p, std::string_view a, std::string_view b) {
  auto x = ticket_number(p, a), y = ticket_number(p, b);
  if (!x || !y) return false;
  std::uint64_t mod = 1;
  for (std::size_t i = p.ticket_prefix.size(); i < p.ticket_width; ++i) mod *= 10;
  std::uint64_t d = (*x + mod - *y) % mod;
  return d >= 1 && d < mod / 2;
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
