#include "drivers/meter/quantity.hpp"

#include <array>

namespace estate::drivers {

namespace {

using U = std::string_view;
constexpr U kActiveEnergy[] = {"kWh", "Wh", "MWh"};
constexpr U kReactiveEnergy[] = {"kvarh", "varh", "Mvarh"};
constexpr U kActivePower[] = {"W", "kW", "MW"};
constexpr U kReactivePower[] = {"var", "kvar", "Mvar"};
constexpr U kApparentPower[] = {"VA", "kVA", "MVA"};
constexpr U kNone[] = {""};
constexpr U kVoltage[] = {"V", "kV"};
constexpr U kCurrent[] = {"A", "mA", "kA"};
constexpr U kFrequency[] = {"Hz"};
constexpr U kAngle[] = {"°"};
constexpr U kVolume[] = {"m3", "L"};
constexpr U kHeatEnergy[] = {"kWh", "Wh", "MWh", "J", "kJ", "MJ", "GJ"};
constexpr U kHeatPower[] = {"kW", "W", "MW", "J/h", "GJ/h"};
constexpr U kFlow[] = {"m3/h", "m3/min", "m3/s", "L/h"};
constexpr U kTemperature[] = {"°C", "°F"};
constexpr U kTemperatureDifference[] = {"K", "°F"};

using Q = Quantity;
constexpr std::array<QuantityInfo, 53> kTable{{
    {Q::active_energy_import, "active_energy_import", "kWh", kActiveEnergy, true,
     "active energy taken from the grid (the electricity meter's billed register)"},
    {Q::active_energy_export, "active_energy_export", "kWh", kActiveEnergy, true,
     "active energy fed into the grid"},
    {Q::active_energy_total, "active_energy_total", "kWh", kActiveEnergy, true,
     "active energy, import plus export"},
    {Q::active_energy_import_t1, "active_energy_import_t1", "kWh", kActiveEnergy, true,
     "active energy taken from the grid, tariff 1 (never billed: the total is)"},
    {Q::active_energy_import_t2, "active_energy_import_t2", "kWh", kActiveEnergy, true,
     "active energy taken from the grid, tariff 2 (never billed: the total is)"},
    {Q::active_energy_import_t3, "active_energy_import_t3", "kWh", kActiveEnergy, true,
     "active energy taken from the grid, tariff 3 (never billed: the total is)"},
    {Q::active_energy_import_t4, "active_energy_import_t4", "kWh", kActiveEnergy, true,
     "active energy taken from the grid, tariff 4 (never billed: the total is)"},
    {Q::active_energy_export_t1, "active_energy_export_t1", "kWh", kActiveEnergy, true,
     "active energy fed into the grid, tariff 1 (never billed: the total is)"},
    {Q::active_energy_export_t2, "active_energy_export_t2", "kWh", kActiveEnergy, true,
     "active energy fed into the grid, tariff 2 (never billed: the total is)"},
    {Q::active_energy_export_t3, "active_energy_export_t3", "kWh", kActiveEnergy, true,
     "active energy fed into the grid, tariff 3 (never billed: the total is)"},
    {Q::active_energy_export_t4, "active_energy_export_t4", "kWh", kActiveEnergy, true,
     "active energy fed into the grid, tariff 4 (never billed: the total is)"},
    {Q::reactive_energy_import, "reactive_energy_import", "kvarh", kReactiveEnergy, true,
     "reactive energy, import"},
    {Q::reactive_energy_export, "reactive_energy_export", "kvarh", kReactiveEnergy, true,
     "reactive energy, export"},
    {Q::reactive_energy_total, "reactive_energy_total", "kvarh", kReactiveEnergy, true,
     "reactive energy, import plus export"},
    {Q::active_power, "active_power", "W", kActivePower, false, "active power, total"},
    {Q::active_power_l1, "active_power_l1", "W", kActivePower, false, "active power, phase 1"},
    {Q::active_power_l2, "active_power_l2", "W", kActivePower, false, "active power, phase 2"},
    {Q::active_power_l3, "active_power_l3", "W", kActivePower, false, "active power, phase 3"},
    {Q::reactive_power, "reactive_power", "var", kReactivePower, false, "reactive power, total"},
    {Q::reactive_power_l1, "reactive_power_l1", "var", kReactivePower, false,
     "reactive power, phase 1"},
    {Q::reactive_power_l2, "reactive_power_l2", "var", kReactivePower, false,
     "reactive power, phase 2"},
    {Q::reactive_power_l3, "reactive_power_l3", "var", kReactivePower, false,
     "reactive power, phase 3"},
    {Q::apparent_power, "apparent_power", "VA", kApparentPower, false, "apparent power, total"},
    {Q::apparent_power_l1, "apparent_power_l1", "VA", kApparentPower, false,
     "apparent power, phase 1"},
    {Q::apparent_power_l2, "apparent_power_l2", "VA", kApparentPower, false,
     "apparent power, phase 2"},
    {Q::apparent_power_l3, "apparent_power_l3", "VA", kApparentPower, false,
     "apparent power, phase 3"},
    {Q::power_factor, "power_factor", "", kNone, false, "power factor, total"},
    {Q::power_factor_l1, "power_factor_l1", "", kNone, false, "power factor, phase 1"},
    {Q::power_factor_l2, "power_factor_l2", "", kNone, false, "power factor, phase 2"},
    {Q::power_factor_l3, "power_factor_l3", "", kNone, false, "power factor, phase 3"},
    {Q::voltage, "voltage", "V", kVoltage, false, "voltage of a single-phase meter"},
    {Q::voltage_l1, "voltage_l1", "V", kVoltage, false, "voltage, phase 1 to neutral"},
    {Q::voltage_l2, "voltage_l2", "V", kVoltage, false, "voltage, phase 2 to neutral"},
    {Q::voltage_l3, "voltage_l3", "V", kVoltage, false, "voltage, phase 3 to neutral"},
    {Q::voltage_l1_l2, "voltage_l1_l2", "V", kVoltage, false, "voltage, phase 1 to phase 2"},
    {Q::voltage_l2_l3, "voltage_l2_l3", "V", kVoltage, false, "voltage, phase 2 to phase 3"},
    {Q::voltage_l3_l1, "voltage_l3_l1", "V", kVoltage, false, "voltage, phase 3 to phase 1"},
    {Q::current, "current", "A", kCurrent, false, "current of a single-phase meter"},
    {Q::current_l1, "current_l1", "A", kCurrent, false, "current, phase 1"},
    {Q::current_l2, "current_l2", "A", kCurrent, false, "current, phase 2"},
    {Q::current_l3, "current_l3", "A", kCurrent, false, "current, phase 3"},
    {Q::current_n, "current_n", "A", kCurrent, false, "current in the neutral"},
    {Q::frequency, "frequency", "Hz", kFrequency, false, "grid frequency"},
    {Q::phase_angle, "phase_angle", "°", kAngle, false, "angle between voltage and current"},
    {Q::volume, "volume", "m3", kVolume, true,
     "volume that passed the meter (water, hot water, gas; a heat meter's water)"},
    {Q::heat_energy, "heat_energy", "kWh", kHeatEnergy, true,
     "heat energy delivered (the heat meter's billed register)"},
    {Q::heat_power, "heat_power", "kW", kHeatPower, false, "heat power now"},
    {Q::flow, "flow", "m3/h", kFlow, false, "volume flow now"},
    {Q::flow_temperature, "flow_temperature", "°C", kTemperature, false,
     "temperature of the supply (flow) pipe"},
    {Q::return_temperature, "return_temperature", "°C", kTemperature, false,
     "temperature of the return pipe"},
    {Q::temperature_difference, "temperature_difference", "K", kTemperatureDifference, false,
     "flow minus return temperature"},
    {Q::valve_state, "valve_state", "", kNone, false, "the meter's valve: 1 open, 0 closed"},
    {Q::relay_state, "relay_state", "", kNone, false,
     "the meter's supply relay: 1 closed (supply on), 0 tripped"},
}};

static_assert(static_cast<std::size_t>(Q::relay_state) + 1 == kTable.size(),
              "one table entry per Quantity");

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<std::size_t>(kTable[i].quantity) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "the vocabulary table is in enum order");

bool electricity(std::string_view medium, std::uint8_t mbus_medium) {
  if (!medium.empty()) return medium == "electricity";
  return mbus_medium == 0x02;  // EN 13757-3 Table 3: electricity
}

}  // namespace

std::span<const QuantityInfo> quantities() { return kTable; }

const QuantityInfo& info(Quantity q) { return kTable[static_cast<std::size_t>(q)]; }

std::optional<Quantity> tariff_register(Quantity total, int tariff) {
  if (tariff < 1 || tariff > 4) return std::nullopt;
  const int k = tariff - 1;
  if (total == Q::active_energy_import) return static_cast<Q>(static_cast<int>(Q::active_energy_import_t1) + k);
  if (total == Q::active_energy_export) return static_cast<Q>(static_cast<int>(Q::active_energy_export_t1) + k);
  return std::nullopt;
}

std::optional<Quantity> find_quantity(std::string_view name) {
  for (const auto& e : kTable) {
    if (e.name == name) return e.quantity;
  }
  return std::nullopt;
}

bool accepts_unit(Quantity q, std::string_view unit) {
  for (auto u : info(q).units) {
    if (u == unit) return true;
  }
  return false;
}

std::string_view normalise_unit(std::string_view unit) {
  if (unit == "m^3" || unit == "m³") return "m3";
  if (unit == "m^3/h") return "m3/h";
  if (unit == "m^3/min") return "m3/min";
  if (unit == "m^3/s") return "m3/s";
  return unit;
}

std::optional<Quantity> billed_quantity(std::string_view medium) {
  if (medium == "electricity") return Q::active_energy_import;
  if (medium == "water" || medium == "hot_water" || medium == "gas") return Q::volume;
  if (medium == "heat") return Q::heat_energy;
  return std::nullopt;
}

std::optional<Quantity> mbus_quantity(std::string_view q, std::string_view unit,
                                      std::string_view medium, std::uint8_t mbus_medium,
                                      int tariff) {
  if (tariff != 0) {
    const auto total = mbus_quantity(q, unit, medium, mbus_medium);
    return total ? tariff_register(*total, tariff) : std::nullopt;
  }
  const bool power_meter = electricity(medium, mbus_medium);
  if (q == "energy") {
    // Joules are heat; Wh on an electricity meter is its import register.
    if (power_meter && unit == "Wh") return Q::active_energy_import;
    return Q::heat_energy;
  }
  if (q == "volume") return unit == "m^3" || unit == "m3" ? std::optional(Q::volume) : std::nullopt;
  if (q == "power") return power_meter && unit == "W" ? Q::active_power : Q::heat_power;
  if (q == "volume_flow") return Q::flow;
  if (q == "flow_temperature") return Q::flow_temperature;
  if (q == "return_temperature") return Q::return_temperature;
  if (q == "temperature_difference") return Q::temperature_difference;
  if (q == "voltage") return Q::voltage;
  if (q == "current") return Q::current;
  return std::nullopt;
}

}  // namespace estate::drivers
