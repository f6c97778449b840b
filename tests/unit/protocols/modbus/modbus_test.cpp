// Modbus register maps: testdata (registers + model -> expected JSON), exact point decoding for
// every type and word order (scale and offset as exact decimals, floats as their shortest
// round-trip decimal, overflow as an error), and request coalescing. The model registry's own
// tests are in tests/unit/drivers/meter/model_registry_test.cpp.
#include <gtest/gtest.h>

#include <bit>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "daemon/cli/decode/modbus_json.hpp"
#include "drivers/meter/reading.hpp"
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

// The exact decimal text of a decoded point (drivers::Decimal prints mantissa x 10^exponent
// without exponent notation), or the error message.
std::string text(const estate::protocols::Result<mb::Decimal>& r) {
  if (!r) return "error: " + r.error().message;
  return estate::drivers::Decimal{r->mantissa, r->exponent}.to_string();
}

template <class Float, class Bits>
std::vector<std::uint16_t> registers_of(Float f) {
  const auto bits = std::bit_cast<Bits>(f);
  std::vector<std::uint16_t> regs;
  for (int shift = static_cast<int>(sizeof(Bits)) * 8 - 16; shift >= 0; shift -= 16) {
    regs.push_back(static_cast<std::uint16_t>(bits >> shift));
  }
  return regs;
}

TEST(ModbusDecode, EveryTypeAndWordOrder) {
  const std::uint16_t f32[] = {0x4366, 0x3333};  // the float32 nearest 230.2
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::float32), f32)), "230.2");
  const std::uint16_t f32_swapped[] = {0x3333, 0x4366};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::float32, mb::WordOrder::low_first),
                                  f32_swapped)),
            "230.2");
  // The SDM120 capture (testdata/README.md) is one step above that float: its shortest
  // decimal has one digit more.
  const std::uint16_t captured[] = {0x4366, 0x3334};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::float32), captured)), "230.20001");
  const std::uint16_t s16[] = {0xFFFE};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::s16), s16)), "-2");
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::u16), s16)), "65534");
  const std::uint16_t s32[] = {0xFFFF, 0xFE0C};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::s32), s32)), "-500");
  const std::uint16_t s32_swapped[] = {0xFE0C, 0xFFFF};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::s32, mb::WordOrder::low_first),
                                  s32_swapped)),
            "-500");
  const std::uint16_t u64[] = {0x0000, 0x0001, 0x0000, 0x0000};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::u64), u64)), "4294967296");
  const std::uint16_t u64_max[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE};  // above int64's range
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::u64), u64_max)),
            "error: p: raw value x scale + offset does not fit a 64-bit decimal");
  const std::uint16_t f64[] = {0x4059, 0x0000, 0x0000, 0x0000};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::float64), f64)), "100");
  const std::uint16_t bcd[] = {0x1234, 0x5678};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::bcd32), bcd)), "12345678");
  const std::uint16_t bcd_swapped[] = {0x5678, 0x1234};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::bcd32, mb::WordOrder::low_first),
                                  bcd_swapped)),
            "12345678");
  const std::uint16_t bcd16[] = {0x0950};
  EXPECT_EQ(text(mb::decode_point(point(mb::PointType::bcd16), bcd16)), "950");
}

TEST(ModbusDecode, IntegerTimesScaleIsExact) {
  const std::uint16_t u32[] = {0x0001, 0xE240};  // 123456
  auto energy = point(mb::PointType::u32);
  energy.scale = {1, -2};  // 0.01 as the model file writes it
  auto v = mb::decode_point(energy, u32);
  ASSERT_TRUE(v.ok()) << v.error().describe();
  EXPECT_EQ(v->mantissa, 123456);
  EXPECT_EQ(v->exponent, -2);
  EXPECT_EQ(text(v), "1234.56");
  // The scale's decimals are the meter's resolution and are kept: 123400 is 1234.00.
  const std::uint16_t round[] = {0x0001, 0xE208};
  EXPECT_EQ(text(mb::decode_point(energy, round)), "1234.00");
  // A double would give 1234.5600000000002 for 123456 * 0.01 + 0; the digits here are the
  // register's, even for a value past 2^53.
  const std::uint16_t big[] = {0x0163, 0x4578, 0x5D8A, 0x0001};  // 10^17 + 1
  auto wide = point(mb::PointType::u64);
  wide.scale = {1, -3};
  EXPECT_EQ(text(mb::decode_point(wide, big)), "100000000000000.001");
  // A BCD counter with a scale.
  const std::uint16_t bcd[] = {0x0012, 0x3450};
  auto bcd_energy = point(mb::PointType::bcd32);
  bcd_energy.scale = {1, -2};
  EXPECT_EQ(text(mb::decode_point(bcd_energy, bcd)), "1234.50");
}

TEST(ModbusDecode, SignedRawAndNegativeOffset) {
  // A temperature sensor: value = raw x 0.1 - 40.
  auto temperature = point(mb::PointType::s16);
  temperature.scale = {1, -1};
  temperature.offset = {-40, 0};
  const std::uint16_t warm[] = {650};
  EXPECT_EQ(text(mb::decode_point(temperature, warm)), "25.0");
  const std::uint16_t below_zero[] = {0xFF83};  // s16 -125: -12.5 - 40
  EXPECT_EQ(text(mb::decode_point(temperature, below_zero)), "-52.5");
  const std::uint16_t zero[] = {400};
  EXPECT_EQ(text(mb::decode_point(temperature, zero)), "0.0");
  // An offset finer than the scale sets the decimals.
  auto fine = point(mb::PointType::s16);
  fine.offset = {-25, -2};
  const std::uint16_t minus_three[] = {0xFFFD};
  EXPECT_EQ(text(mb::decode_point(fine, minus_three)), "-3.25");
  // A negative scale (a meter that counts export as positive).
  auto inverted = point(mb::PointType::s32);
  inverted.scale = {-1, -3};
  const std::uint16_t s32[] = {0xFFFF, 0xFE0C};  // -500
  EXPECT_EQ(text(mb::decode_point(inverted, s32)), "0.500");
}

TEST(ModbusDecode, FloatIsItsShortestRoundTripDecimal) {
  // 230.1f is 230.100006103515625; printed with 9 digits it would be 230.100006.
  ASSERT_NE(static_cast<double>(230.1f), 230.1);
  auto voltage = point(mb::PointType::float32);
  EXPECT_EQ(text(mb::decode_point(voltage, registers_of<float, std::uint32_t>(230.1f))), "230.1");
  EXPECT_EQ(text(mb::decode_point(voltage, registers_of<float, std::uint32_t>(-0.3f))), "-0.3");
  EXPECT_EQ(text(mb::decode_point(voltage, registers_of<float, std::uint32_t>(0.0f))), "0");
  EXPECT_EQ(text(mb::decode_point(voltage, registers_of<float, std::uint32_t>(12345.5f))),
            "12345.5");
  // 1500.0f reads back from "1.5e+03"; it is kept as the integer 1500.
  auto power = mb::decode_point(voltage, registers_of<float, std::uint32_t>(1500.0f));
  ASSERT_TRUE(power.ok());
  EXPECT_EQ(power->mantissa, 1500);
  EXPECT_EQ(power->exponent, 0);
  // Too large for a 64-bit integer: kept as 1 x 10^30, still exact.
  auto huge = mb::decode_point(voltage, registers_of<float, std::uint32_t>(1e30f));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->mantissa, 1);
  EXPECT_EQ(huge->exponent, 30);
  // The scale applies to the decimal, not the binary value: a CHINT DTSU666 sends 2302 (0.1 V).
  auto dtsu = point(mb::PointType::float32);
  dtsu.scale = {1, -1};
  EXPECT_EQ(text(mb::decode_point(dtsu, registers_of<float, std::uint32_t>(2302.0f))), "230.2");
  dtsu.scale = {1, -3};
  EXPECT_EQ(text(mb::decode_point(dtsu, registers_of<float, std::uint32_t>(1234.0f))), "1.234");
  auto f64 = point(mb::PointType::float64);
  EXPECT_EQ(text(mb::decode_point(f64, registers_of<double, std::uint64_t>(0.1))), "0.1");
  EXPECT_EQ(text(mb::decode_point(f64, registers_of<double, std::uint64_t>(123456.789012))),
            "123456.789012");
  // NaN and infinities are errors, not values.
  EXPECT_EQ(text(mb::decode_point(voltage, registers_of<float, std::uint32_t>(
                                               std::numeric_limits<float>::infinity()))),
            "error: p: not a finite number");
  EXPECT_FALSE(mb::decode_point(f64, registers_of<double, std::uint64_t>(
                                         -std::numeric_limits<double>::infinity()))
                   .ok());
  EXPECT_FALSE(mb::decode_point(f64, registers_of<double, std::uint64_t>(
                                         std::numeric_limits<double>::quiet_NaN()))
                   .ok());
}

TEST(ModbusDecode, OverflowIsAnErrorNamingThePoint) {
  // u64 above int64's range with nothing to give up: no trailing zero.
  auto counter = point(mb::PointType::u64);
  counter.name = "import_active_energy";
  const std::uint16_t max[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
  auto r = mb::decode_point(counter, max);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("import_active_energy: ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("does not fit a 64-bit decimal"), std::string::npos);
  // In range raw, but the scale makes the mantissa too wide: 2^62 x 3 (scale 0.3).
  counter.scale = {3, -1};
  const std::uint16_t quarter[] = {0x4000, 0x0000, 0x0000, 0x0000};
  EXPECT_FALSE(mb::decode_point(counter, quarter).ok());
  // A value above 2^63 that ends in zeros is exact with a larger exponent: 10^19.
  counter.scale = {1, 0};
  const std::uint16_t ten_19[] = {0x8AC7, 0x2304, 0x89E8, 0x0000};
  auto big = mb::decode_point(counter, ten_19);
  ASSERT_TRUE(big.ok()) << big.error().describe();
  EXPECT_EQ(text(big), "10000000000000000000");
  // An offset with 19 decimals: 1 + 10^-19 needs 10^19 + 1 as mantissa.
  auto fine = point(mb::PointType::u16);
  fine.name = "fine";
  fine.offset = {1, -19};
  const std::uint16_t one[] = {1};
  EXPECT_EQ(text(mb::decode_point(fine, one)),
            "error: fine: raw value x scale + offset does not fit a 64-bit decimal");
  // Through decode_registers: the whole block fails, naming the point and its byte offset.
  mb::ModelDef model;
  model.name = "m";
  model.points.push_back(point(mb::PointType::u16));
  model.points.back().name = "ok";
  auto bad = point(mb::PointType::u64);
  bad.name = "energy";
  bad.address = 1;
  model.points.push_back(bad);
  const std::uint16_t block[] = {7, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
  auto all = mb::decode_registers(model, 0, block);
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.error().message.rfind("energy: ", 0), 0u);
  EXPECT_EQ(all.error().offset, 2u);
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

TEST(ModbusDecode, DisplayJsonIsTheDecimalAsANumber) {
  using estate::cli::modbus_value_json;
  EXPECT_EQ(modbus_value_json({123456, -2}).dump(), "1234.56");
  EXPECT_EQ(modbus_value_json({2301, -1}).dump(), "230.1");
  EXPECT_EQ(modbus_value_json({-2, 0}).dump(), "-2");
  EXPECT_TRUE(modbus_value_json({1500, 0}).is_number_integer());
  EXPECT_EQ(modbus_value_json({100, -2}).dump(), "1.0");
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
