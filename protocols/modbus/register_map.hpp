// Modbus meter register maps as data: point definitions (register, type, word order, scale,
// offset, unit, quantity, billed), decoding of register values into exact decimals, and the
// coalescing of points into the fewest read requests a bus driver has to send.
//
// Values are exact: no floating point stands between the registers and the decimal a point
// decodes to (a billed energy register is money).
//   - u16/s16/u32/s32/u64 and BCD: value = raw x scale + offset, computed exactly in integers
//     (u32 123456 with scale 0.01 is 1234.56, mantissa 123456, exponent -2; the scale's decimals
//     are kept, so 123400 is 1234.00).
//   - float32/float64: the IEEE 754 value is first taken as the shortest decimal that reads back
//     as the same float (std::to_chars's shortest form: 230.1f is 230.1, not 230.100006), then
//     scaled and offset exactly like an integer. NaN and infinities are errors.
//   - A result whose mantissa does not fit in 64 bits (trailing zeros aside) is an error naming
//     the point, never a rounded value.
//
// Loading a map from config/models/*.yaml lives outside protocols/ (drivers/meter/
// model_registry); this header holds only the types and pure functions. All functions are
// thread-safe; none throws on bad input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.hpp"

namespace estate::protocols::modbus {

enum class RegisterFunction {
  holding,  // function 03
  input,    // function 04
};

enum class PointType { u16, s16, u32, s32, u64, float32, float64, bcd16, bcd32 };

// Order of the 16-bit registers of a multi-register value. Bytes inside a register are always
// big-endian (Modbus Application Protocol v1.1b3 §4.2).
enum class WordOrder {
  high_first,  // "big": the most significant register comes first (ABCD)
  low_first,   // "little": the least significant register comes first (CDAB)
};

std::string_view to_string(RegisterFunction f);
std::string_view to_string(PointType t);
std::string_view to_string(WordOrder o);
std::optional<RegisterFunction> parse_function(std::string_view s);    // "holding", "input"
std::optional<PointType> parse_point_type(std::string_view s);        // "u16" ... "bcd" = bcd16
std::optional<WordOrder> parse_word_order(std::string_view s);        // "big", "little"

// Registers a type occupies: 1, 2 or 4.
std::uint16_t register_count(PointType t);

// An exact decimal: mantissa x 10^exponent. The representation of the meter reading's
// drivers::Decimal; protocols/ includes nothing from drivers/, so the codec has this plain pair
// and the driver copies its two fields.
struct Decimal {
  std::int64_t mantissa = 0;
  int exponent = 0;  // value = mantissa x 10^exponent
};

struct PointDef {
  std::string name;      // "voltage_l1"
  std::uint16_t address = 0;  // protocol address (0-based, as on the wire)
  PointType type = PointType::u16;
  WordOrder word_order = WordOrder::high_first;
  Decimal scale{1, 0};   // value = raw x scale + offset, exactly (as written in the model file)
  Decimal offset{0, 0};
  std::string unit;      // "V", "kWh"
  // The quantity vocabulary's entry the point reads (drivers/meter/quantity.hpp:
  // "voltage_l1", "active_energy_import", ...); checked when a model file is loaded.
  std::string quantity;
  bool billed = false;   // the meter's billed register (at most one point per model)
};

struct ModelDef {
  std::string name;          // registry key, e.g. "eastron-sdm630"
  std::string manufacturer;
  std::string description;
  RegisterFunction function = RegisterFunction::holding;
  std::uint16_t max_registers = 125;  // per read request (Modbus limit 125, some meters fewer)
  std::vector<PointDef> points;
};

// Decodes one point from its registers (regs[0] is the register at `point.address`) into its
// exact decimal (the rules above). Errors, each message starting with the point's name: too few
// registers, invalid BCD digit (offset = register index * 2 within `regs`), a float that is NaN
// or infinite, a scaled value whose mantissa overflows 64 bits.
Result<Decimal> decode_point(const PointDef& point, std::span<const std::uint16_t> regs);

struct PointValue {
  const PointDef* point = nullptr;
  Decimal value;
};

// Decodes every point of `model` that lies wholly inside the registers [start, start + n).
// A point that fails to decode makes the whole call fail, naming the point and byte offset
// (2 bytes per register, counted from `start`).
Result<std::vector<PointValue>> decode_registers(const ModelDef& model, std::uint16_t start,
                                                 std::span<const std::uint16_t> regs);

struct ReadRequest {
  RegisterFunction function = RegisterFunction::holding;
  std::uint16_t start = 0;
  std::uint16_t count = 0;
  std::vector<std::size_t> points;  // indices into the given point list
};

// Groups points into the fewest requests of at most `max_registers` registers each, reading
// across gaps of at most `max_gap` unused registers (some meters reject reads of unmapped
// registers: pass 0 for those). Points are visited by address; a point larger than
// `max_registers` gets a request of its own.
std::vector<ReadRequest> coalesce(std::span<const PointDef> points, RegisterFunction function,
                                  std::uint16_t max_registers,
                                  std::uint16_t max_gap = 0xFFFF);

}  // namespace estate::protocols::modbus
