#include <gtest/gtest.h>

#include <filesystem>

#include "daemon/record/readings.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/test_dir.hpp"

namespace estate::record {
namespace {

class ReadingsBatchTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = estate::testing::fresh_test_dir("estate-readings-batch-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

std::vector<Reading> sample() {
  std::vector<Reading> rs;
  Reading r;
  r.ts = "2026-11-23T10:00:00.000+08:00";
  r.meter = "m-1";
  r.medium = "electricity";
  r.quantity = "active_energy_import";
  r.value = drivers::Decimal{123450, -2};
  r.unit = "kWh";
  r.delta = drivers::Decimal{1000, -3};
  rs.push_back(r);
  r.quantity = "temperature";
  r.unit = "°C";  // UTF-8 left as is
  r.value = drivers::Decimal{-215, -1};
  r.delta.reset();
  r.quality = drivers::Quality::spike;
  rs.push_back(r);
  r.meter = "odd \"id\"\\\n\t\x01";  // every escape nlohmann writes
  r.unit = "V";
  r.quality = drivers::Quality::good;
  rs.push_back(r);
  r.meter = "heat-7";  // an M-Bus stored value with the meter's date
  r.quantity = "heat_energy";
  r.unit = "kWh";
  r.value = drivers::Decimal{4321, 0};
  r.storage = 1;
  r.meter_time = "2024-04-30";
  rs.push_back(r);
  r.quantity = "volume";  // a pulse input (subunit 2) of its tariff 3, stored
  r.unit = "m3";
  r.value = drivers::Decimal{1234, -2};
  r.tariff = 3;
  r.subunit = 2;
  rs.push_back(r);
  return rs;
}

TEST_F(ReadingsBatchTest, SameBytesAsOneByOneWithConsecutiveSeqsAndOneCountEach) {
  const auto rs = sample();
  std::vector<Appended> one, batch;
  {
    store::Store s(dir_);
    s.write_sync([&](store::Database& db) {
      for (const auto& r : rs) one.push_back(append(db, "gw", r));
      batch = append(db, "gw", rs);
    });
  }
  ASSERT_EQ(batch.size(), rs.size());
  for (std::size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(batch[i].seq, one.back().seq + 1 + static_cast<std::int64_t>(i));
    EXPECT_EQ(batch[i].id, "gw-" + std::to_string(batch[i].seq));
    // The same record but for id and seq.
    auto expected = one[i].payload;
    const auto from = "\"id\":\"" + one[i].id + "\",\"seq\":" + std::to_string(one[i].seq);
    const auto to = "\"id\":\"" + batch[i].id + "\",\"seq\":" + std::to_string(batch[i].seq);
    expected.replace(expected.find(from), from.size(), to);
    EXPECT_EQ(batch[i].payload, expected);
  }
  auto db = store::open_store(dir_, store::OpenMode::read_write_create);
  EXPECT_EQ(db.query_int("SELECT appended FROM stream_counts WHERE stream = 'readings'"), 10);
  EXPECT_EQ(db.query_int("SELECT value FROM counters WHERE name = 'outbox_seq'"), 10);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM outbox WHERE stream = 'readings' AND droppable = 1"), 10);
  auto st = db.prepare("SELECT payload FROM outbox WHERE seq = ?1");
  st.bind(1, batch[2].seq);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), batch[2].payload);
  EXPECT_NE(batch[2].payload.find(R"("meter":"odd \"id\"\\\n\t\u0001")"), std::string::npos);
  EXPECT_NE(batch[1].payload.find(R"("unit":"°C","quality":"spike"})"), std::string::npos);
  EXPECT_NE(batch[3].payload.find(R"("quality":"good","storage":1,"meter_time":"2024-04-30"})"),
            std::string::npos);
  EXPECT_NE(batch[4].payload.find(
                R"("unit":"m3","quality":"good","storage":1,"tariff":3,"subunit":2,"meter_time")"),
            std::string::npos)
      << batch[4].payload;
  for (const char* field : {"storage", "tariff", "subunit"}) {
    EXPECT_EQ(batch[0].payload.find(field), std::string::npos);  // current values: no field
  }
}

TEST_F(ReadingsBatchTest, AFailedJobTakesItsSeqsBack) {
  store::Store s(dir_);
  EXPECT_THROW(s.write_sync([&](store::Database& db) {
    append(db, "gw", sample());
    throw std::runtime_error("job fails after appending");
  }),
               std::runtime_error);
  std::vector<Appended> after;
  s.write_sync([&](store::Database& db) { after = append(db, "gw", sample()); });
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.front().seq, 1);  // no gap: the failed job's seqs were never given
}

}  // namespace
}  // namespace estate::record
