// CJ/T 188-2004 household meter protocol (water, heat, gas, electricity meters on M-Bus or
// RS-485): frames, the length-driven stream scanner, response parsing and request encoders.
//
// Frame (CJ/T 188-2004 §5.2): [FE..FE] 68 T A0..A6 C L DATA(L) CS 16
// T is the meter type, A0..A6 the 14-digit address sent least significant byte first (A6 A5
// carry the manufacturer code), C the control code (D7 direction, D6 abnormal answer, D5..D0
// function), CS the modulo-256 sum from 68 to the last DATA byte. DATA starts with the data
// identifier DI (two bytes, 90 1F for "read current data") and the sequence number SER.
//
// Pure functions: no I/O, no clocks, no globals; all are thread-safe. Decoders never throw on
// bad input; they return a DecodeError naming what is wrong and the byte offset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/frame68.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::cjt188 {

// Meter types (CJ/T 188-2004 table 2). Other codes are kept as numbers.
namespace meter_type {
inline constexpr std::uint8_t kColdWater = 0x10;
inline constexpr std::uint8_t kHotWater = 0x11;
inline constexpr std::uint8_t kDrinkingWater = 0x12;
inline constexpr std::uint8_t kReclaimedWater = 0x13;
inline constexpr std::uint8_t kHeat = 0x20;      // heat meter, heating
inline constexpr std::uint8_t kCooling = 0x21;   // heat meter, cooling
inline constexpr std::uint8_t kGas = 0x30;
inline constexpr std::uint8_t kElectricity = 0x40;
inline constexpr std::uint8_t kBroadcast = 0xAA;  // "any type" in a read-address request
}  // namespace meter_type

// "cold water", "heat (heating)", ... ; nullopt for codes the standard does not define.
std::optional<std::string_view> meter_type_name(std::uint8_t type);
// Water, gas and electricity meters answer 901F with the flow layout, 0x2X types with the heat
// layout (CJ/T 188-2004 §6.2, tables 8 and 9).
bool is_heat_type(std::uint8_t type);

using Address = std::array<std::uint8_t, 7>;  // wire order, A0 first
inline constexpr Address kWildcardAddress = {0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA};

// 14 digits, most significant first ("00201510270588"). Hex digits allowed for wildcards.
Result<Address> parse_address(std::string_view digits);
std::string format_address(const Address& address);

namespace control {
inline constexpr std::uint8_t kDirectionBit = 0x80;
inline constexpr std::uint8_t kAbnormalBit = 0x40;
inline constexpr std::uint8_t kFunctionMask = 0x3F;
inline constexpr std::uint8_t kReadData = 0x01;
inline constexpr std::uint8_t kReadAddress = 0x03;
inline constexpr std::uint8_t kWriteData = 0x04;
inline constexpr std::uint8_t kReadKeyVersion = 0x09;
inline constexpr std::uint8_t kWriteAddress = 0x15;
}  // namespace control

// Data identifiers (CJ/T 188-2004 tables 4 and 5), written DI0 DI1 as in the standard's tables.
namespace di {
inline constexpr std::uint16_t kCurrentData = 0x901F;       // current counters, time, status
inline constexpr std::uint16_t kHistory1 = 0xD120;          // settlement data, 1..12 months ago:
inline constexpr std::uint16_t kHistory12 = 0xD12B;         //   D120..D12B
inline constexpr std::uint16_t kReadPrice = 0x8102;
inline constexpr std::uint16_t kReadSettlementDay = 0x8103;
inline constexpr std::uint16_t kReadReadingDay = 0x8104;
inline constexpr std::uint16_t kReadPurchase = 0x8105;
inline constexpr std::uint16_t kReadKeyVersion = 0x8106;
inline constexpr std::uint16_t kReadAddress = 0x810A;
inline constexpr std::uint16_t kWriteSettlementDay = 0xA011;
inline constexpr std::uint16_t kWriteReadingDay = 0xA012;
inline constexpr std::uint16_t kWriteTime = 0xA015;
inline constexpr std::uint16_t kValveControl = 0xA017;
inline constexpr std::uint16_t kWriteAddress = 0xA018;
}  // namespace di
std::optional<std::string_view> di_name(std::uint16_t di);

struct Frame {
  std::uint8_t type = 0;
  Address address{};
  std::uint8_t control = 0;
  std::vector<std::uint8_t> data;
  std::size_t preamble = 0;
  std::size_t data_offset = 0;  // offset of DATA in the input, for error messages

  bool is_response() const { return (control & control::kDirectionBit) != 0; }
  bool is_abnormal() const { return (control & control::kAbnormalBit) != 0; }
  std::uint8_t function() const { return control & control::kFunctionMask; }
};

inline constexpr std::size_t kHeaderSize = 11;  // 68 T A0..A6 C L

using ScanResult = Frame68Scan;  // the scan DL/T 645 shares (protocols/common/frame68)
inline constexpr Frame68Layout kFrameLayout{kHeaderSize, 10, std::nullopt};  // L at 10, one 68

// Length-driven like dlt645::scan: the end is found from L, a CS of 0x16 is never the end.
inline ScanResult scan(std::span<const std::uint8_t> buffer) {
  return scan_frame68(buffer, kFrameLayout);
}
Result<Frame> decode_frame(std::span<const std::uint8_t> bytes);
Bytes encode_frame(std::uint8_t type, const Address& address, std::uint8_t control,
                   std::span<const std::uint8_t> data, std::size_t preamble = 2);

// ---- Values ---------------------------------------------------------------------------

// A BCD quantity with its unit code (CJ/T 188-2004 table 7). `unit` is the SI-style name after
// applying the code's decade ("m^3", "kWh", "GJ", "kW", "m^3/h", "L"); `number` is absent when
// the digits are not BCD (meters send FF FF FF FF for "no value").
struct Quantity {
  std::string name;           // "current cumulative flow"
  std::string raw;            // BCD digits MSB first
  std::optional<double> number;
  // With `number`: the value is exactly raw x 10^exponent (the field's decimals and the unit
  // code's decade), so the meter's digits can be kept as sent ("00123450", -2: 1234.50).
  std::optional<int> exponent;
  std::string unit;
  std::optional<std::uint8_t> unit_code;
};

// Unit code -> (unit name, decade multiplier). nullopt for codes outside the table.
struct UnitCode {
  std::string_view unit;
  double multiplier;
};
std::optional<UnitCode> unit_of(std::uint8_t code);

struct DateTime {
  int year = 2000, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  std::string iso8601() const;
};

// Status word ST (CJ/T 188-2004 table 10): first byte D0..D1 valve (00 open, 01 closed,
// 11 abnormal), D2 battery (1 = low); D3..D7 and the second byte are manufacturer-defined.
struct Status {
  std::array<std::uint8_t, 2> bytes{};
  enum class Valve { open, closed, abnormal, unknown };
  Valve valve() const;
  bool battery_low() const { return (bytes[0] & 0x04) != 0; }
};
std::string_view to_string(Status::Valve v);

enum class ValveAction : std::uint8_t { open = 0x55, close = 0x99 };

struct Message {
  enum class Kind {
    read_request,           // C=01: DI SER
    read_response,          // C=81: DI SER + data of the DI
    read_address_request,   // C=03 DI=810A
    read_address_response,  // C=83 DI=810A: the address is the frame's address
    valve_request,          // C=04 DI=A017: SER + 55 (open) / 99 (close)
    valve_response,         // C=84 DI=A017: SER + ST
    write_request,          // C=04/15 other DIs: data kept raw
    write_response,         // C=84/95 other DIs: SER (+ ST)
    error_response,         // D6 set: SER + ST
    other,
  };
  Frame frame;
  Kind kind = Kind::other;
  std::optional<std::uint16_t> di;
  bool di_low_byte_first = false;  // some meters send 1F 90 for 901F; both are accepted
  std::optional<std::uint8_t> ser;
  std::vector<Quantity> quantities;     // counters, heat fields, temperatures, hours
  std::optional<DateTime> meter_time;   // real time field
  std::string meter_time_raw;           // as sent, MSB first, when present
  std::optional<Status> status;
  std::optional<std::uint8_t> settlement_day;  // 8103 answer
  std::optional<std::uint8_t> valve_action;    // valve_request: 55/99 (others kept raw)
  std::vector<std::uint8_t> extra;      // data bytes the layout does not cover
  std::size_t extra_offset = 0;
};

Result<Message> decode(std::span<const std::uint8_t> bytes);

// ---- Request encoders (used by the bus driver) --------------------------------------------

// C=01, DI + SER. `di` defaults to 901F.
Bytes encode_read(std::uint8_t type, const Address& address, std::uint8_t ser,
                  std::uint16_t di = di::kCurrentData, std::size_t preamble = 2);
// C=03, DI 810A to the wildcard address: only one meter may be on the line.
Bytes encode_read_address(std::uint8_t type, std::uint8_t ser, std::size_t preamble = 2);
// C=04, DI A017, SER, 55 (open) or 99 (close).
Bytes encode_valve_control(std::uint8_t type, const Address& address, std::uint8_t ser,
                           ValveAction action, std::size_t preamble = 2);

}  // namespace estate::protocols::cjt188
