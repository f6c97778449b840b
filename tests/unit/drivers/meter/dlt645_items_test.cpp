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

TEST(Dlt645DataItems, TariffRegistersAreTheirOwnQuantitiesNeverBilled) {
  // DI1 is the tariff (DL/T 645-2007 A.1): 00010100..00010400 forward active energy of tariffs
  // 1-4 (尖 峰 平 谷); 1997: 9011..9014, reverse 9021..9024.
  std::vector<d::dlt645::DataItem> items;
  auto err = d::dlt645::parse_data_items(dlt::Version::v2007,
                                         "00010000 00010100 00010400 00020300", items);
  ASSERT_FALSE(err) << err->message;
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[1].quantity, d::Quantity::active_energy_import_t1);
  EXPECT_EQ(items[2].quantity, d::Quantity::active_energy_import_t4);
  EXPECT_EQ(items[3].quantity, d::Quantity::active_energy_export_t3);
  EXPECT_TRUE(items[0].billed);
  EXPECT_FALSE(items[1].billed || items[2].billed || items[3].billed);
  err = d::dlt645::parse_data_items(dlt::Version::v1997, "9010 9012 9024", items);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(items[1].quantity, d::Quantity::active_energy_import_t2);
  EXPECT_EQ(items[2].quantity, d::Quantity::active_energy_export_t4);
  // The codec knows each one's format: 4 bytes BCD, 2 decimals, kWh, like the total.
  for (std::uint32_t di : {0x00010100u, 0x00020400u}) {
    auto info = dlt::lookup_di(dlt::Version::v2007, di);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->unit, "kWh");
    EXPECT_EQ(info->size, 4);
    EXPECT_EQ(info->decimals, 2);
  }
  // Tariff 5 has no vocabulary entry: refused where the site lists it.
  err = d::dlt645::parse_data_items(dlt::Version::v2007, "00010500", items);
  ASSERT_TRUE(err);
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
