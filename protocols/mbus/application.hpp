// M-Bus application layer (EN 13757-3): the RSP_UD user data after the CI field, decoded into
// typed records with values normalised to SI units the way libmbus's normalised output does
// (energy in Wh, volume in m^3, power in W, flow in m^3/h, temperatures in °C, durations in s),
// while keeping each record's raw value and its power-of-ten exponent.
//
// Covers: variable data structure (CI 72 long header, 7A short header, 78 no header, 76 = 72
// with multi-byte fields most significant byte first), fixed data structure (CI 73, 77), the
// header (identification, manufacturer, version, medium, access number, status, signature),
// DIF/DIFE (function, storage number, tariff, subunit), every data field coding (none, integers
// 8..64 bit, real32, BCD 2..12 digits, variable length, date/time types G, F, I, J), primary
// VIFs with exponents, the FB and FD extension tables, combinable VIFEs (multipliers, additive
// corrections, limit and duration descriptions, record errors), plain-text VIFs,
// manufacturer-specific VIFs and data (DIF 0F/1F, kept as bytes) and "more records follow".
//
// Thread-safety: pure functions; results own their data. Errors: a DecodeError naming the
// fault and the byte offset in the caller's buffer (header, record or data field).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::mbus {

// DIF bits 4-5 (EN 13757-3 §6.3.2).
enum class Function { instantaneous, maximum, minimum, error };
std::string_view to_string(Function f);

// Date/time as the meter sends it (EN 13757-3 Annex A types G, F, I, J); no time zone.
struct DateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  bool has_date = true;
  bool has_time = false;
  bool has_seconds = false;
  bool invalid = false;      // IV bit set by the meter
  bool summer_time = false;  // SU bit
  std::string iso8601() const;  // "2011-01-05T15:26:00", "2010-12-31" or "15:26:00"
};

// A data field as coded on the wire.
//   monostate: no data (DIF coding 0 or 8)        int64/uint64: integer or valid BCD
//   double: real32                                 string: variable-length ASCII text
//   DateTime: date/time types                      Bytes: binary too long for 64 bits, or
//                                                  BCD with non-decimal digits (kept as sent)
using RawValue = std::variant<std::monostate, std::int64_t, std::uint64_t, double, std::string,
                              DateTime, Bytes>;

struct Record {
  std::size_t offset = 0;   // of the DIF, in the caller's buffer
  Bytes dib;                // DIF + DIFEs as received
  Bytes vib;                // VIF + VIFEs as received (a plain-text unit is not included)
  Function function = Function::instantaneous;
  std::uint64_t storage = 0;
  std::uint32_t tariff = 0;
  std::uint32_t subunit = 0;

  std::string quantity;     // "energy", "volume", "flow_temperature", ... (snake_case)
  std::string unit;         // normalised unit: "Wh", "m^3", "°C", ... ("" when dimensionless)
  int exponent = 0;         // power of ten: value = raw * 10^exponent * factor + offset
  double factor = 1.0;      // non-decimal conversion to `unit` (hours -> s: 3600)
  double additive = 0.0;    // additive correction (VIFE E111 10nn), already in `unit`
  std::string raw_unit;     // unit of raw * 10^exponent when factor != 1 ("h", "min", "d")
  std::vector<std::string> extensions;  // combinable VIFE meanings, e.g. "per hour"
  bool manufacturer_specific = false;   // VIF 7F/FF or a VIFE 7F: meaning is the vendor's

  RawValue raw;
  std::optional<double> value;  // normalised number, when raw is numeric
};

struct Header {
  bool has_identity = false;    // false for the short header (CI 7A) and no header (CI 78)
  std::string id;               // identification number digits ("06855817"); hex digits
                                // where the meter sends non-BCD nibbles
  std::uint32_t id_raw = 0;     // the four bytes as a little-endian number
  std::uint16_t manufacturer_code = 0;
  std::string manufacturer;     // three letters
  std::uint8_t version = 0;
  std::uint8_t medium = 0;      // device type (EN 13757-3 Table 3)
  std::uint8_t access_no = 0;
  std::uint8_t status = 0;
  std::uint16_t signature = 0;
  bool fixed = false;           // fixed data structure: no manufacturer/version/signature
};

struct Telegram {
  std::uint8_t ci = 0;
  Header header;
  std::vector<Record> records;
  Bytes manufacturer_data;      // bytes after DIF 0F/1F, in frame order
  bool more_records_follow = false;  // DIF 1F: send REQ_UD2 again for the next telegram
};

// Medium / device type names (EN 13757-3 Table 3), e.g. 0x04 -> "heat (outlet)".
std::string_view medium_name(std::uint8_t medium);

// Status byte bits (EN 13757-3 §6.3.5) as words: "busy", "application_error", "alarm",
// "power_low", "permanent_error", "temporary_error", "manufacturer_1".."manufacturer_3".
std::vector<std::string_view> status_flags(std::uint8_t status);

// Decodes user data that followed CI `ci`; `base_offset` is the offset of data[0] in the
// caller's buffer so errors point at the right byte. Unknown CI values are an error.
Result<Telegram> decode_application(std::uint8_t ci, std::span<const std::uint8_t> data,
                                    std::size_t base_offset = 0);

// parse_frame() + decode_application() for an RSP_UD long frame.
Result<Telegram> decode_rsp_ud(std::span<const std::uint8_t> frame);

}  // namespace estate::protocols::mbus
