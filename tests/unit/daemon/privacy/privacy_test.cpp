// Keyed hashes (HMAC-SHA256 checked against Python's hmac), masks, key files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "daemon/privacy/key_file.hpp"
#include "daemon/privacy/privacy.hpp"

namespace estate::privacy {
namespace {

namespace fs = std::filesystem;

Key test_key() {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i + 1);
  return k;
}

class KeyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("estate-privacy-test-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& bytes, mode_t mode = 0600) {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    ::chmod(p.c_str(), mode);
    return p;
  }
  fs::path dir_;
};

TEST(KeyedHash, IsHmacSha256OverKindAndNormalizedValue) {
  // Python: hmac.new(bytes(range(1,33)), b"estate-edge/card_uid\0" + b"04A31F5C",
  //                  hashlib.sha256).hexdigest()
  EXPECT_EQ(card_uid_hash(test_key(), "04:a3:1f:5c"),
            "3055c1724979af0d469d0495dd8f42cae26260468e28104b886803fae0702f25");
}

TEST(KeyedHash, SameValueSameHashDifferentKindOrKeyDifferent) {
  auto k = test_key();
  EXPECT_EQ(card_uid_hash(k, "04 A3 1F 5C"), card_uid_hash(k, "04-a3-1f-5c"));
  EXPECT_EQ(plate_hash(k, "粤b·12345"), plate_hash(k, "粤B 12345"));
  EXPECT_NE(keyed_hash(k, "card_uid", "ABC"), keyed_hash(k, "plate", "ABC"));
  Key other = k;
  other[0] ^= 1;
  EXPECT_NE(plate_hash(k, "粤B12345"), plate_hash(other, "粤B12345"));
  EXPECT_EQ(plate_hash(k, "粤B12345").size(), 64u);
  EXPECT_TRUE(hash_equals(plate_hash(k, "粤B12345"), plate_hash(k, "粤b12345")));
  EXPECT_FALSE(hash_equals("abc", "abd"));
  EXPECT_FALSE(hash_equals("abc", "ab"));
}

TEST(Normalize, CardsAndPlates) {
  EXPECT_EQ(normalize_card_uid("04:a3:1f:5c"), "04A31F5C");
  EXPECT_EQ(normalize_card_uid(" 0012345678 "), "0012345678");
  EXPECT_EQ(normalize_plate("粤b·12345"), "粤B12345");
  EXPECT_EQ(normalize_plate("京A-D1234 5"), "京AD12345");
  EXPECT_EQ(normalize_plate("沪C•88888"), "沪C88888");
}

TEST(Mask, Names) {
  EXPECT_EQ(mask_name("张三"), "张*");
  EXPECT_EQ(mask_name("张三丰"), "张*丰");
  EXPECT_EQ(mask_name("欧阳娜娜"), "欧**娜");
  EXPECT_EQ(mask_name("李"), "*");
  EXPECT_EQ(mask_name("John Smith"), "J**n S***h");
  EXPECT_EQ(mask_name(""), "");
  EXPECT_EQ(mask_name("\xff\xfe"), "***");
}

TEST(Mask, CardsPlatesPhones) {
  EXPECT_EQ(mask_card("6222021234565678"), "****5678");
  EXPECT_EQ(mask_card("04:a3:1f:5c"), "****1F5C");
  EXPECT_EQ(mask_card("123"), "****");
  EXPECT_EQ(mask_plate("粤B12345"), "粤B***45");
  EXPECT_EQ(mask_plate("粤BD12345"), "粤B****45");
  EXPECT_EQ(mask_plate("粤b·12345"), "粤B***45");
  EXPECT_EQ(mask_plate("AB1"), "A**");
  EXPECT_EQ(mask_phone("13812345678"), "138****5678");
  EXPECT_EQ(mask_phone("138-1234-5678"), "138****5678");
  EXPECT_EQ(mask_phone("85551234"), "****1234");
  EXPECT_EQ(mask_phone("123"), "***");
}

TEST_F(KeyFiles, ReadsRawAndHex) {
  std::string raw(32, '\0');
  for (int i = 0; i < 32; ++i) raw[i] = static_cast<char>(i + 1);
  EXPECT_EQ(read_key_file(write("raw", raw)), test_key());
  EXPECT_EQ(read_key_file(write("hex", "0102030405060708090a0b0c0d0e0f10"
                                       "1112131415161718191A1B1C1D1E1F20\n")),
            test_key());
}

TEST_F(KeyFiles, RefusesBadFiles) {
  auto msg = [](const fs::path& p) {
    try {
      read_key_file(p);
    } catch (const KeyFileError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg(write("short", "abc")).find("expected 32 raw bytes or 64 hex digits"),
            std::string::npos);
  EXPECT_NE(msg(write("nothex", std::string(64, 'g'))).find("not hex"), std::string::npos);
  EXPECT_NE(msg(write("zero", std::string(32, '\0'))).find("all zero"), std::string::npos);
  EXPECT_NE(msg(write("open", std::string(64, 'a'), 0644)).find("chmod 600"), std::string::npos);
  // Readable by the group is refused too, naming the file, its mode and the fix.
  const auto grp = write("group", std::string(64, 'a'), 0640);
  EXPECT_EQ(msg(grp), "key file " + grp.string() + " is accessible by its group (mode 640): chmod 600 " +
                          grp.string());
  EXPECT_EQ(msg(write("owner-only", std::string(64, 'a'), 0400)), "no error");
  EXPECT_NE(msg(dir_ / "missing").find("No such file"), std::string::npos);
  // The key's bytes never appear in an error.
  EXPECT_EQ(msg(write("nothex2", std::string(63, 'a') + "z")).find("aaaa"), std::string::npos);
}

TEST(KeyId, StableAndPurposeBound) {
  auto k = test_key();
  EXPECT_EQ(key_id(k, "p"), key_id(k, "p"));
  EXPECT_NE(key_id(k, "p"), key_id(k, "q"));
  EXPECT_EQ(key_id(k, "p").size(), 16u);
}

}  // namespace
}  // namespace estate::privacy
