// The meter model registry: the shipped models load, errors name file:line:column and key,
// scale and offset are exact decimals (anything else is an error at its place), each
// point's quantity is a vocabulary entry, exactly one cumulative point is billed, duplicate
// names are rejected, and the models directory can come from the environment.
#include <gtest/gtest.h>

#include <filesystem>

#include "drivers/meter/model_registry.hpp"
#include "drivers/meter/quantity.hpp"
#include "protocols/modbus/register_map.hpp"

namespace {

namespace mb = estate::protocols::modbus;
using estate::drivers::meter::ModelRegistry;

const std::filesystem::path kSource(ESTATE_EDGE_SOURCE_DIR);
TEST(ModelRegistry, ShippedModelsLoadWithoutErrors) {
  ModelRegistry registry;
  auto errors = registry.load_directory(kSource / "config" / "models");
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  for (const char* name : {"eastron-sdm630", "eastron-sdm120", "chint-dtsu666", "chint-ddsu666",
                           "acrel-adl400"}) {
    const auto* m = registry.find(name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_FALSE(m->points.empty());
    // Every shipped map can be polled within its request limit.
    for (const auto& r : mb::coalesce(m->points, m->function, m->max_registers)) {
      EXPECT_LE(r.count, m->max_registers) << name;
    }
  }
}

TEST(ModelRegistry, ErrorsNameFileLineColumnAndKey) {
  ModelRegistry registry;
  auto errors = registry.load_text(
      "name: test\nfunction: input\npoints:\n  - name: v\n    register: 0x10\n    type: f32\n"
      "    quantity: voltage\n",
      "test.yaml");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 6);
  EXPECT_EQ(errors[0].column, 11);
  EXPECT_EQ(errors[0].key, "points[0].type");
  EXPECT_EQ(errors[0].to_string().substr(0, 30), "test.yaml:6:11: points[0].type");
  EXPECT_EQ(registry.size(), 0u);

  auto unknown = registry.load_text("name: x\nfunction: coils\nbogus: 1\npoints: []\n", "x.yaml");
  EXPECT_EQ(unknown.size(), 3u);  // function, unknown key, empty points
  auto syntax = registry.load_text("name: [unclosed\n", "s.yaml");
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_GT(syntax[0].line, 0);
}

TEST(ModelRegistry, ShippedModelsBillTheirImportRegister) {
  ModelRegistry registry;
  ASSERT_TRUE(registry.load_directory(kSource / "config" / "models").empty());
  for (const auto& name : registry.names()) {
    const auto* m = registry.find(name);
    std::vector<std::string> billed;
    for (const auto& p : m->points) {
      if (p.billed) billed.push_back(p.quantity);
      EXPECT_TRUE(estate::drivers::find_quantity(p.quantity)) << name << " " << p.quantity;
    }
    EXPECT_EQ(billed, std::vector<std::string>{"active_energy_import"}) << name;
  }
}

// One point of a model file, with the rest of the file around it.
static std::vector<estate::drivers::meter::ModelError> load_points(const std::string& points) {
  ModelRegistry registry;
  return registry.load_text("name: t\nfunction: input\npoints:\n" + points, "t.yaml");
}

TEST(ModelRegistry, QuantityIsAVocabularyEntry) {
  auto e = load_points("  - {name: e, register: 0, type: u32, unit: kWh, quantity: energy_import}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].to_string().substr(0, 40), "t.yaml:4:60: points[0].quantity: unknown");
  EXPECT_NE(e[0].message.find("'energy_import'"), std::string::npos);
  EXPECT_NE(e[0].message.find("did you mean 'active_energy_import'"), std::string::npos);
  // The unit must be one the quantity is sent in; absent, it is the entry's reference unit.
  e = load_points("  - {name: v, register: 0, type: u16, unit: kWh, quantity: voltage_l1}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].key, "points[0].unit");
  EXPECT_EQ(e[0].column, 45);
  ModelRegistry registry;
  ASSERT_TRUE(registry
                  .load_text("name: t\nfunction: input\npoints:\n  - {name: v, register: 0, "
                             "type: u16, quantity: voltage_l1}\n",
                             "t.yaml")
                  .empty());
  EXPECT_EQ(registry.find("t")->points[0].unit, "V");
  // Two points cannot read the same quantity.
  e = load_points("  - {name: a, register: 0, type: u16, quantity: voltage}\n"
                  "  - {name: b, register: 1, type: u16, quantity: voltage}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 5);
  EXPECT_NE(e[0].message.find("already read by point 'a'"), std::string::npos);
}

TEST(ModelRegistry, ScaleAndOffsetAreExactDecimalsAsWritten) {
  ModelRegistry registry;
  ASSERT_TRUE(registry
                  .load_text("name: t\nfunction: input\npoints:\n"
                             "  - {name: t, register: 0, type: s16, scale: 0.01, offset: -40.5, "
                             "unit: \"°C\", quantity: flow_temperature}\n",
                             "t.yaml")
                  .empty());
  const auto& p = registry.find("t")->points.at(0);
  EXPECT_EQ(p.scale.mantissa, 1);
  EXPECT_EQ(p.scale.exponent, -2);
  EXPECT_EQ(p.offset.mantissa, -405);
  EXPECT_EQ(p.offset.exponent, -1);
  // Absent: scale 1, offset 0.
  ASSERT_TRUE(registry
                  .load_text("name: u\nfunction: input\npoints:\n"
                             "  - {name: v, register: 0, type: u16, quantity: voltage_l1}\n",
                             "u.yaml")
                  .empty());
  const auto& q = registry.find("u")->points.at(0);
  EXPECT_EQ(q.scale.mantissa, 1);
  EXPECT_EQ(q.scale.exponent, 0);
  EXPECT_EQ(q.offset.mantissa, 0);
  // Every shipped scale is a plain decimal kept exactly (0.1, 0.01, 0.001: mantissa 1).
  ModelRegistry shipped;
  ASSERT_TRUE(shipped.load_directory(kSource / "config" / "models").empty());
  const auto* dtsu = shipped.find("chint-dtsu666");
  ASSERT_NE(dtsu, nullptr);
  bool scaled = false;
  for (const auto& point : dtsu->points) {
    if (point.scale.exponent < 0) {
      scaled = true;
      EXPECT_EQ(point.scale.mantissa, 1) << point.name;
    }
  }
  EXPECT_TRUE(scaled);
}

TEST(ModelRegistry, ScaleThatIsNotAPlainDecimalIsRejectedWithItsPlace) {
  // 1e-3 (exponent notation) would be 0.001 approximated by a double: refused.
  auto e = load_points("  - {name: v, register: 0, type: u16, scale: 1e-3, quantity: voltage_l1}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].to_string(),
            "t.yaml:4:46: points[0].scale: '1e-3' is not a plain decimal (such as 0.01 or -40)");
  e = load_points("  - name: v\n    register: 0\n    type: u16\n    scale: 0.1/3\n"
                  "    quantity: voltage_l1\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 7);
  EXPECT_EQ(e[0].column, 12);
  EXPECT_EQ(e[0].key, "points[0].scale");
  e = load_points("  - {name: v, register: 0, type: u16, offset: .inf, quantity: voltage_l1}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].key, "points[0].offset");
  EXPECT_EQ(e[0].column, 47);
  // Many decimals are fine (1 x 10^-23 is exact); more digits than 64 bits hold are not.
  e = load_points("  - {name: v, register: 0, type: u16, scale: 0.00000000000000000000001, "
                  "quantity: voltage_l1}\n");
  EXPECT_TRUE(e.empty());
  e = load_points("  - {name: v, register: 0, type: u16, scale: 123456789012345678901, "
                  "quantity: voltage_l1}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].key, "points[0].scale");
}

TEST(ModelRegistry, ExactlyOneCumulativePointIsBilled) {
  const std::string imp = "  - {name: i, register: 0, type: u32, quantity: active_energy_import";
  const std::string exp = "  - {name: x, register: 2, type: u32, quantity: active_energy_export";
  EXPECT_TRUE(load_points(imp + ", billed: true}\n" + exp + "}\n").empty());
  // None marked: an error naming the points list.
  auto e = load_points(imp + "}\n" + exp + "}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].key, "points");
  EXPECT_NE(e[0].message.find("no point is marked 'billed: true'"), std::string::npos);
  // Two marked: the second is named.
  e = load_points(imp + ", billed: true}\n" + exp + ", billed: true}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].key, "points[1].billed");
  EXPECT_EQ(e[0].line, 5);
  // An instantaneous value cannot be billed; "yes" is not a boolean here.
  e = load_points("  - {name: p, register: 0, type: u16, quantity: active_power, billed: true}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("not a cumulative register"), std::string::npos);
  e = load_points(imp + ", billed: yes}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].key, "points[0].billed");
  // A model of instantaneous values only (a power analyser) bills nothing and needs no mark.
  EXPECT_TRUE(load_points("  - {name: v, register: 0, type: u16, quantity: voltage}\n").empty());
}

TEST(ModelRegistry, DuplicateNamesAreRejected) {
  ModelRegistry registry;
  const char* text =
      "name: dup\nfunction: holding\npoints:\n  - {name: v, register: 1, type: u16, quantity: "
      "voltage}\n";
  EXPECT_TRUE(registry.load_text(text, "a.yaml").empty());
  auto errors = registry.load_text(text, "b.yaml");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "b.yaml");
  EXPECT_NE(errors[0].message.find("a.yaml:1"), std::string::npos);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ModelRegistry, ModelsDirectoryFromEnvironment) {
  ::setenv("ESTATE_EDGE_MODELS_DIR", "/tmp/some-models", 1);
  EXPECT_EQ(estate::drivers::meter::default_models_dir(), "/tmp/some-models");
  ::unsetenv("ESTATE_EDGE_MODELS_DIR");
  EXPECT_NE(estate::drivers::meter::default_models_dir(), "/tmp/some-models");
}

}  // namespace
