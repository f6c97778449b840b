// The quantity vocabulary: names, units, cumulative registers, and how each protocol's own
// names map to it (M-Bus by record and medium, the billed register by medium).
#include "drivers/meter/quantity.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <filesystem>
#include <limits>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/meter/mbus_meter.hpp"
#include "drivers/meter/reading.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/mbus/application.hpp"

namespace {

using estate::drivers::Quantity;
namespace d = estate::drivers;

TEST(Quantity, NamesAreUniqueSnakeCaseAndFindable) {
  std::set<std::string> seen;
  for (const auto& e : d::quantities()) {
    EXPECT_TRUE(seen.insert(std::string(e.name)).second) << e.name;
    for (char c : e.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    EXPECT_TRUE(d::find_quantity(e.name) == e.quantity) << e.name;
    ASSERT_FALSE(e.units.empty());
    EXPECT_EQ(e.units.front(), e.unit) << e.name << ": the reference unit is listed first";
    EXPECT_FALSE(e.meaning.empty());
  }
  EXPECT_EQ(seen.size(), 53u);  // 45 + import and export of tariffs 1-4
  EXPECT_FALSE(d::find_quantity("energy"));
  EXPECT_FALSE(d::find_quantity("energy_import"));
}

TEST(Quantity, CumulativeComesFromTheVocabularyNotTheUnit) {
  for (auto q : {Quantity::active_energy_import, Quantity::active_energy_export,
                 Quantity::reactive_energy_import, Quantity::volume, Quantity::heat_energy}) {
    EXPECT_TRUE(d::cumulative(q)) << d::name(q);
  }
  for (auto q : {Quantity::active_power, Quantity::voltage_l1, Quantity::flow,
                 Quantity::heat_power, Quantity::valve_state, Quantity::flow_temperature}) {
    EXPECT_FALSE(d::cumulative(q)) << d::name(q);
  }
  d::Reading r;
  d::set_quantity(r, Quantity::heat_energy, true);
  EXPECT_EQ(r.quantity, "heat_energy");
  EXPECT_TRUE(r.cumulative);
  EXPECT_TRUE(r.billed);
  // Only a cumulative register can be the billed one.
  d::set_quantity(r, Quantity::active_power, true);
  EXPECT_FALSE(r.cumulative);
  EXPECT_FALSE(r.billed);
}

TEST(Quantity, UnitsAreTheVocabularys) {
  EXPECT_TRUE(d::accepts_unit(Quantity::active_energy_import, "kWh"));
  EXPECT_TRUE(d::accepts_unit(Quantity::active_energy_import, "Wh"));
  EXPECT_FALSE(d::accepts_unit(Quantity::active_energy_import, "m3"));
  EXPECT_TRUE(d::accepts_unit(Quantity::heat_energy, "GJ"));
  EXPECT_TRUE(d::accepts_unit(Quantity::power_factor, ""));
  EXPECT_EQ(d::normalise_unit("m^3"), "m3");
  EXPECT_EQ(d::normalise_unit("m^3/h"), "m3/h");
  EXPECT_EQ(d::normalise_unit("kWh"), "kWh");
}

TEST(Quantity, BilledRegisterByMedium) {
  EXPECT_TRUE(d::billed_quantity("electricity") == Quantity::active_energy_import);
  EXPECT_TRUE(d::billed_quantity("water") == Quantity::volume);
  EXPECT_TRUE(d::billed_quantity("hot_water") == Quantity::volume);
  EXPECT_TRUE(d::billed_quantity("gas") == Quantity::volume);
  EXPECT_TRUE(d::billed_quantity("heat") == Quantity::heat_energy);
  EXPECT_FALSE(d::billed_quantity("steam"));
}

TEST(Quantity, MbusRecordsByMedium) {
  // Energy in Wh is an electricity meter's import register, a heat meter's heat energy.
  EXPECT_TRUE(d::mbus_quantity("energy", "Wh", "electricity") == Quantity::active_energy_import);
  EXPECT_TRUE(d::mbus_quantity("energy", "Wh", "heat") == Quantity::heat_energy);
  EXPECT_TRUE(d::mbus_quantity("energy", "J", "electricity") == Quantity::heat_energy);
  // Without a configured medium, the telegram's device type decides (02 electricity, 04 heat).
  EXPECT_TRUE(d::mbus_quantity("energy", "Wh", "", 0x02) == Quantity::active_energy_import);
  EXPECT_TRUE(d::mbus_quantity("energy", "Wh", "", 0x04) == Quantity::heat_energy);
  EXPECT_TRUE(d::mbus_quantity("power", "W", "heat") == Quantity::heat_power);
  EXPECT_TRUE(d::mbus_quantity("power", "W", "electricity") == Quantity::active_power);
  EXPECT_TRUE(d::mbus_quantity("volume", "m^3", "water") == Quantity::volume);
  EXPECT_TRUE(d::mbus_quantity("volume_flow", "m^3/h", "heat") == Quantity::flow);
  EXPECT_TRUE(d::mbus_quantity("flow_temperature", "°C", "heat") == Quantity::flow_temperature);
  EXPECT_TRUE(d::mbus_quantity("return_temperature", "°C", "heat") == Quantity::return_temperature);
  // Outside the vocabulary: not readings.
  EXPECT_FALSE(d::mbus_quantity("on_time", "s", "heat"));
  EXPECT_FALSE(d::mbus_quantity("fabrication_number", "", "heat"));
  EXPECT_FALSE(d::mbus_quantity("volume", "american gallon", "water"));
}

TEST(Quantity, TariffRegistersOfActiveEnergy) {
  EXPECT_TRUE(d::tariff_register(Quantity::active_energy_import, 1) == Quantity::active_energy_import_t1);
  EXPECT_TRUE(d::tariff_register(Quantity::active_energy_import, 4) == Quantity::active_energy_import_t4);
  EXPECT_TRUE(d::tariff_register(Quantity::active_energy_export, 2) == Quantity::active_energy_export_t2);
  EXPECT_FALSE(d::tariff_register(Quantity::active_energy_import, 0));
  EXPECT_FALSE(d::tariff_register(Quantity::active_energy_import, 5));
  EXPECT_FALSE(d::tariff_register(Quantity::volume, 1));
  EXPECT_EQ(d::info(Quantity::active_energy_import_t3).name, "active_energy_import_t3");
  EXPECT_TRUE(d::info(Quantity::active_energy_export_t1).cumulative);
  // Never the billed register: billing charges the total.
  EXPECT_TRUE(d::billed_quantity("electricity") == Quantity::active_energy_import);
}

TEST(Quantity, MbusTariffRecordsOfARealMeter) {
  // Saia-Burgess ALE3 (libmbus test/test-frames, protocols/mbus/testdata/README.md): energy of
  // tariff 1 (2930 Wh) and tariff 2 (60 Wh), current (storage 0) and stored (storage 2).
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "protocols" / "mbus" /
                   "testdata" / "saia_burgess_ale3.hex");
  std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bytes = estate::protocols::parse_hex(hex);
  ASSERT_TRUE(bytes.ok());
  auto t = estate::protocols::mbus::decode_rsp_ud(*bytes);
  ASSERT_TRUE(t.ok()) << t.error().describe();
  // Current and stored values both leave (the driver marks the stored ones with their storage
  // number); the manufacturer-specific records (voltages, currents, the subunit 1 powers) do not.
  std::vector<std::tuple<std::string, std::uint64_t, double>> published;
  for (const auto& r : t->records) {
    if (auto q = d::mbus::record_quantity(r, "", t->header.medium); q && r.value) {
      published.emplace_back(std::string(d::info(*q).name), r.storage, *r.value);
    }
  }
  const std::vector<std::tuple<std::string, std::uint64_t, double>> expected{
      {"active_energy_import_t1", 0, 2930.0}, {"active_energy_import_t1", 2, 2930.0},
      {"active_energy_import_t2", 0, 60.0}, {"active_energy_import_t2", 2, 60.0}};
  EXPECT_EQ(published, expected);
  // A tariff register of a quantity without per-tariff registers has no entry of its own
  // (record_quantity publishes it under the base quantity, marked with its tariff).
  EXPECT_FALSE(d::mbus_quantity("volume", "m^3", "water", 0, 1));
  EXPECT_FALSE(d::mbus_quantity("energy", "Wh", "electricity", 0, 5));
}

// (quantity, storage, tariff, subunit) of every record of a captured frame that is published.
std::set<std::tuple<std::string, std::uint32_t, std::uint32_t, std::uint32_t>> places_of(
    const std::string& file, const std::string& medium) {
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "protocols" / "mbus" /
                   "testdata" / file);
  std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bytes = estate::protocols::parse_hex(hex);
  EXPECT_TRUE(bytes.ok()) << file;
  std::set<std::tuple<std::string, std::uint32_t, std::uint32_t, std::uint32_t>> out;
  if (!bytes.ok()) return out;
  auto t = estate::protocols::mbus::decode_rsp_ud(*bytes);
  EXPECT_TRUE(t.ok()) << file;
  if (!t.ok()) return out;
  for (const auto& r : t->records) {
    auto q = d::mbus::record_quantity(r, medium, t->header.medium);
    if (!q || !r.value) continue;
    const auto place = d::mbus::record_place(r, *q, medium, t->header.medium);
    out.emplace(std::string(d::info(*q).name), place.storage, place.tariff, place.subunit);
  }
  return out;
}

TEST(Quantity, MbusTariffAndSubunitRegistersOfRealHeatMeters) {
  // Kamstrup Multical 601 (libmbus test/test-frames): heat energy of tariffs 1 and 2 (TA2/TA3),
  // the pulse inputs A and B as volumes of subunits 1 and 2, and an energy of subunit 3, each
  // current and stored (storage 1). They leave under the base quantity, marked.
  const auto kamstrup = places_of("kamstrup_multical_601.hex", "heat");
  for (std::uint32_t storage : {0u, 1u}) {
    EXPECT_TRUE(kamstrup.count({"heat_energy", storage, 0, 0})) << storage;
    EXPECT_TRUE(kamstrup.count({"heat_energy", storage, 1, 0})) << storage;
    EXPECT_TRUE(kamstrup.count({"heat_energy", storage, 2, 0})) << storage;
    EXPECT_TRUE(kamstrup.count({"volume", storage, 0, 1})) << storage;
    EXPECT_TRUE(kamstrup.count({"volume", storage, 0, 2})) << storage;
    EXPECT_TRUE(kamstrup.count({"heat_energy", storage, 0, 3})) << storage;
  }
  // Landis+Gyr Ultraheat T230: a tariff 5 energy, beyond the four of active energy's entries.
  const auto t230 = places_of("landis_gyr_ultraheat_t230.hex", "heat");
  EXPECT_TRUE(t230.count({"heat_energy", 0, 5, 0}));
  // A tariff register with an entry of its own carries no tariff number (Saia-Burgess ALE3).
  const auto ale3 = places_of("saia_burgess_ale3.hex", "electricity");
  EXPECT_TRUE(ale3.count({"active_energy_import_t1", 0, 0, 0}));
  for (const auto& [q, storage, tariff, subunit] : ale3) EXPECT_EQ(tariff, 0u) << q;
}

TEST(Quantity, PublishedSchemaListsExactlyTheVocabulary) {
  // docs/schemas/readings.schema.json is the contract the platform validates against.
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "docs" / "schemas" /
                   "readings.schema.json");
  ASSERT_TRUE(in);
  const auto schema = nlohmann::json::parse(in);
  const auto listed =
      schema["$defs"]["reading"]["properties"]["quantity"]["enum"].get<std::vector<std::string>>();
  std::vector<std::string> vocabulary;
  for (const auto& e : d::quantities()) vocabulary.emplace_back(e.name);
  EXPECT_EQ(listed, vocabulary);
}

TEST(Quantity, MbusRealRecordsAreTheirShortestDecimal) {
  // A type H record (IEEE 754 single) leaves as the digits that read back as the same float,
  // at the VIF's power of ten: never the float's binary tail (230.100006) nor a rounding.
  auto text = [](float f, int exponent) {
    auto v = d::mbus::float_decimal(f, exponent);
    return v ? v->to_string() : std::string("none");
  };
  EXPECT_EQ(text(230.1f, 0), "230.1");
  EXPECT_EQ(text(230.1f, -2), "2.301");
  EXPECT_EQ(text(1500.0f, 3), "1500000");
  EXPECT_EQ(text(-0.25f, 0), "-0.25");
  EXPECT_EQ(text(0.1f, -3), "0.0001");
  EXPECT_EQ(text(std::bit_cast<float>(0x43663334u), 0), "230.20001");  // one step above 230.2f
  EXPECT_EQ(text(std::numeric_limits<float>::quiet_NaN(), 0), "none");
  EXPECT_EQ(text(std::numeric_limits<float>::infinity(), 0), "none");
  EXPECT_EQ(text(1e30f, 0), "none");  // 31 digits: more than a mantissa holds
}

}  // namespace
