// A typed meter reading as drivers produce it and the daemon validates, stores and bills it.
// Values are exact decimals (mantissa x 10^exponent, as meters encode them: BCD with a fixed
// number of decimals, or an integer with a power-of-ten unit), so a consumption delta that
// reaches billing is exact; double is only for display.
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "drivers/meter/quantity.hpp"

namespace estate::drivers {

struct Decimal {
  std::int64_t mantissa = 0;
  int exponent = 0;  // value = mantissa * 10^exponent

  double to_double() const;
  // "12345.67": exactly the digits the meter sent, no exponent notation.
  std::string to_string() const;
  // Rescales to `exponent` (<= this->exponent) exactly; nullopt on overflow or when digits
  // would be lost (exponent greater than this one and the dropped digits are not zero).
  std::optional<Decimal> rescaled(int exponent) const;
};

// Parses "123.45" / "-7" / "0.001" exactly. nullopt when not a plain decimal.
std::optional<Decimal> parse_decimal(std::string_view text);
// a - b, exact, at the finer of the two exponents. nullopt on overflow.
std::optional<Decimal> subtract(const Decimal& a, const Decimal& b);
int compare(const Decimal& a, const Decimal& b);

// How a reading stands after validation. Stored with the reading; flagged readings are kept.
enum class Quality {
  good,
  rollover,       // the counter wrapped at its digit count; the delta accounts for the wrap
  negative_step,  // lower than the previous reading without a plausible wrap: delta withheld
  spike,          // a step far above the meter's recent history: stored, delta withheld
  night_flow,     // water kept flowing through the night (a leak); delta still billed
  device_error,   // the meter itself reported an error / alarm state
};
std::string_view to_string(Quality q);

struct Reading {
  std::string meter;      // device id from the site config
  // The name of a vocabulary entry (drivers/meter/quantity.hpp): "active_energy_import",
  // "volume", "heat_energy", "voltage_l1", "valve_state" ...
  std::string quantity;
  Decimal value;
  std::string unit;       // the meter's unit, one of the entry's units: "kWh", "m3", "W", "GJ"...
  std::chrono::system_clock::time_point timestamp;
  Quality quality = Quality::good;
  bool cumulative = false;  // the vocabulary's: a register that only counts up (step-validated)
  // The meter's billed register (one per meter: the model's `billed: true` point, or the
  // register its protocol and medium bill from); billing charges only from this one.
  bool billed = false;
  // M-Bus stored values (EN 13757-3 storage number): 0 is the current value; N a value the meter
  // stored (at a due date, a month end), published for the platform, neither step-validated
  // nor billed.
  std::uint32_t storage = 0;
  // M-Bus tariff and subunit (EN 13757-3 DIFE): 0 is the total and the meter itself. A register
  // of another tariff (one the vocabulary has no entry of its own for: active energy tariffs
  // 1-4 have) or of a subunit (a pulse input, a second circuit) is published with its number,
  // neither step-validated nor billed.
  std::uint32_t tariff = 0;
  std::uint32_t subunit = 0;
  // The meter's own clock for this value as it sent it, without time zone ("2024-05-17T13:45",
  // a date "2024-04-30" for a stored value); empty when the meter sent none.
  std::string meter_time;
};

// Sets quantity, cumulative and billed of `r` from the vocabulary entry `q`; `billed` is whether
// this is the meter's billed register.
void set_quantity(Reading& r, Quantity q, bool billed);

}  // namespace estate::drivers
