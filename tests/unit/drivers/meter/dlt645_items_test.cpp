// The DL/T 645 data items a site may poll (options.data_items): parsed, checked against the
// standard's tables, each mapped to one quantity of the vocabulary.
#include <gtest/gtest.h>

#include "drivers/meter/dlt645_meter.hpp"

namespace {

namespace d = estate::drivers;
namespace dlt = estate::protocols::dlt645;

TEST(Dlt645DataItems, ListMapsToQuantities) {
  std::vector<d::dlt645::DataItem> items;
  auto err = d::dlt645::parse_data_items(dlt::Version::v2007,
                                         "00010000, 00020000,02010100 02020100,02030000", items);
  ASSERT_FALSE(err) << err->message;
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].quantity, d::Quantity::active_energy_import);
  EXPECT_TRUE(items[0].billed);
  EXPECT_EQ(items[1].quantity, d::Quantity::active_energy_export);
  EXPECT_FALSE(items[1].billed);
  EXPECT_EQ(items[2].quantity, d::Quantity::voltage_l1);
  EXPECT_EQ(items[3].quantity, d::Quantity::current_l1);
  EXPECT_EQ(items[4].quantity, d::Quantity::active_power);
  err = d::dlt645::parse_data_items(dlt::Version::v1997, "9010,B611,B621,B630", items);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(items[1].quantity, d::Quantity::voltage_l1);
}

TEST(Dlt645DataItems, BadItemsNamedWithTheirPlace) {
  std::vector<d::dlt645::DataItem> items;
  auto err = d::dlt645::parse_data_items(dlt::Version::v2007, "00010000,02019900", items);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->offset, 9u);
  EXPECT_NE(err->message.find("item 2 '02019900' is not a data item"), std::string::npos) << err->message;
  err = d::dlt645::parse_data_items(dlt::Version::v2007, "9010", items);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("8 hex digits"), std::string::npos) << err->message;
  err = d::dlt645::parse_data_items(dlt::Version::v2007, "00010000 00010000", items);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("listed twice"), std::string::npos);
  err = d::dlt645::parse_data_items(dlt::Version::v2007, " , ", items);
  ASSERT_TRUE(err);
  err = d::dlt645::parse_data_items(dlt::Version::v2007, "0001000G", items);
  ASSERT_TRUE(err);
}

}  // namespace
