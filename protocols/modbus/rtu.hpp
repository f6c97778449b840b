// Modbus RTU framing (Modbus over Serial Line V1.02 §2.5.1): an ADU is the unit address, the
// PDU (Modbus Application Protocol V1.1b3 §4.1) and a CRC-16 sent low byte first. RTU has no
// length field and no start mark: the length of an answer follows from the request it answers
// and its first bytes, which is what scan_answer() works out; decode_answer() then checks the
// CRC, the unit, the function, the byte count (or the echo of a write) and turns an exception
// answer into its code. Also the line timing of §2.5.1.1 (t1.5, t3.5).
// All functions are pure and thread-safe; none throws on bad input.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace estate::protocols::modbus::rtu {

// Function codes of the requests this codec builds (MBAP V1.1b3 §6.1-§6.6).
inline constexpr std::uint8_t kReadCoils = 0x01;
inline constexpr std::uint8_t kReadDiscreteInputs = 0x02;
inline constexpr std::uint8_t kReadHoldingRegisters = 0x03;
inline constexpr std::uint8_t kReadInputRegisters = 0x04;
inline constexpr std::uint8_t kWriteSingleCoil = 0x05;
inline constexpr std::uint8_t kWriteSingleRegister = 0x06;

inline constexpr std::uint16_t kMaxReadRegisters = 125;  // §6.3, §6.4
inline constexpr std::uint16_t kMaxReadBits = 2000;      // §6.1, §6.2
inline constexpr std::size_t kMaxAdu = 256;              // Serial Line V1.02 §2.5.1

// CRC-16/MODBUS (polynomial 0xA001 reflected, initial value 0xFFFF), Serial Line V1.02 §6.2.2.
std::uint16_t crc16(std::span<const std::uint8_t> bytes);

// Appends the CRC (low byte first) to unit + pdu.
std::vector<std::uint8_t> frame(std::uint8_t unit, std::span<const std::uint8_t> pdu);

// Request ADUs. Arguments are not range-checked here beyond what fits the wire: the caller
// checks counts against kMaxRead*.
std::vector<std::uint8_t> read_request(std::uint8_t unit, std::uint8_t function,
                                       std::uint16_t address, std::uint16_t count);
// Function 5 takes 0xFF00 (on) or 0x0000 (off); any non-zero `value` is sent as 0xFF00.
std::vector<std::uint8_t> write_single_request(std::uint8_t unit, std::uint8_t function,
                                               std::uint16_t address, std::uint16_t value);

// How much of `answer` (bytes received after sending `request`) is the answer frame.
struct AnswerScan {
  enum class Status {
    need_more,  // not enough bytes yet to know or to complete the frame
    complete,   // `length` bytes form a frame (its CRC is not checked here)
    invalid,    // the function byte belongs neither to the request nor to its exception
  };
  Status status = Status::need_more;
  std::size_t length = 0;
  std::string message;
};
AnswerScan scan_answer(std::span<const std::uint8_t> request, std::span<const std::uint8_t> answer);

struct Answer {
  enum class Status {
    ok,
    bad_crc,         // the CRC does not match the bytes
    wrong_unit,      // a well-formed answer from another unit
    wrong_function,  // neither the request's function nor its exception
    bad_length,      // byte count or frame length does not fit the request
    bad_echo,        // a write's answer is not the echo of the request
    exception,       // the device refused: `exception_code` says why (§7)
  };
  Status status = Status::ok;
  std::uint8_t exception_code = 0;
  // Reads: the registers, or the bits as 0/1 values (LSB of the first data byte first, §6.1).
  std::vector<std::uint16_t> values;
  std::string message;     // not ok: what is wrong
  std::size_t offset = 0;  // not ok: the byte offset in the answer where it was found
};
// Decodes one complete answer frame to `request` (a request built by this codec).
Answer decode_answer(std::span<const std::uint8_t> request, std::span<const std::uint8_t> answer);

// Line timing of Serial Line V1.02 §2.5.1.1 for a character of `bits_per_char` bits: t3.5 (the
// silence that separates frames) and t1.5 (the longest pause inside a frame); above 19200 baud
// the fixed 1.75 ms and 750 us.
std::chrono::nanoseconds t35(int baud, int bits_per_char);
std::chrono::nanoseconds t15(int baud, int bits_per_char);

}  // namespace estate::protocols::modbus::rtu
