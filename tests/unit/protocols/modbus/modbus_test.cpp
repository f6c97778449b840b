// Modbus register maps: testdata (registers + model -> expected JSON), point decoding for every
// type and word order, and request coalescing. The model registry's own tests are in
// tests/unit/drivers/meter/model_registry_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/cli/decode/modbus_json.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/modbus/register_map.hpp"

namespace {

namespace mb = estate::protocols::modbus;

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

}  // namespace
