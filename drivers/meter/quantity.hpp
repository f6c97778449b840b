// The one quantity vocabulary: every reading a meter driver produces names one of these
// quantities, whatever the protocol (DL/T 645 data items, CJ/T 188 data, M-Bus VIF and medium,
// Modbus model points). Each entry has its name (as published in a reading's `quantity`), its
// reference unit, the units a meter may send it in (the reading keeps the meter's unit, spelled
// as here), and whether the register only counts up (cumulative: validated for steps and
// deltas, and billable). docs/mqtt-api.md ("readings") and the `quantity` enum of
// docs/schemas/readings.schema.json list the same table.
// Thread-safety: constant data and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace estate::drivers {

enum class Quantity : std::uint8_t {
  // electricity: energy registers (cumulative)
  active_energy_import,
  active_energy_export,
  active_energy_total,  // import + export, as some meters count it
  // the same registers per tariff (time-of-use: DL/T 645 tariffs 1-4, 尖 峰 平 谷; M-Bus tariff 1-4)
  active_energy_import_t1, active_energy_import_t2, active_energy_import_t3, active_energy_import_t4,
  active_energy_export_t1, active_energy_export_t2, active_energy_export_t3, active_energy_export_t4,
  reactive_energy_import,
  reactive_energy_export,
  reactive_energy_total,
  // electricity: instantaneous values (total, then per phase)
  active_power, active_power_l1, active_power_l2, active_power_l3,
  reactive_power, reactive_power_l1, reactive_power_l2, reactive_power_l3,
  apparent_power, apparent_power_l1, apparent_power_l2, apparent_power_l3,
  power_factor, power_factor_l1, power_factor_l2, power_factor_l3,
  voltage, voltage_l1, voltage_l2, voltage_l3,
  voltage_l1_l2, voltage_l2_l3, voltage_l3_l1,
  current, current_l1, current_l2, current_l3, current_n,
  frequency,
  phase_angle,
  // water, gas, heat
  volume,       // cumulative
  heat_energy,  // cumulative: a heat meter's energy
  heat_power,
  flow,
  flow_temperature,
  return_temperature,
  temperature_difference,
  // supply state: 1 open / closed-circuit (supply on), 0 closed valve / tripped relay
  valve_state,
  relay_state,
};

struct QuantityInfo {
  Quantity quantity;
  std::string_view name;   // "active_energy_import"
  std::string_view unit;   // reference unit: "kWh"; "" when dimensionless
  std::span<const std::string_view> units;  // units a meter may send it in (unit first)
  bool cumulative;         // only counts up: validated for steps, billable
  std::string_view meaning;
};

// Every entry, in enum order.
std::span<const QuantityInfo> quantities();

// The per-tariff register of a total: active_energy_import / _export and tariff 1..4; nullopt
// for any other quantity or tariff (not in the vocabulary: not published).
std::optional<Quantity> tariff_register(Quantity total, int tariff);
const QuantityInfo& info(Quantity q);
inline std::string_view name(Quantity q) { return info(q).name; }
inline bool cumulative(Quantity q) { return info(q).cumulative; }
std::optional<Quantity> find_quantity(std::string_view name);
// True when `unit` (as normalise_unit spells it) is one the quantity may be sent in.
bool accepts_unit(Quantity q, std::string_view unit);
// The vocabulary's spelling of a unit: "m^3" -> "m3", "m^3/h" -> "m3/h"; others unchanged.
std::string_view normalise_unit(std::string_view unit);

// The register billing charges from, by the meter's medium (electricity: active_energy_import;
// water, hot_water, gas: volume; heat: heat_energy). nullopt for an unknown medium.
std::optional<Quantity> billed_quantity(std::string_view medium);

// M-Bus (EN 13757-3): the codec's quantity ("energy", "volume", "power", "volume_flow",
// "flow_temperature" ...) and unit, and the meter's medium (the configured one: electricity,
// water, hot_water, gas, heat; "" to use the telegram's device type `mbus_medium`, Table 3).
// Energy is active import energy on an electricity meter and heat energy otherwise; power is
// active power on an electricity meter and heat power otherwise. nullopt for records outside
// the vocabulary (times, dates, identifiers, error flags ...), which are not published.
// `tariff` is the record's tariff (DIFE): 0 the total; 1..4 of active energy the per-tariff
// register (tariff_register); any other tariff's record is not published.
std::optional<Quantity> mbus_quantity(std::string_view codec_quantity, std::string_view unit,
                                      std::string_view medium, std::uint8_t mbus_medium = 0,
                                      int tariff = 0);

}  // namespace estate::drivers
