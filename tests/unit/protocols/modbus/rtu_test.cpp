// Modbus RTU framing: the CRC against the standard's check value and frames captured from a
// pymodbus 3.0 peer, request encoding, how much of the received bytes is the answer (whole,
// cut short, followed by more, exception, a function that answers nothing we asked), and the
// checks of a complete answer (CRC, unit, function, byte count, echo, exception code); the
// t1.5/t3.5 line timing.
#include <gtest/gtest.h>

#include "protocols/common/hex.hpp"
#include "protocols/modbus/rtu.hpp"

namespace {

namespace rtu = estate::protocols::modbus::rtu;
using Bytes = std::vector<std::uint8_t>;
using S = rtu::Answer::Status;

Bytes hex(const std::string& text) {
  auto b = estate::protocols::parse_hex(text);
  EXPECT_TRUE(b.ok()) << text;
  return b.ok() ? *b : Bytes{};
}

TEST(ModbusRtu, CrcCheckValueAndCapturedFrames) {
  const std::string check = "123456789";
  EXPECT_EQ(rtu::crc16(Bytes(check.begin(), check.end())), 0x4B37);  // CRC-16/MODBUS check
  // Answers of a pymodbus 3.0 server with the RTU framer: registers, exception, coil echo.
  for (const auto* f : {"010404436680006fdf", "018402c2c1", "01050001ff00ddfa", "01010102d049"}) {
    SCOPED_TRACE(f);
    const auto b = hex(f);
    const auto crc = rtu::crc16(std::span(b).first(b.size() - 2));
    EXPECT_EQ(crc & 0xFF, b[b.size() - 2]);
    EXPECT_EQ(crc >> 8, b[b.size() - 1]);
  }
}

TEST(ModbusRtu, RequestsOnTheWire) {
  EXPECT_EQ(rtu::read_request(1, rtu::kReadHoldingRegisters, 0, 2), hex("010300000002c40b"));
  EXPECT_EQ(rtu::read_request(1, rtu::kReadInputRegisters, 0, 2), hex("01040000000271cb"));
  // A coil is switched on with 0xFF00, whatever non-zero value is given.
  EXPECT_EQ(rtu::write_single_request(1, rtu::kWriteSingleCoil, 1, 1), hex("01050001ff00ddfa"));
  EXPECT_EQ(rtu::write_single_request(1, rtu::kWriteSingleCoil, 1, 0x1234), hex("01050001ff00ddfa"));
  const auto w = rtu::write_single_request(7, rtu::kWriteSingleRegister, 0x0102, 0xABCD);
  EXPECT_EQ(Bytes(w.begin(), w.end() - 2), hex("07060102abcd"));
  EXPECT_EQ(rtu::frame(7, hex("060102abcd")), w);
}

TEST(ModbusRtu, ScanFindsTheAnswerLengthFromTheRequest) {
  const auto req = rtu::read_request(1, rtu::kReadInputRegisters, 0, 2);
  const auto answer = hex("010404436680006fdf");
  for (std::size_t n = 0; n < answer.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(rtu::scan_answer(req, std::span(answer).first(n)).status,
              rtu::AnswerScan::Status::need_more);
  }
  auto r = rtu::scan_answer(req, answer);
  EXPECT_EQ(r.status, rtu::AnswerScan::Status::complete);
  EXPECT_EQ(r.length, answer.size());
  // Bytes after the frame are not part of it.
  auto longer = answer;
  longer.push_back(0x01);
  r = rtu::scan_answer(req, longer);
  EXPECT_EQ(r.status, rtu::AnswerScan::Status::complete);
  EXPECT_EQ(r.length, answer.size());
  // An exception answer is five bytes.
  const auto exc = hex("018402c2c1");
  EXPECT_EQ(rtu::scan_answer(req, std::span(exc).first(4)).status, rtu::AnswerScan::Status::need_more);
  r = rtu::scan_answer(req, exc);
  EXPECT_EQ(r.status, rtu::AnswerScan::Status::complete);
  EXPECT_EQ(r.length, 5u);
  // A write's answer is the 8-byte echo.
  const auto wreq = rtu::write_single_request(1, rtu::kWriteSingleCoil, 1, 1);
  EXPECT_EQ(rtu::scan_answer(wreq, std::span(wreq).first(7)).status, rtu::AnswerScan::Status::need_more);
  EXPECT_EQ(rtu::scan_answer(wreq, wreq).length, 8u);
  // A function byte that answers nothing we asked: no length can be known.
  r = rtu::scan_answer(req, hex("0103"));
  EXPECT_EQ(r.status, rtu::AnswerScan::Status::invalid);
  EXPECT_NE(r.message.find("0x03"), std::string::npos) << r.message;
}

TEST(ModbusRtu, DecodeRegistersAndBits) {
  auto a = rtu::decode_answer(rtu::read_request(1, rtu::kReadInputRegisters, 0, 2),
                              hex("010404436680006fdf"));
  ASSERT_EQ(a.status, S::ok) << a.message;
  EXPECT_EQ(a.values, (std::vector<std::uint16_t>{0x4366, 0x8000}));
  // Three coils in one byte, LSB first: 0, 1, 0.
  a = rtu::decode_answer(rtu::read_request(1, rtu::kReadCoils, 0, 3), hex("01010102d049"));
  ASSERT_EQ(a.status, S::ok) << a.message;
  EXPECT_EQ(a.values, (std::vector<std::uint16_t>{0, 1, 0}));
  // Ten discrete inputs need two bytes.
  const auto req = rtu::read_request(3, rtu::kReadDiscreteInputs, 0, 10);
  a = rtu::decode_answer(req, rtu::frame(3, hex("0202ff02")));
  ASSERT_EQ(a.status, S::ok) << a.message;
  EXPECT_EQ(a.values, (std::vector<std::uint16_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 1}));
}

TEST(ModbusRtu, DecodeRejectsWhatIsNotTheAnswer) {
  const auto req = rtu::read_request(1, rtu::kReadInputRegisters, 0, 2);
  // Garbled: one data bit flipped.
  auto a = rtu::decode_answer(req, hex("010404436690006fdf"));
  EXPECT_EQ(a.status, S::bad_crc);
  EXPECT_EQ(a.offset, 7u);
  EXPECT_NE(a.message.find("bad CRC"), std::string::npos);
  // Another unit answered (a well-formed frame).
  a = rtu::decode_answer(req, rtu::frame(2, hex("040443668000")));
  EXPECT_EQ(a.status, S::wrong_unit);
  EXPECT_EQ(a.message, "answer from unit 2, asked unit 1");
  // Another function.
  a = rtu::decode_answer(req, rtu::frame(1, hex("030443668000")));
  EXPECT_EQ(a.status, S::wrong_function);
  EXPECT_EQ(a.offset, 1u);
  // Byte count that does not fit the request (one register for two).
  a = rtu::decode_answer(req, rtu::frame(1, hex("04024366")));
  EXPECT_EQ(a.status, S::bad_length);
  EXPECT_EQ(a.offset, 2u);
  // Byte count that does not fit the frame.
  a = rtu::decode_answer(req, rtu::frame(1, hex("0404436680")));
  EXPECT_EQ(a.status, S::bad_length);
  // Too short to be any frame.
  a = rtu::decode_answer(req, hex("0104"));
  EXPECT_EQ(a.status, S::bad_length);
  // An exception answer carries its code.
  a = rtu::decode_answer(req, hex("018402c2c1"));
  EXPECT_EQ(a.status, S::exception);
  EXPECT_EQ(a.exception_code, 2);
  // A write answered with something else than its echo.
  const auto wreq = rtu::write_single_request(1, rtu::kWriteSingleRegister, 5, 100);
  EXPECT_EQ(rtu::decode_answer(wreq, wreq).status, S::ok);
  a = rtu::decode_answer(wreq, rtu::frame(1, hex("0600050065")));
  EXPECT_EQ(a.status, S::bad_echo);
  EXPECT_EQ(a.offset, 5u);
}

TEST(ModbusRtu, LineTiming) {
  using std::chrono::nanoseconds;
  // 9600 baud, 8N1 = 10 bits: t3.5 = 35 bit times, t1.5 = 15.
  EXPECT_EQ(rtu::t35(9600, 10), nanoseconds(3645833));
  EXPECT_EQ(rtu::t15(9600, 10), nanoseconds(1562500));
  // 2400 baud 8E1 = 11 bits.
  EXPECT_EQ(rtu::t35(2400, 11), nanoseconds(16041666));
  // Above 19200 baud the standard fixes them.
  EXPECT_EQ(rtu::t35(38400, 10), std::chrono::microseconds(1750));
  EXPECT_EQ(rtu::t15(115200, 11), std::chrono::microseconds(750));
  EXPECT_EQ(rtu::t35(19200, 10), nanoseconds(1822916));
}

}  // namespace
