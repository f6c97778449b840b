// Modbus register maps: testdata (registers + model -> expected JSON), point decoding for every
// type and word order, request coalescing, and the model registry (shipped models load, errors
// name file:line:column, duplicate names are rejected).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/cli/decode/modbus_json.hpp"
#include "drivers/meter/model_registry.hpp"
#include "drivers/meter/quantity.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/modbus/register_map.hpp"

namespace {

namespace mb = estate::protocols::modbus;
using estate::drivers::meter::ModelRegistry;

const std::filesystem::path kSource(ESTATE_EDGE_SOURCE_DIR);

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// testdata/<name>.hex holds registers (2 bytes each, from the model's first register);
// <name>.json names the model and holds the expected output or {"error", "offset"}.
TEST(ModbusTestdata, EveryRegisterDumpDecodesToItsExpectedJson) {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSource / "protocols" / "modbus" / "testdata")) {
    if (entry.path().extension() != ".hex") continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto expected_path = entry.path();
    expected_path.replace_extension(".json");
    ASSERT_TRUE(std::filesystem::exists(expected_path));
    const auto expected = nlohmann::json::parse(slurp(expected_path));
    auto bytes = estate::protocols::parse_hex(slurp(entry.path()));
    ASSERT_TRUE(bytes.ok());
    estate::cli::DecodeOptions options;
    options.model = expected["model"].get<std::string>();
    auto out = estate::cli::decode_modbus_json(*bytes, options);
    if (expected.contains("error") && expected["error"].is_string()) {
      ASSERT_FALSE(out.ok()) << out->dump();
      EXPECT_EQ(out.error().message.substr(0, expected["error"].get<std::string>().size()),
                expected["error"].get<std::string>());
      EXPECT_EQ(out.error().offset, expected["offset"].get<std::size_t>());
    } else {
      ASSERT_TRUE(out.ok()) << out.error().describe();
      EXPECT_EQ(nlohmann::json::parse(out->dump()), expected) << out->dump(2);
    }
    ++count;
  }
  EXPECT_GE(count, 8);
}

mb::PointDef point(mb::PointType t, mb::WordOrder o = mb::WordOrder::high_first) {
  mb::PointDef p;
  p.name = "p";
  p.type = t;
  p.word_order = o;
  return p;
}

TEST(ModbusDecode, EveryTypeAndWordOrder) {
  const std::uint16_t f32[] = {0x4366, 0x3334};  // 230.2 as captured from an SDM120
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::float32), f32), 230.2);
  const std::uint16_t f32_swapped[] = {0x3334, 0x4366};
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::float32, mb::WordOrder::low_first),
                                     f32_swapped),
                   230.2);
  const std::uint16_t s16[] = {0xFFFE};
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::s16), s16), -2);
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::u16), s16), 65534);
  const std::uint16_t s32[] = {0xFFFF, 0xFE0C};
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::s32), s32), -500);
  const std::uint16_t u32[] = {0x0001, 0xE240};
  auto energy = point(mb::PointType::u32);
  energy.scale = 0.01;
  EXPECT_DOUBLE_EQ(*mb::decode_point(energy, u32), 1234.56);
  const std::uint16_t u64[] = {0x0000, 0x0001, 0x0000, 0x0000};
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::u64), u64), 4294967296.0);
  const std::uint16_t f64[] = {0x4059, 0x0000, 0x0000, 0x0000};
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::float64), f64), 100.0);
  const std::uint16_t bcd[] = {0x1234, 0x5678};
  EXPECT_DOUBLE_EQ(*mb::decode_point(point(mb::PointType::bcd32), bcd), 12345678);
  auto offset = point(mb::PointType::s16);
  offset.scale = 0.1;
  offset.offset = -40;
  const std::uint16_t t[] = {650};
  EXPECT_DOUBLE_EQ(*mb::decode_point(offset, t), 25);
}

TEST(ModbusDecode, ErrorsNameThePointAndByte) {
  const std::uint16_t one[] = {0x4366};
  auto r = mb::decode_point(point(mb::PointType::float32), one);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("needs 2 registers"), std::string::npos);
  const std::uint16_t bad_bcd[] = {0x1234, 0x56A8};
  auto b = mb::decode_point(point(mb::PointType::bcd32), bad_bcd);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().offset, 3u);  // the 0xA8 byte
  const std::uint16_t nan[] = {0x7FC0, 0x0000};
  EXPECT_FALSE(mb::decode_point(point(mb::PointType::float32), nan).ok());
}

TEST(ModbusCoalesce, FewestRequestsWithinTheLimit) {
  std::vector<mb::PointDef> pts;
  for (std::uint16_t a : {0x0000, 0x0002, 0x0004, 0x0046, 0x0048, 0x0156}) {
    auto p = point(mb::PointType::float32);
    p.address = a;
    pts.push_back(p);
  }
  auto reqs = mb::coalesce(pts, mb::RegisterFunction::input, 80);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].start, 0x0000);
  EXPECT_EQ(reqs[0].count, 0x4A);
  EXPECT_EQ(reqs[0].points.size(), 5u);
  EXPECT_EQ(reqs[1].start, 0x0156);
  EXPECT_EQ(reqs[1].count, 2);
  // No reads across unused registers: a request per contiguous run.
  auto strict = mb::coalesce(pts, mb::RegisterFunction::input, 80, 0);
  EXPECT_EQ(strict.size(), 3u);
  // A small limit splits runs.
  auto small = mb::coalesce(pts, mb::RegisterFunction::input, 4, 0);
  EXPECT_EQ(small.size(), 4u);
  for (const auto& r : small) EXPECT_LE(r.count, 4);
}

TEST(ModbusCoalesce, UnsortedAndOverlappingPoints) {
  auto a = point(mb::PointType::float32);
  a.address = 10;
  auto b = point(mb::PointType::u16);
  b.address = 11;  // overlaps a's second register
  auto c = point(mb::PointType::u16);
  c.address = 2;
  std::vector<mb::PointDef> pts = {a, b, c};
  auto reqs = mb::coalesce(pts, mb::RegisterFunction::holding, 125);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].start, 2);
  EXPECT_EQ(reqs[0].count, 10);
  EXPECT_EQ(reqs[0].points.front(), 2u);
}

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
