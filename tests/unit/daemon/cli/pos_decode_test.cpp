// `estate-edge decode pos` on the frames of protocols/pos/testdata: what a technician sees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/cli/decode/pos_json.hpp"
#include "protocols/common/hex.hpp"

namespace estate::cli {
namespace {

protocols::Bytes frame(const std::string& name) {
  std::ifstream in(std::filesystem::path(ESTATE_EDGE_SOURCE_DIR) / "protocols/pos/testdata" /
                   (name + ".hex"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto b = protocols::parse_hex(ss.str().substr(0, ss.str().find('\n')));
  EXPECT_TRUE(b) << name;
  return b ? *b : protocols::Bytes{};
}

TEST(PosDecode, AnswerWithItsResultClass) {
  auto j = decode_pos_json(frame("sale_response_approved"), {});
  ASSERT_TRUE(j) << j.error().describe();
  EXPECT_EQ((*j)["protocol"], "transbank-integrado");
  EXPECT_EQ((*j)["command"], "0210");
  EXPECT_EQ((*j)["message"], "sale response");
  EXPECT_EQ((*j)["fields"]["ticket"], "E00001");
  EXPECT_EQ((*j)["fields"]["amount"], "700");
  EXPECT_EQ((*j)["result"]["class"], "approved");
  auto odd = decode_pos_json(frame("sale_response_undocumented_code"), {});
  ASSERT_TRUE(odd);
  EXPECT_EQ((*odd)["result"]["class"], "unknown");
  EXPECT_EQ((*odd)["result"]["meaning"], "not in the protocol's table");
  auto none = decode_pos_json(frame("last_sale_response_no_sale"), {});
  ASSERT_TRUE(none);
  EXPECT_EQ((*none)["result"]["class"], "not_found");
  auto voided = decode_pos_json(frame("void_response_already_voided"), {});
  ASSERT_TRUE(voided);
  EXPECT_EQ((*voided)["result"]["class"], "approved");
}

TEST(PosDecode, ControlBytesBadFramesAndCardNumbers) {
  auto ack = decode_pos_json(protocols::Bytes{0x06}, {});
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["control"], "ACK");
  auto bad = decode_pos_json(frame("bad_lrc_sale_response_sdk"), {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().describe().find("bad LRC"), std::string::npos);
  DecodeOptions o;
  o.model = "generic";
  EXPECT_FALSE(decode_pos_json(frame("poll_request"), o));
  // A debit answer whose account field holds the whole card number prints it masked.
  std::string data = "0260|00|597029414300|75001089|E00002|181278|2500|0||1234|000002|DB||"
                     "6222021234567891234|VI|05122026|101500|0|0|";
  protocols::Bytes f{0x02};
  f.insert(f.end(), data.begin(), data.end());
  f.push_back(0x03);
  std::uint8_t x = 0;
  for (std::size_t i = 1; i < f.size(); ++i) x ^= f[i];
  f.push_back(x);
  auto j = decode_pos_json(f, {});
  ASSERT_TRUE(j) << j.error().describe();
  EXPECT_EQ((*j)["fields"]["account"], "622202*********1234");
  EXPECT_EQ(j->dump().find("6222021234567891234"), std::string::npos);
}

}  // namespace
}  // namespace estate::cli
