#include "protocols/cjt188/cjt188.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "protocols/common/frame68.hpp"

namespace estate::protocols::cjt188 {

namespace {

constexpr std::uint8_t kStart = 0x68;
constexpr std::uint8_t kEnd = 0x16;
constexpr std::uint8_t kWake = 0xFE;

bool is_bcd(std::uint8_t b) { return (b >> 4) <= 9 && (b & 0x0F) <= 9; }
int bcd_value(std::uint8_t b) { return (b >> 4) * 10 + (b & 0x0F); }

std::string reversed_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0x0F]);
  }
  return out;
}


// Unit codes, CJ/T 188-2004 table 7. The codes run in decades from each base unit (02 Wh,
// 03 10 Wh, 04 100 Wh, 05 kWh, ...); the table lists the bases and their steps.
struct UnitRow {
  std::uint8_t code;
  const char* unit;
  double multiplier;
};
constexpr UnitRow kUnits[] = {
    {0x01, "J", 1},       {0x02, "Wh", 1},      {0x03, "Wh", 10},     {0x04, "Wh", 100},
    {0x05, "kWh", 1},     {0x06, "kWh", 10},    {0x07, "kWh", 100},   {0x08, "MWh", 1},
    {0x09, "MWh", 10},    {0x0A, "MWh", 100},   {0x0B, "kJ", 1},      {0x0C, "kJ", 10},
    {0x0D, "kJ", 100},    {0x0E, "MJ", 1},      {0x0F, "MJ", 10},     {0x10, "MJ", 100},
    {0x11, "GJ", 1},      {0x12, "GJ", 10},     {0x13, "GJ", 100},    {0x14, "W", 1},
    {0x15, "W", 10},      {0x16, "W", 100},     {0x17, "kW", 1},      {0x18, "kW", 10},
    {0x19, "kW", 100},    {0x1A, "MW", 1},      {0x1B, "MW", 10},     {0x1C, "MW", 100},
    {0x29, "L", 1},       {0x2A, "L", 10},      {0x2B, "L", 100},     {0x2C, "m^3", 1},
    {0x2D, "m^3", 10},    {0x2E, "m^3", 100},   {0x32, "L/h", 1},     {0x33, "L/h", 10},
    {0x34, "L/h", 100},   {0x35, "m^3/h", 1},   {0x36, "m^3/h", 10},  {0x37, "m^3/h", 100},
};

// A BCD field sent least significant byte first, `decimals` digits after the point.
Quantity bcd_field(std::string name, std::span<const std::uint8_t> b, int decimals,
                   std::string fixed_unit = {}) {
  Quantity q;
  q.name = std::move(name);
  q.raw = reversed_hex(b);
  q.unit = std::move(fixed_unit);
  bool ok = true;
  std::uint64_t digits = 0, scale = 1;
  for (std::size_t i = b.size(); i-- > 0;) {
    if (!is_bcd(b[i])) ok = false;
    digits = digits * 100 + static_cast<std::uint64_t>(bcd_value(b[i]));
  }
  for (int d = 0; d < decimals; ++d) scale *= 10;
  // One division of an exact integer gives the double nearest the decimal value.
  if (ok) {
    q.number = static_cast<double>(digits) / static_cast<double>(scale);
    q.exponent = -decimals;
  }
  return q;
}

// Four BCD bytes then a unit code.
Quantity counter(std::string name, std::span<const std::uint8_t> b, int decimals) {
  Quantity q = bcd_field(std::move(name), b.first(4), decimals);
  q.unit_code = b[4];
  if (auto u = unit_of(b[4])) {
    q.unit = std::string(u->unit);
    if (q.number && u->multiplier != 1) {
      q.number = static_cast<double>(std::stoull(q.raw)) * u->multiplier /
                 std::pow(10.0, decimals);
      q.exponent = *q.exponent + (u->multiplier == 10 ? 1 : 2);  // the table's decades: 10, 100
    }
  } else {
    q.unit = "unknown unit " + hex_byte(b[4]);
  }
  return q;
}

// Real time: YYYY MM DD hh mm ss written most significant first, sent ss first (7 bytes).
std::optional<DateTime> parse_time7(std::span<const std::uint8_t> b) {
  for (auto x : b) {
    if (!is_bcd(x)) return std::nullopt;
  }
  DateTime t{bcd_value(b[6]) * 100 + bcd_value(b[5]), bcd_value(b[4]), bcd_value(b[3]),
             bcd_value(b[2]), bcd_value(b[1]), bcd_value(b[0])};
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31 || t.hour > 23 || t.minute > 59 ||
      t.second > 59) {
    return std::nullopt;
  }
  return t;
}

bool known_di(std::uint16_t d) {
  if (d >= di::kHistory1 && d <= di::kHistory12) return true;
  return di_name(d).has_value();
}

// The 81xx identifiers travel low byte first (0A 81 for 810A), the others high byte first
// (90 1F, A0 17), as the meters in the field answer; decode accepts either order.
void append_di(Bytes& out, std::uint16_t d) {
  if ((d >> 8) == 0x81) {
    out.push_back(static_cast<std::uint8_t>(d));
    out.push_back(static_cast<std::uint8_t>(d >> 8));
  } else {
    out.push_back(static_cast<std::uint8_t>(d >> 8));
    out.push_back(static_cast<std::uint8_t>(d));
  }
}

}  // namespace

std::optional<std::string_view> meter_type_name(std::uint8_t type) {
  switch (type) {
    case meter_type::kColdWater: return "cold water";
    case meter_type::kHotWater: return "hot water";
    case meter_type::kDrinkingWater: return "drinking water";
    case meter_type::kReclaimedWater: return "reclaimed water";
    case meter_type::kHeat: return "heat (heating)";
    case meter_type::kCooling: return "heat (cooling)";
    case meter_type::kGas: return "gas";
    case meter_type::kElectricity: return "electricity";
    default: return std::nullopt;
  }
}

bool is_heat_type(std::uint8_t type) { return (type & 0xF0) == 0x20; }

std::optional<std::string_view> di_name(std::uint16_t d) {
  switch (d) {
    case di::kCurrentData: return "current data";
    case di::kReadPrice: return "price table";
    case di::kReadSettlementDay: return "settlement day";
    case di::kReadReadingDay: return "reading day";
    case di::kReadPurchase: return "purchase amount";
    case di::kReadKeyVersion: return "key version";
    case di::kReadAddress: return "address";
    case di::kWriteSettlementDay: return "write settlement day";
    case di::kWriteReadingDay: return "write reading day";
    case di::kWriteTime: return "write standard time";
    case di::kValveControl: return "valve control";
    case di::kWriteAddress: return "write address";
    default:
      if (d >= di::kHistory1 && d <= di::kHistory12) return "settlement history";
      return std::nullopt;
  }
}

std::optional<UnitCode> unit_of(std::uint8_t code) {
  for (const auto& r : kUnits) {
    if (r.code == code) return UnitCode{r.unit, r.multiplier};
  }
  return std::nullopt;
}

std::string DateTime::iso8601() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute,
                second);
  return buf;
}

Status::Valve Status::valve() const {
  switch (bytes[0] & 0x03) {
    case 0x00: return Valve::open;
    case 0x01: return Valve::closed;
    case 0x03: return Valve::abnormal;
    default: return Valve::unknown;  // 10 is not defined by the standard
  }
}

std::string_view to_string(Status::Valve v) {
  switch (v) {
    case Status::Valve::open: return "open";
    case Status::Valve::closed: return "closed";
    case Status::Valve::abnormal: return "abnormal";
    case Status::Valve::unknown: break;
  }
  return "unknown";
}

Result<Address> parse_address(std::string_view digits) {
  if (digits.size() != 14) return decode_error("address must be 14 digits", 0);
  Address a{};
  for (std::size_t i = 0; i < 7; ++i) {
    const std::size_t at = 2 * (6 - i);
    int hi = hex_digit(digits[at]), lo = hex_digit(digits[at + 1]);
    if (hi < 0 || lo < 0) return decode_error("address: not a hex digit", hi < 0 ? at : at + 1);
    a[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return a;
}

std::string format_address(const Address& address) { return reversed_hex(address); }

Result<Frame> decode_frame(std::span<const std::uint8_t> bytes) {
  auto s = whole_frame68(bytes, kFrameLayout);
  if (!s) return s.error();
  Frame f;
  f.preamble = s->preamble;
  const std::size_t head = f.preamble;
  f.type = bytes[head + 1];
  for (std::size_t i = 0; i < 7; ++i) f.address[i] = bytes[head + 2 + i];
  f.control = bytes[head + 9];
  f.data_offset = head + kHeaderSize;
  f.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(f.data_offset),
                bytes.begin() + static_cast<std::ptrdiff_t>(f.data_offset + bytes[head + 10]));
  return f;
}

Bytes encode_frame(std::uint8_t type, const Address& address, std::uint8_t control,
                   std::span<const std::uint8_t> data, std::size_t preamble) {
  if (data.size() > 255) data = data.first(255);
  Bytes out(preamble, kWake);
  out.push_back(kStart);
  out.push_back(type);
  out.insert(out.end(), address.begin(), address.end());
  out.push_back(control);
  out.push_back(static_cast<std::uint8_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  out.push_back(sum8(std::span(out).subspan(preamble)));
  out.push_back(kEnd);
  return out;
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  auto frame = decode_frame(bytes);
  if (!frame) return frame.error();
  Message m;
  m.frame = std::move(frame).value();
  const auto& f = m.frame;
  const auto data = std::span<const std::uint8_t>(f.data);
  const std::size_t base = f.data_offset;

  if (f.is_response() && f.is_abnormal()) {
    // Abnormal answer (CJ/T 188-2004 §6.1): SER and the status word.
    m.kind = Message::Kind::error_response;
    if (data.size() >= 3) {
      m.ser = data[0];
      m.status = Status{{data[1], data[2]}};
      if (data.size() > 3) {
        m.extra.assign(data.begin() + 3, data.end());
        m.extra_offset = base + 3;
      }
    } else {
      m.extra.assign(data.begin(), data.end());
      m.extra_offset = base;
    }
    return m;
  }

  if (data.size() < 3) {
    return decode_error("data field has " + std::to_string(data.size()) +
                            " bytes, DI and SER need 3",
                        base + data.size());
  }
  const std::uint16_t as_sent = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
  const std::uint16_t swapped = static_cast<std::uint16_t>(data[1] << 8 | data[0]);
  if (!known_di(as_sent) && known_di(swapped)) {
    m.di = swapped;
    m.di_low_byte_first = true;
  } else {
    m.di = as_sent;
  }
  m.ser = data[2];
  auto body = data.subspan(3);
  std::size_t at = base + 3;
  const std::uint8_t fn = f.function();

  auto need = [&](std::size_t n, const char* what) -> std::optional<DecodeError> {
    if (body.size() < n) {
      return decode_error(std::string("truncated ") + what + ": needs " + std::to_string(n) +
                              " bytes after DI and SER, has " + std::to_string(body.size()),
                          base + data.size());
    }
    return std::nullopt;
  };
  auto keep_rest = [&](std::size_t used) {
    if (body.size() > used) {
      m.extra.assign(body.begin() + static_cast<std::ptrdiff_t>(used), body.end());
      m.extra_offset = at + used;
    }
  };

  if (fn == control::kReadData) {
    if (!f.is_response()) {
      m.kind = Message::Kind::read_request;
      keep_rest(0);
      return m;
    }
    m.kind = Message::Kind::read_response;
    if (*m.di == di::kCurrentData) {
      if (is_heat_type(f.type)) {
        // Heat meter layout (CJ/T 188-2004 table 9): settlement-day heat, current heat, heat
        // power, flow rate, cumulative flow (4 BCD + unit each), supply and return temperature
        // (3 BCD, 0.01 °C), working hours (3 BCD), real time (7), ST (2).
        if (auto e = need(43, "heat meter data")) return *e;
        m.quantities.push_back(counter("settlement-day heat", body.subspan(0, 5), 2));
        m.quantities.push_back(counter("current heat", body.subspan(5, 5), 2));
        m.quantities.push_back(counter("heat power", body.subspan(10, 5), 2));
        m.quantities.push_back(counter("flow rate", body.subspan(15, 5), 4));
        m.quantities.push_back(counter("cumulative flow", body.subspan(20, 5), 2));
        m.quantities.push_back(bcd_field("supply temperature", body.subspan(25, 3), 2, "°C"));
        m.quantities.push_back(bcd_field("return temperature", body.subspan(28, 3), 2, "°C"));
        m.quantities.push_back(bcd_field("working time", body.subspan(31, 3), 0, "h"));
        m.meter_time_raw = reversed_hex(body.subspan(34, 7));
        m.meter_time = parse_time7(body.subspan(34, 7));
        m.status = Status{{body[41], body[42]}};
        keep_rest(43);
        return m;
      }
      // Water / gas / electricity layout (table 8): current cumulative flow, settlement-day
      // cumulative flow (4 BCD + unit each), real time (7), ST (2).
      if (auto e = need(19, "meter data")) return *e;
      m.quantities.push_back(counter("current cumulative flow", body.subspan(0, 5), 2));
      m.quantities.push_back(counter("settlement-day cumulative flow", body.subspan(5, 5), 2));
      m.meter_time_raw = reversed_hex(body.subspan(10, 7));
      m.meter_time = parse_time7(body.subspan(10, 7));
      m.status = Status{{body[17], body[18]}};
      keep_rest(19);
      return m;
    }
    if (*m.di >= di::kHistory1 && *m.di <= di::kHistory12) {
      if (auto e = need(5, "settlement history")) return *e;
      const int months = *m.di - di::kHistory1 + 1;
      m.quantities.push_back(counter(
          "settlement-day cumulative flow, " + std::to_string(months) + " month(s) ago",
          body.subspan(0, 5), 2));
      keep_rest(5);
      return m;
    }
    if (*m.di == di::kReadSettlementDay) {
      if (auto e = need(1, "settlement day")) return *e;
      if (is_bcd(body[0])) m.settlement_day = static_cast<std::uint8_t>(bcd_value(body[0]));
      keep_rest(1);
      return m;
    }
    keep_rest(0);
    return m;
  }

  if (fn == control::kReadAddress) {
    m.kind = f.is_response() ? Message::Kind::read_address_response
                             : Message::Kind::read_address_request;
    keep_rest(0);
    return m;
  }

  if (fn == control::kWriteData || fn == control::kWriteAddress) {
    if (*m.di == di::kValveControl) {
      if (!f.is_response()) {
        m.kind = Message::Kind::valve_request;
        if (auto e = need(1, "valve control")) return *e;
        // 55 and 99 are the standard's; meters add their own (66/77 "free" open/close are
        // common), which are kept as numbers rather than rejected.
        m.valve_action = body[0];
        keep_rest(1);
        return m;
      }
      m.kind = Message::Kind::valve_response;
      if (auto e = need(2, "valve control answer")) return *e;
      m.status = Status{{body[0], body[1]}};
      keep_rest(2);
      return m;
    }
    m.kind = f.is_response() ? Message::Kind::write_response : Message::Kind::write_request;
    if (f.is_response() && body.size() >= 2) {
      m.status = Status{{body[0], body[1]}};
      keep_rest(2);
    } else {
      keep_rest(0);
    }
    return m;
  }

  m.kind = Message::Kind::other;
  keep_rest(0);
  return m;
}

Bytes encode_read(std::uint8_t type, const Address& address, std::uint8_t ser, std::uint16_t d,
                  std::size_t preamble) {
  Bytes data;
  append_di(data, d);
  data.push_back(ser);
  return encode_frame(type, address, control::kReadData, data, preamble);
}

Bytes encode_read_address(std::uint8_t type, std::uint8_t ser, std::size_t preamble) {
  Bytes data;
  append_di(data, di::kReadAddress);
  data.push_back(ser);
  return encode_frame(type, kWildcardAddress, control::kReadAddress, data, preamble);
}

Bytes encode_valve_control(std::uint8_t type, const Address& address, std::uint8_t ser,
                           ValveAction action, std::size_t preamble) {
  Bytes data;
  append_di(data, di::kValveControl);
  data.push_back(ser);
  data.push_back(static_cast<std::uint8_t>(action));
  return encode_frame(type, address, control::kWriteData, data, preamble);
}

}  // namespace estate::protocols::cjt188
