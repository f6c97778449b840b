// Modbus RTU master over a scripted byte stream: registers and bits read, an answer in pieces,
// the t3.5 gap between frames, and every way an answer can be wrong (no answer, cut short,
// bad CRC, another unit, another function, wrong byte count, an exception) with the error code
// and counter libmodbus's wrapper gives for it; the line recovers after each; arguments out of
// range send nothing; a lost connection is `closed`; writes and broadcasts.
#include <gtest/gtest.h>

#include <modbus/modbus.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include "daemon/config/site_config.hpp"
#include "drivers/meter/meter_driver.hpp"
#include "drivers/transports/modbus_rtu_master.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/modbus/rtu.hpp"
#include "tests/unit/drivers/transports/scripted_stream.hpp"

namespace estate::drivers {
namespace {

namespace asio = boost::asio;
namespace rtu = protocols::modbus::rtu;
using boost::system::error_code;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using test_support::ScriptedStream;

Bytes hex(const std::string& text) { return *protocols::parse_hex(text); }

class RtuMasterTest : public ::testing::Test {
 protected:
  explicit RtuMasterTest(std::chrono::nanoseconds gap = 0ns) : strand_(asio::make_strand(io_)) {
    auto s = std::make_unique<ScriptedStream>(strand_);
    stream_ = s.get();
    LinkOptions o;
    o.answer_timeout = 150ms;
    o.char_timeout = 60ms;
    o.min_gap = gap;
    o.reconnect_base = 300ms;
    o.reconnect_cap = 1000ms;
    link_ = std::make_unique<Link>(strand_, std::move(s), o, 42);
    master_ = std::make_unique<ModbusRtuMaster>(*link_);
  }

  error_code read(int unit, ModbusTable table, int address, int count, std::vector<std::uint16_t>& out) {
    return run([&]() -> asio::awaitable<error_code> {
      co_return co_await master_->read(unit, table, address, count, out);
    });
  }
  error_code write(int unit, ModbusTable table, int address, std::uint16_t value) {
    return run([&]() -> asio::awaitable<error_code> {
      co_return co_await master_->write_single(unit, table, address, value);
    });
  }
  template <class F>
  error_code run(F f) {
    auto fut = asio::co_spawn(strand_, f(), asio::use_future);
    io_.restart();
    io_.run();
    return fut.get();
  }
  void reply(Bytes b, std::chrono::milliseconds after = 5ms) { stream_->replies.push_back({{after, b}}); }
  // Reads two input registers from unit 1 and expects the SDM630's 230.5 V.
  void expect_good_read() {
    reply(hex("010404436680006fdf"));
    std::vector<std::uint16_t> regs;
    ASSERT_FALSE(read(1, ModbusTable::input_registers, 0, 2, regs));
    EXPECT_EQ(regs, (std::vector<std::uint16_t>{0x4366, 0x8000}));
  }
  struct Counts {
    std::uint64_t requests, timeouts, crc, errors;
    bool operator==(const Counts&) const = default;
  };
  Counts counts() const {
    const auto& c = master_->counters();
    return {c.requests.load(), c.timeouts.load(), c.checksum_errors.load(), c.errors.load()};
  }

  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_;
  ScriptedStream* stream_ = nullptr;
  std::unique_ptr<Link> link_;
  std::unique_ptr<ModbusRtuMaster> master_;
};

TEST_F(RtuMasterTest, ReadsRegistersAndBits) {
  expect_good_read();
  EXPECT_EQ(stream_->written, (std::vector<Bytes>{hex("01040000000271cb")}));
  // The same answer in three pieces, as a device server may pass it on.
  const auto answer = hex("010404436680006fdf");
  stream_->replies.push_back({{5ms, Bytes(answer.begin(), answer.begin() + 2)},
                              {20ms, Bytes(answer.begin() + 2, answer.begin() + 3)},
                              {20ms, Bytes(answer.begin() + 3, answer.end())}});
  std::vector<std::uint16_t> regs;
  ASSERT_FALSE(read(1, ModbusTable::input_registers, 0, 2, regs));
  EXPECT_EQ(regs, (std::vector<std::uint16_t>{0x4366, 0x8000}));
  reply(hex("01010102d049"));
  ASSERT_FALSE(read(1, ModbusTable::coils, 0, 3, regs));
  EXPECT_EQ(regs, (std::vector<std::uint16_t>{0, 1, 0}));
  EXPECT_EQ(stream_->written.back(), rtu::read_request(1, rtu::kReadCoils, 0, 3));
  EXPECT_EQ(counts(), (Counts{3, 0, 0, 0}));
  EXPECT_EQ(master_->describe(), "modbus rtu over scripted");
}

TEST_F(RtuMasterTest, NoAnswerIsATimeout) {
  std::vector<std::uint16_t> regs{1};
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read(9, ModbusTable::holding_registers, 0, 1, regs), TransportError::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_TRUE(regs.empty());
  EXPECT_EQ(counts(), (Counts{1, 1, 0, 0}));
  expect_good_read();
}

TEST_F(RtuMasterTest, AnswerCutShortIsAFrameError) {
  reply(hex("0104044366"));
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::frame_error);
  EXPECT_EQ(counts(), (Counts{1, 0, 0, 1}));
  expect_good_read();
}

TEST_F(RtuMasterTest, GarbledAnswerIsACrcErrorAndItsTailIsFlushed) {
  // A flipped bit, then the rest of the line noise: none of it is taken for the next answer.
  stream_->replies.push_back({{5ms, hex("010404436690006fdf")}, {20ms, hex("0104")}});
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::checksum_error);
  EXPECT_EQ(counts(), (Counts{1, 0, 1, 0}));
  expect_good_read();
  EXPECT_EQ(counts(), (Counts{2, 0, 1, 0}));
}

TEST_F(RtuMasterTest, AnswerFromAnotherUnitIsABadAnswer) {
  reply(rtu::frame(2, hex("040443668000")));
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::bad_answer);
  EXPECT_TRUE(regs.empty());
  EXPECT_EQ(counts(), (Counts{1, 0, 0, 1}));
  expect_good_read();
}

TEST_F(RtuMasterTest, WrongFunctionOrByteCountIsAFrameError) {
  std::vector<std::uint16_t> regs;
  reply(rtu::frame(1, hex("030443668000")));
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::frame_error);
  reply(rtu::frame(1, hex("04024366")));
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::frame_error);
  EXPECT_EQ(counts(), (Counts{2, 0, 0, 2}));
  expect_good_read();
}

TEST_F(RtuMasterTest, ExceptionAnswersMapAsLibmodbusErrno) {
  std::vector<std::uint16_t> regs;
  reply(hex("018402c2c1"));
  const auto ec = read(1, ModbusTable::input_registers, 400, 2, regs);
  EXPECT_EQ(ec, modbus_error(EMBXILADD));
  EXPECT_EQ(&ec.category(), &modbus_category());
  EXPECT_EQ(ec.message(), modbus_strerror(EMBXILADD));
  EXPECT_TRUE(is_device_fault(ec));
  EXPECT_EQ(counts(), (Counts{1, 0, 0, 1}));
  // A code the standard does not define: libmodbus's EMBBADEXC, a frame error.
  reply(rtu::frame(1, hex("8463")));
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::frame_error);
  EXPECT_EQ(modbus_exception_error(0x63), modbus_error(EMBBADEXC));
  EXPECT_EQ(modbus_exception_error(1), modbus_error(EMBXILFUN));
  expect_good_read();
}

TEST_F(RtuMasterTest, ArgumentsOutOfRangeSendNothing) {
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read(0, ModbusTable::holding_registers, 0, 1, regs), TransportError::unsupported);
  EXPECT_EQ(read(248, ModbusTable::holding_registers, 0, 1, regs), TransportError::unsupported);
  EXPECT_EQ(read(1, ModbusTable::holding_registers, 0, 126, regs), TransportError::unsupported);
  EXPECT_EQ(read(1, ModbusTable::coils, 0, 2001, regs), TransportError::unsupported);
  EXPECT_EQ(read(1, ModbusTable::holding_registers, 65535, 2, regs), TransportError::unsupported);
  EXPECT_EQ(write(1, ModbusTable::input_registers, 0, 1), TransportError::unsupported);
  EXPECT_TRUE(stream_->written.empty());
  EXPECT_EQ(counts(), (Counts{0, 0, 0, 0}));
}

TEST_F(RtuMasterTest, LostConnectionIsClosedAndNotRetriedBeforeTheBackoff) {
  expect_good_read();
  stream_->fail_next_read = true;
  reply(hex("010404436680006fdf"));
  std::vector<std::uint16_t> regs;
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::closed);
  EXPECT_EQ(counts(), (Counts{2, 0, 0, 1}));
  // Within the reconnect backoff nothing is sent and nothing counted.
  EXPECT_EQ(read(1, ModbusTable::input_registers, 0, 2, regs), TransportError::not_connected);
  EXPECT_EQ(counts(), (Counts{2, 0, 0, 1}));
  EXPECT_EQ(stream_->opens, 1);
}

TEST_F(RtuMasterTest, WritesAreCheckedAgainstTheirEchoAndBroadcastsAwaitNothing) {
  const auto req = rtu::write_single_request(1, rtu::kWriteSingleCoil, 1, 1);
  reply(req);
  EXPECT_FALSE(write(1, ModbusTable::coils, 1, 1));
  reply(rtu::frame(1, hex("050001ff01")));
  EXPECT_EQ(write(1, ModbusTable::coils, 1, 1), TransportError::frame_error);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(write(0, ModbusTable::holding_registers, 3, 7));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_EQ(stream_->written.back(), rtu::write_single_request(0, rtu::kWriteSingleRegister, 3, 7));
  EXPECT_EQ(counts(), (Counts{3, 0, 0, 1}));
}

class RtuMasterGapTest : public RtuMasterTest {
 protected:
  RtuMasterGapTest() : RtuMasterTest(rtu::t35(1200, 11)) {}
};

TEST_F(RtuMasterGapTest, FramesAreKeptT35Apart) {
  // 1200 baud 8E1: t3.5 = 32 ms of silence after the answer before the next request.
  expect_good_read();
  expect_good_read();
  ASSERT_EQ(stream_->written_at.size(), 2u);
  EXPECT_GE(stream_->written_at[1] - stream_->written_at[0], 5ms + rtu::t35(1200, 11));
}

TEST(RtuLinkOptions, FromTheBusConfig) {
  config::BusConfig b;
  b.kind = config::BusKind::rtu_over_tcp;
  b.protocol = config::Protocol::modbus;
  b.baud = 9600;
  b.parity = 'N';
  b.timeout = 300ms;
  ASSERT_EQ(config::to_string(b.kind), "rtu_over_tcp");
  auto o = link_options(b);
  EXPECT_EQ(o.answer_timeout, 300ms);  // the bus timeout, as libmodbus's response timeout
  EXPECT_EQ(o.min_gap, rtu::t35(9600, 10));
  EXPECT_GE(o.char_timeout, 200ms);    // a device server may split a frame over TCP segments
  b.inter_frame_gap = 50ms;
  EXPECT_EQ(link_options(b).min_gap, 50ms);
}

}  // namespace
}  // namespace estate::drivers
