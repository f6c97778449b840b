#include "protocols/mbus/application.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "protocols/mbus/link.hpp"
#include "protocols/mbus/manufacturer.hpp"
#include "protocols/mbus/vif.hpp"

namespace estate::protocols::mbus {

namespace {

using detail::VifKind;
using detail::VifMeaning;

// EN 13757-3 §6.3.1 and §6.4.1 allow at most 10 DIFEs and 10 VIFEs per record.
constexpr std::size_t kMaxExtensions = 10;

std::string two(int v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

// Two-digit years from types F, G, I: the meter sends 0..99 (7 bits); libmbus's rule puts
// 0..80 in this century and 81..127 in the previous one, which keeps old archives readable.
int full_year(int y) { return y <= 80 ? 2000 + y : 1900 + y; }

DateTime type_g(const std::uint8_t* p) {
  // EN 13757-3 Annex A, type G: day 1-31, month 1-12, year 0-99 split over both bytes.
  DateTime d;
  d.day = p[0] & 0x1F;
  d.month = p[1] & 0x0F;
  d.year = full_year(((p[0] & 0xE0) >> 5) | ((p[1] & 0xF0) >> 1));
  d.invalid = d.day == 0 || d.month == 0 || d.month > 12;
  return d;
}

DateTime type_f(const std::uint8_t* p) {
  // Type F: minute + IV bit, hour + SU bit, then the type G date layout.
  DateTime d = type_g(p + 2);
  d.minute = p[0] & 0x3F;
  d.hour = p[1] & 0x1F;
  d.has_time = true;
  d.invalid = d.invalid || (p[0] & 0x80) != 0 || d.minute > 59 || d.hour > 23;
  d.summer_time = (p[1] & 0x80) != 0;
  return d;
}

DateTime type_i(const std::uint8_t* p) {
  // Type I: second, minute + IV, hour (+ day of week), day/year, month/year, week.
  DateTime d = type_g(p + 3);
  d.second = p[0] & 0x3F;
  d.minute = p[1] & 0x3F;
  d.hour = p[2] & 0x1F;
  d.has_time = true;
  d.has_seconds = true;
  d.invalid = d.invalid || (p[1] & 0x80) != 0 || d.second > 59 || d.minute > 59 || d.hour > 23;
  return d;
}

DateTime type_j(const std::uint8_t* p) {
  // Type J: time of day only.
  DateTime d;
  d.has_date = false;
  d.has_time = true;
  d.has_seconds = true;
  d.second = p[0] & 0x3F;
  d.minute = p[1] & 0x3F;
  d.hour = p[2] & 0x1F;
  d.invalid = d.second > 59 || d.minute > 59 || d.hour > 23;
  return d;
}

// Multi-byte fields are least significant byte first, except in mode 2 (CI 76/77) where the
// most significant byte comes first (EN 13757-3 §6.1).
struct Reader {
  std::span<const std::uint8_t> d;
  std::size_t base;
  bool msb_first;

  std::uint64_t unsigned_le(std::size_t pos, std::size_t n) const {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t k = msb_first ? i : n - 1 - i;
      v = v << 8 | d[pos + k];
    }
    return v;
  }
  // Bytes in least-significant-first order, whatever the mode.
  Bytes ordered(std::size_t pos, std::size_t n) const {
    Bytes b(d.begin() + static_cast<std::ptrdiff_t>(pos),
            d.begin() + static_cast<std::ptrdiff_t>(pos + n));
    if (msb_first) std::reverse(b.begin(), b.end());
    return b;
  }
};

std::int64_t sign_extend(std::uint64_t v, std::size_t bytes) {
  if (bytes >= 8) return static_cast<std::int64_t>(v);
  const unsigned bits = static_cast<unsigned>(bytes * 8);
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  if (v & sign) v |= ~((sign << 1) - 1);
  return static_cast<std::int64_t>(v);
}

// BCD, least significant byte first. EN 13757-3 Annex B (type A): a most significant nibble F
// marks a negative number. Any other non-decimal nibble makes the field raw bytes.
RawValue bcd(const Bytes& le) {
  std::uint64_t v = 0;
  bool negative = false;
  for (std::size_t i = le.size(); i-- > 0;) {
    for (int shift = 4; shift >= 0; shift -= 4) {
      const unsigned nib = (le[i] >> shift) & 0x0F;
      if (i == le.size() - 1 && shift == 4 && nib == 0x0F) {
        negative = true;
        continue;
      }
      if (nib > 9) return le;
      v = v * 10 + nib;
    }
  }
  if (negative) return -static_cast<std::int64_t>(v);
  return static_cast<std::int64_t>(v);
}

std::string id_digits(std::uint32_t raw) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string s(8, '0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(7 - i)] = digits[(raw >> (4 * i)) & 0xF];
  return s;
}

double pow10(int e) {
  double p = 1.0;
  for (int i = 0; i < (e < 0 ? -e : e); ++i) p *= 10.0;
  return p;
}

std::optional<double> numeric(const RawValue& raw) {
  if (auto* i = std::get_if<std::int64_t>(&raw)) return static_cast<double>(*i);
  if (auto* u = std::get_if<std::uint64_t>(&raw)) return static_cast<double>(*u);
  if (auto* r = std::get_if<double>(&raw)) return *r;
  return std::nullopt;
}

void normalise(Record& r) {
  auto n = numeric(r.raw);
  if (!n) return;
  // Dividing by 10^k (not multiplying by 10^-k) gives the correctly rounded decimal value:
  // 1234567 with exponent -3 becomes exactly the double nearest 1234.567.
  double v = r.exponent >= 0 ? *n * pow10(r.exponent) : *n / pow10(-r.exponent);
  v = v * r.factor + r.additive;
  r.value = v;
}

class RecordParser {
 public:
  struct Decoded {
    bool date = false;
    bool bitfield = false;
  };

  RecordParser(Reader rd, Telegram& t) : rd_(rd), t_(t) {}

  Result<bool> run(std::size_t pos) {
    const auto& d = rd_.d;
    while (pos < d.size()) {
      const std::size_t start = pos;
      const std::uint8_t dif = d[pos];
      if (dif == 0x2F) {  // idle filler (EN 13757-3 §6.3.3)
        ++pos;
        continue;
      }
      if (dif == 0x0F || dif == 0x1F) {
        // Manufacturer-specific data to the end of the user data; 1F also means the slave has
        // more records for the next REQ_UD2 (EN 13757-3 §6.3.3, Table 6).
        t_.more_records_follow = dif == 0x1F;
        t_.manufacturer_data.assign(d.begin() + static_cast<std::ptrdiff_t>(pos + 1), d.end());
        return true;
      }
      if ((dif & 0x0F) == 0x0F && dif != 0x7F) {
        return err("reserved special-function DIF " + hex_byte(dif), start);
      }
      if (dif == 0x7F) {  // global readout request: only meaningful master -> slave
        ++pos;
        continue;
      }
      auto r = record(pos);
      if (!r) return r.error();
      t_.records.push_back(std::move(*r));
    }
    return true;
  }

 private:
  DecodeError err(std::string message, std::size_t pos) const {
    return decode_error(std::move(message), rd_.base + pos);
  }

  Result<Record> record(std::size_t& pos) {
    const auto& d = rd_.d;
    Record r;
    r.offset = rd_.base + pos;
    const std::size_t start = pos;

    // --- DIB (EN 13757-3 §6.3) ---
    const std::uint8_t dif = d[pos++];
    r.dib.push_back(dif);
    r.function = static_cast<Function>((dif >> 4) & 3);
    r.storage = (dif >> 6) & 1;
    bool more = dif & 0x80;
    unsigned n = 0;
    while (more) {
      if (pos >= d.size()) return err("premature end of record: DIFE expected", pos);
      if (n == kMaxExtensions) return err("more than 10 DIFEs in one record", pos);
      const std::uint8_t dife = d[pos++];
      r.dib.push_back(dife);
      // DIFE n (n from 0): storage bits 0-3 shift by 1 + 4n, tariff bits 4-5 by 2n,
      // subunit bit 6 by n (EN 13757-3 §6.3.4).
      if (n < 15) r.storage |= static_cast<std::uint64_t>(dife & 0x0F) << (1 + 4 * n);
      if (n < 15) r.tariff |= static_cast<std::uint32_t>((dife >> 4) & 3) << (2 * n);
      r.subunit |= static_cast<std::uint32_t>((dife >> 6) & 1) << n;
      more = dife & 0x80;
      ++n;
    }

    // --- VIB (EN 13757-3 §6.4) ---
    if (pos >= d.size()) return err("premature end of record: VIF expected", pos);
    auto meaning = vib(pos, r);
    if (!meaning) return meaning.error();

    // --- Data field (EN 13757-3 §6.3.3 Table 5) ---
    const unsigned coding = dif & 0x0F;
    static constexpr std::size_t lengths[16] = {0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0};
    if (coding == 0x0D) {
      if (pos >= d.size()) return err("premature end of record: LVAR expected", pos);
      auto v = variable(pos, start);
      if (!v) return v.error();
      r.raw = std::move(*v);
    } else {
      const std::size_t len = lengths[coding];
      if (d.size() - pos < len) {
        return err("truncated record: DIF " + hex_byte(dif) + " needs " + std::to_string(len) +
                       " data byte(s), " + std::to_string(d.size() - pos) + " left",
                   start);
      }
      r.raw = fixed_field(coding, pos, len, *meaning);
      pos += len;
    }
    normalise(r);
    return r;
  }

  RawValue fixed_field(unsigned coding, std::size_t pos, std::size_t len, const Decoded& m) {
    if (len == 0) return std::monostate{};
    if (m.date) {
      Bytes b = rd_.ordered(pos, len);
      if (len == 2) return type_g(b.data());
      if (len == 3) return type_j(b.data());
      if (len == 4) return type_f(b.data());
      if (len == 6) return type_i(b.data());
    }
    if (coding == 0x05) {
      const auto bits = static_cast<std::uint32_t>(rd_.unsigned_le(pos, 4));
      return static_cast<double>(std::bit_cast<float>(bits));
    }
    if (coding >= 0x09) return bcd(rd_.ordered(pos, len));
    const std::uint64_t u = rd_.unsigned_le(pos, len);
    if (m.bitfield) return u;
    return sign_extend(u, len);
  }

  // Variable-length data (DIF coding D): the LVAR byte says what follows (EN 13757-3:2018 §6.3.3
  // Table 5, as libmbus, m-bus-parser and exmbus implement it; see testdata/README.md):
  //   00-BF  text of LVAR characters
  //   C0-C9  positive BCD of (LVAR-C0h)*2 digits (LVAR-C0h bytes)
  //   D0-D9  negative BCD of (LVAR-D0h)*2 digits
  //   E0-EF  binary number of LVAR-E0h bytes
  //   F0-F4  binary number of 4*(LVAR-ECh) bytes (16, 20, 24, 28, 32)
  //   F5     binary number of 48 bytes
  //   F6     binary number of 64 bytes
  // CA-CF, DA-DF and F7-FF are reserved: a record with one is rejected, naming the LVAR byte.
  static std::optional<std::size_t> lvar_length(std::uint8_t lvar) {
    if (lvar <= 0xBF) return lvar;
    if ((lvar >= 0xC0 && lvar <= 0xC9) || (lvar >= 0xD0 && lvar <= 0xD9)) return lvar & 0x0F;
    if (lvar >= 0xE0 && lvar <= 0xEF) return lvar - 0xE0;
    if (lvar >= 0xF0 && lvar <= 0xF4) return 4u * (lvar - 0xECu);
    if (lvar == 0xF5) return 48;
    if (lvar == 0xF6) return 64;
    return std::nullopt;
  }

  Result<RawValue> variable(std::size_t& pos, std::size_t record_start) {
    const auto& d = rd_.d;
    const std::uint8_t lvar = d[pos];
    const auto known = lvar_length(lvar);
    if (!known) return err("reserved LVAR " + hex_byte(lvar), pos);
    const std::size_t len = *known;
    if (d.size() - pos - 1 < len) {
      return err("truncated record: LVAR " + hex_byte(lvar) + " needs " + std::to_string(len) +
                     " byte(s), " + std::to_string(d.size() - pos - 1) + " left",
                 record_start);
    }
    const std::size_t at = pos + 1;
    pos = at + len;
    // One result object and one return: GCC 12 reports a false -Wfree-nonheap-object when
    // differently-typed temporaries of the variant are returned from several branches.
    RawValue out;
    if (lvar <= 0xBF) {
      // Text is sent last character first.
      std::string s(d.begin() + static_cast<std::ptrdiff_t>(at),
                    d.begin() + static_cast<std::ptrdiff_t>(at + len));
      std::reverse(s.begin(), s.end());
      out = std::move(s);
    } else if (len == 0) {
      // nothing: an empty number
    } else if (lvar >= 0xE0) {
      // Binary: up to 8 bytes a signed integer; longer ones (E9-EF, F0-F6: up to 64 bytes) do
      // not fit 64 bits and are kept as bytes, least significant first.
      Bytes b = rd_.ordered(at, len);
      if (len > 8) {
        out = std::move(b);
      } else {
        std::uint64_t u = 0;
        for (std::size_t i = len; i-- > 0;) u = u << 8 | b[i];
        out = sign_extend(u, len);
      }
    } else {
      out = bcd(rd_.ordered(at, len));
      if (lvar >= 0xD0) {
        if (auto* i = std::get_if<std::int64_t>(&out)) *i = -*i;
      }
    }
    return out;
  }

  Result<Decoded> vib(std::size_t& pos, Record& r) {
    const auto& d = rd_.d;
    const std::uint8_t vif = d[pos++];
    r.vib.push_back(vif);
    bool more = vif & 0x80;
    std::size_t vifes = 0;
    auto next_vife = [&](std::uint8_t& out) -> std::optional<DecodeError> {
      if (pos >= d.size()) return err("premature end of record: VIFE expected", pos);
      if (vifes == kMaxExtensions) return err("more than 10 VIFEs in one record", pos);
      out = d[pos++];
      r.vib.push_back(out);
      ++vifes;
      more = out & 0x80;
      return std::nullopt;
    };

    VifMeaning m = detail::primary_vif(vif & 0x7F);
    if (m.kind == VifKind::extension_fb || m.kind == VifKind::extension_fd) {
      std::uint8_t code = 0;
      if (!more) return err("VIF " + hex_byte(vif) + " needs an extension byte", pos - 1);
      if (auto e = next_vife(code)) return *e;
      m = m.kind == VifKind::extension_fb ? detail::extension_fb(code & 0x7F)
                                          : detail::extension_fd(code & 0x7F);
    }

    // Plain-text VIF (EN 13757-3 §6.4.4): VIFEs first, then a length byte and the unit, last
    // character first. Some older meters (ELV CMa10/CMa11) put the length and text directly
    // after the VIF and the VIFEs after the text; that placement is used only when the
    // standard one cannot fit in the record.
    std::vector<std::uint8_t> ext;
    if (m.kind == VifKind::plain_text) {
      const std::size_t save = pos;
      const std::size_t save_vib = r.vib.size();
      const std::size_t save_count = vifes;
      const bool save_more = more;
      auto read_vifes = [&]() -> std::optional<DecodeError> {
        while (more) {
          std::uint8_t e = 0;
          if (auto er = next_vife(e)) return er;
          ext.push_back(e);
        }
        return std::nullopt;
      };
      auto read_text = [&]() -> bool {
        if (pos >= d.size()) return false;
        const std::size_t len = d[pos];
        if (d.size() - pos - 1 < len) return false;
        std::string s(d.begin() + static_cast<std::ptrdiff_t>(pos + 1),
                      d.begin() + static_cast<std::ptrdiff_t>(pos + 1 + len));
        std::reverse(s.begin(), s.end());
        r.unit = std::move(s);
        pos += 1 + len;
        return true;
      };
      bool ok = !read_vifes() && read_text();
      if (!ok && save_more) {
        pos = save;
        r.vib.resize(save_vib);
        vifes = save_count;
        more = save_more;
        ext.clear();
        ok = read_text();
        if (ok) {
          if (auto er = read_vifes()) return *er;
        }
      }
      if (!ok) return err("plain-text VIF: text length runs past the end of the data", save);
      r.quantity = "plain_text";
    } else {
      while (more) {
        std::uint8_t e = 0;
        if (auto er = next_vife(e)) return *er;
        ext.push_back(e);
      }
      r.quantity = std::string(m.quantity);
      r.unit = std::string(m.unit);
    }
    r.exponent = m.exponent;
    r.factor = m.factor;
    r.raw_unit = std::string(m.raw_unit);
    r.manufacturer_specific = m.kind == VifKind::manufacturer;

    Decoded out;
    out.date = m.kind == VifKind::date || m.kind == VifKind::date_time;
    out.bitfield = m.bitfield;
    if (r.manufacturer_specific) return out;  // every VIFE after 7F/FF is the vendor's

    for (std::uint8_t e : ext) {
      const auto fx = detail::combinable_vife(e & 0x7F);
      if (!fx.text.empty()) r.extensions.emplace_back(fx.text);
      if (fx.manufacturer) {
        r.manufacturer_specific = true;
        break;  // EN 13757-3 Table 15: next VIFEs and data of this block are vendor specific
      }
      r.exponent += fx.exponent_delta;
      if (fx.additive) {
        // 10^(nn-3) in the unit of the VIF, hence scaled by the same non-decimal factor.
        r.additive += r.factor / pow10(-fx.additive_exponent);
      }
      if (fx.date) {
        out.date = true;
        r.unit.clear();
        r.raw_unit.clear();
        r.factor = 1.0;
      }
      if (fx.duration) {
        static constexpr double f[4] = {1, 60, 3600, 86400};
        static constexpr std::string_view u[4] = {"", "min", "h", "d"};
        r.unit = "s";
        r.exponent = 0;
        r.factor = f[fx.duration_unit & 3];
        r.raw_unit = std::string(u[fx.duration_unit & 3]);
      }
    }
    return out;
  }

  Reader rd_;
  Telegram& t_;
};

Result<Telegram> decode_fixed(std::uint8_t ci, std::span<const std::uint8_t> d, std::size_t base);

}  // namespace

std::string_view to_string(Function f) {
  switch (f) {
    case Function::instantaneous: return "instantaneous";
    case Function::maximum: return "maximum";
    case Function::minimum: return "minimum";
    case Function::error: return "error";
  }
  return "instantaneous";
}

std::string DateTime::iso8601() const {
  std::string s;
  if (has_date) s = std::to_string(year) + "-" + two(month) + "-" + two(day);
  if (has_time) {
    if (has_date) s += "T";
    s += two(hour) + ":" + two(minute) + ":" + two(has_seconds ? second : 0);
  }
  return s;
}

std::string_view medium_name(std::uint8_t m) {
  // EN 13757-3 Table 3 (device type).
  switch (m) {
    case 0x00: return "other";
    case 0x01: return "oil";
    case 0x02: return "electricity";
    case 0x03: return "gas";
    case 0x04: return "heat (outlet)";
    case 0x05: return "steam";
    case 0x06: return "warm water";
    case 0x07: return "water";
    case 0x08: return "heat cost allocator";
    case 0x09: return "compressed air";
    case 0x0A: return "cooling (outlet)";
    case 0x0B: return "cooling (inlet)";
    case 0x0C: return "heat (inlet)";
    case 0x0D: return "heat/cooling";
    case 0x0E: return "bus/system component";
    case 0x0F: return "unknown";
    case 0x15: return "hot water";
    case 0x16: return "cold water";
    case 0x17: return "dual register water";
    case 0x18: return "pressure";
    case 0x19: return "A/D converter";
    case 0x1A: return "smoke detector";
    case 0x1B: return "room sensor";
    case 0x1C: return "gas detector";
    case 0x20: return "breaker (electricity)";
    case 0x21: return "valve (gas or water)";
    case 0x25: return "customer unit";
    case 0x28: return "waste water";
    case 0x29: return "garbage";
    case 0x31: return "communication controller";
    case 0x32: return "unidirectional repeater";
    case 0x33: return "bidirectional repeater";
    case 0x36: return "radio converter (system side)";
    case 0x37: return "radio converter (meter side)";
    default: return "reserved";
  }
}

std::vector<std::string_view> status_flags(std::uint8_t s) {
  std::vector<std::string_view> out;
  switch (s & 3) {
    case 1: out.push_back("busy"); break;
    case 2: out.push_back("application_error"); break;
    case 3: out.push_back("alarm"); break;
    default: break;
  }
  if (s & 0x04) out.push_back("power_low");
  if (s & 0x08) out.push_back("permanent_error");
  if (s & 0x10) out.push_back("temporary_error");
  if (s & 0x20) out.push_back("manufacturer_1");
  if (s & 0x40) out.push_back("manufacturer_2");
  if (s & 0x80) out.push_back("manufacturer_3");
  return out;
}

Result<Telegram> decode_application(std::uint8_t ci, std::span<const std::uint8_t> d,
                                    std::size_t base) {
  if (ci == 0x73 || ci == 0x77) return decode_fixed(ci, d, base);
  Telegram t;
  t.ci = ci;
  const bool msb_first = ci == 0x76;
  Reader rd{d, base, msb_first};
  std::size_t pos = 0;
  switch (ci) {
    case 0x72:
    case 0x76: {
      // Long header (EN 13757-3 §6.3): ID(4) MAN(2) VER MED ACC STS SIG(2).
      if (d.size() < 12) {
        return decode_error("truncated header: CI " + hex_byte(ci) + " needs 12 bytes, " +
                                std::to_string(d.size()) + " present",
                            base + d.size());
      }
      Header& h = t.header;
      h.has_identity = true;
      h.id_raw = static_cast<std::uint32_t>(rd.unsigned_le(0, 4));
      h.id = id_digits(h.id_raw);
      h.manufacturer_code = static_cast<std::uint16_t>(rd.unsigned_le(4, 2));
      h.manufacturer = manufacturer_letters(h.manufacturer_code);
      h.version = d[6];
      h.medium = d[7];
      h.access_no = d[8];
      h.status = d[9];
      h.signature = static_cast<std::uint16_t>(rd.unsigned_le(10, 2));
      pos = 12;
      break;
    }
    case 0x7A: {
      // Short header: ACC STS SIG(2); the identity is in the link layer (wireless M-Bus).
      if (d.size() < 4) {
        return decode_error("truncated header: CI 0x7a needs 4 bytes, " +
                                std::to_string(d.size()) + " present",
                            base + d.size());
      }
      t.header.access_no = d[0];
      t.header.status = d[1];
      t.header.signature = static_cast<std::uint16_t>(rd.unsigned_le(2, 2));
      pos = 4;
      break;
    }
    case 0x78:
      break;  // no header
    default:
      return decode_error("unknown CI field " + hex_byte(ci), base == 0 ? 0 : base - 1);
  }
  RecordParser parser(rd, t);
  auto ok = parser.run(pos);
  if (!ok) return ok.error();
  return t;
}

namespace {

struct FixedUnit {
  std::string_view quantity;
  std::string_view unit;
  int exponent;
};

// Units of the fixed data structure (EN 13757-3 Annex, table of fixed-structure units).
FixedUnit fixed_unit(unsigned code) {
  if (code == 0x00) return {"time", "h,m,s", 0};
  if (code == 0x01) return {"date", "D,M,Y", 0};
  if (code >= 0x02 && code <= 0x0A) return {"energy", "Wh", static_cast<int>(code) - 0x02};
  if (code >= 0x0B && code <= 0x13) return {"energy", "J", static_cast<int>(code) - 0x0B + 3};
  if (code >= 0x14 && code <= 0x1C) return {"power", "W", static_cast<int>(code) - 0x14};
  if (code >= 0x1D && code <= 0x25) return {"power", "J/h", static_cast<int>(code) - 0x1D + 3};
  if (code >= 0x26 && code <= 0x2E) return {"volume", "m^3", static_cast<int>(code) - 0x26 - 6};
  if (code >= 0x2F && code <= 0x37) return {"volume_flow", "m^3/h", static_cast<int>(code) - 0x2F - 6};
  if (code == 0x38) return {"temperature", "°C", -3};
  if (code == 0x39) return {"units_for_hca", "", 0};
  if (code == 0x3F) return {"dimensionless", "", 0};
  return {"reserved", "", 0};
}

Result<Telegram> decode_fixed(std::uint8_t ci, std::span<const std::uint8_t> d, std::size_t base) {
  // Fixed data structure (EN 13757-3 Annex G / EN 1434-3): ID(4 BCD) ACC STS MED/UNIT(2)
  // COUNTER1(4) COUNTER2(4). Status bit 7: counters binary (1) or BCD (0); bit 6: counter 1
  // is a stored (historic) value. Unit code 3E for counter 2: counter 1's unit, historic.
  if (d.size() != 16) {
    return decode_error("fixed data structure needs 16 bytes, " + std::to_string(d.size()) +
                            " present",
                        base + std::min<std::size_t>(d.size(), 16));
  }
  Reader rd{d, base, ci == 0x77};
  Telegram t;
  t.ci = ci;
  Header& h = t.header;
  h.has_identity = true;
  h.fixed = true;
  h.id_raw = static_cast<std::uint32_t>(rd.unsigned_le(0, 4));
  h.id = id_digits(h.id_raw);
  h.access_no = d[4];
  h.status = d[5];
  const std::uint8_t u1 = d[6];
  const std::uint8_t u2 = d[7];
  h.medium = static_cast<std::uint8_t>(((u1 & 0xC0) >> 6) | ((u2 & 0xC0) >> 4));
  const bool binary = h.status & 0x80;
  const bool stored = h.status & 0x40;
  auto counter = [&](std::size_t pos, unsigned unit_code, std::uint64_t storage) {
    Record r;
    r.offset = base + pos;
    r.storage = storage;
    const FixedUnit u = fixed_unit(unit_code);
    r.quantity = std::string(u.quantity);
    r.unit = std::string(u.unit);
    r.exponent = u.exponent;
    if (binary) {
      r.raw = static_cast<std::uint64_t>(rd.unsigned_le(pos, 4));
    } else {
      r.raw = bcd(rd.ordered(pos, 4));
    }
    normalise(r);
    return r;
  };
  const unsigned c1 = u1 & 0x3F;
  const unsigned c2 = u2 & 0x3F;
  t.records.push_back(counter(8, c1, stored ? 1 : 0));
  if (c2 == 0x3E) {
    t.records.push_back(counter(12, c1, 1));
  } else {
    t.records.push_back(counter(12, c2, 0));
  }
  return t;
}

}  // namespace

Result<Telegram> decode_rsp_ud(std::span<const std::uint8_t> frame) {
  auto f = parse_frame(frame);
  if (!f) return f.error();
  if (f->kind != FrameKind::long_ && f->kind != FrameKind::control) {
    return decode_error(std::string("expected a long frame (68 L L 68), got ") +
                            std::string(to_string(f->kind)) + " frame",
                        0);
  }
  return decode_application(f->ci, f->data, f->data_offset);
}

}  // namespace estate::protocols::mbus
