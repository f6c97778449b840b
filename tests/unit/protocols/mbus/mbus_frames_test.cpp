// The generic frame test for M-Bus: every protocols/mbus/testdata/*.hex is decoded the way
// `estate-edge decode mbus` does it and compared with the *.json beside it. A *.json holding
// {"error": "..."} expects decoding to fail with exactly that message.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/cli/decode/mbus_json.hpp"
#include "protocols/common/hex.hpp"

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path testdata() { return fs::path(ESTATE_EDGE_SOURCE_DIR) / "protocols/mbus/testdata"; }

std::vector<fs::path> frames() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(testdata())) {
    if (e.path().extension() == ".hex") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(MbusFrames, EveryCapturedFrameDecodesToItsExpectedJson) {
  const auto files = frames();
  ASSERT_GE(files.size(), 10u) << "testdata holds too few frames";
  for (const auto& hex_path : files) {
    SCOPED_TRACE(hex_path.filename().string());
    auto json_path = hex_path;
    json_path.replace_extension(".json");
    ASSERT_TRUE(fs::exists(json_path)) << "no expected JSON beside " << hex_path;
    const auto expected = nlohmann::json::parse(slurp(json_path));
    auto bytes = estate::protocols::parse_hex(slurp(hex_path));
    ASSERT_TRUE(bytes.ok()) << bytes.error().describe();
    auto got = estate::cli::decode_mbus_json(*bytes, {});
    if (expected.contains("error")) {
      ASSERT_FALSE(got.ok()) << "decoded although an error was expected: " << got->dump();
      EXPECT_EQ(got.error().describe(), expected["error"].get<std::string>());
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.error().describe();
    // Compare as unordered JSON so key order does not matter; numbers round-trip exactly.
    const auto actual = nlohmann::json::parse(got->dump());
    EXPECT_EQ(actual, expected) << "got:\n" << got->dump(2);
  }
}

TEST(MbusFrames, TestdataHasSeveralManufacturersAndMalformedFrames) {
  std::set<std::string> manufacturers;
  int malformed = 0;
  for (const auto& hex_path : frames()) {
    auto json_path = hex_path;
    json_path.replace_extension(".json");
    const auto j = nlohmann::json::parse(slurp(json_path));
    if (j.contains("error")) ++malformed;
    if (j.contains("header") && j["header"].contains("manufacturer")) {
      manufacturers.insert(j["header"]["manufacturer"].get<std::string>());
    }
  }
  EXPECT_GE(manufacturers.size(), 6u);
  EXPECT_GE(malformed, 3);
}

}  // namespace
