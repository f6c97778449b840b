#include "protocols/modbus/rtu.hpp"

#include <cstdio>

namespace estate::protocols::modbus::rtu {

namespace {

bool is_read(std::uint8_t function) {
  return function >= kReadCoils && function <= kReadInputRegisters;
}

bool is_bit_read(std::uint8_t function) {
  return function == kReadCoils || function == kReadDiscreteInputs;
}

std::string hex2(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

Answer fault(Answer::Status s, std::string message, std::size_t offset) {
  Answer a;
  a.status = s;
  a.message = std::move(message);
  a.offset = offset;
  return a;
}

}  // namespace

std::uint16_t crc16(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0xFFFF;
  for (auto b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? static_cast<std::uint16_t>(crc >> 1 ^ 0xA001)
                                                : static_cast<std::uint16_t>(crc >> 1);
  }
  return crc;
}

std::vector<std::uint8_t> frame(std::uint8_t unit, std::span<const std::uint8_t> pdu) {
  std::vector<std::uint8_t> adu;
  adu.reserve(pdu.size() + 3);
  adu.push_back(unit);
  adu.insert(adu.end(), pdu.begin(), pdu.end());
  const auto crc = crc16(adu);
  adu.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  adu.push_back(static_cast<std::uint8_t>(crc >> 8));
  return adu;
}

std::vector<std::uint8_t> read_request(std::uint8_t unit, std::uint8_t function,
                                       std::uint16_t address, std::uint16_t count) {
  const std::uint8_t pdu[] = {function, static_cast<std::uint8_t>(address >> 8),
                              static_cast<std::uint8_t>(address & 0xFF),
                              static_cast<std::uint8_t>(count >> 8),
                              static_cast<std::uint8_t>(count & 0xFF)};
  return frame(unit, pdu);
}

std::vector<std::uint8_t> write_single_request(std::uint8_t unit, std::uint8_t function,
                                               std::uint16_t address, std::uint16_t value) {
  if (function == kWriteSingleCoil) value = value ? 0xFF00 : 0x0000;
  const std::uint8_t pdu[] = {function, static_cast<std::uint8_t>(address >> 8),
                              static_cast<std::uint8_t>(address & 0xFF),
                              static_cast<std::uint8_t>(value >> 8),
                              static_cast<std::uint8_t>(value & 0xFF)};
  return frame(unit, pdu);
}

AnswerScan scan_answer(std::span<const std::uint8_t> request, std::span<const std::uint8_t> answer) {
  AnswerScan r;
  if (request.size() < 2 || answer.size() < 2) return r;
  const std::uint8_t asked = request[1];
  const std::uint8_t got = answer[1];
  std::size_t length = 0;
  if (got == (asked | 0x80)) {
    length = 5;  // unit, function | 0x80, exception code, CRC (§7)
  } else if (got == asked && is_read(asked)) {
    if (answer.size() < 3) return r;
    length = 5 + static_cast<std::size_t>(answer[2]);  // unit, function, byte count, data, CRC
  } else if (got == asked && (asked == kWriteSingleCoil || asked == kWriteSingleRegister)) {
    length = 8;  // the echo of the request
  } else {
    r.status = AnswerScan::Status::invalid;
    r.message = "function " + hex2(got) + " does not answer function " + hex2(asked);
    return r;
  }
  if (answer.size() < length) return r;
  r.status = AnswerScan::Status::complete;
  r.length = length;
  return r;
}

Answer decode_answer(std::span<const std::uint8_t> request, std::span<const std::uint8_t> answer) {
  using S = Answer::Status;
  if (answer.size() < 4 || request.size() < 4) {
    return fault(S::bad_length, "a frame of " + std::to_string(answer.size()) +
                                    " bytes is shorter than unit, function and CRC",
                 answer.size());
  }
  const std::size_t n = answer.size();
  const std::uint16_t crc = static_cast<std::uint16_t>(answer[n - 2] | answer[n - 1] << 8);
  const std::uint16_t want = crc16(answer.first(n - 2));
  if (crc != want) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "bad CRC: expected 0x%04x, got 0x%04x", want, crc);
    return fault(S::bad_crc, buf, n - 2);
  }
  if (answer[0] != request[0]) {
    return fault(S::wrong_unit, "answer from unit " + std::to_string(answer[0]) +
                                    ", asked unit " + std::to_string(request[0]),
                 0);
  }
  const std::uint8_t asked = request[1];
  if (answer[1] == (asked | 0x80)) {
    if (n != 5) return fault(S::bad_length, "an exception answer is 5 bytes, got " + std::to_string(n), 0);
    Answer a;
    a.status = S::exception;
    a.exception_code = answer[2];
    a.message = "exception " + hex2(answer[2]);
    a.offset = 2;
    return a;
  }
  if (answer[1] != asked) {
    return fault(S::wrong_function,
                 "function " + hex2(answer[1]) + " does not answer function " + hex2(asked), 1);
  }
  Answer a;
  if (is_read(asked)) {
    if (request.size() < 8) return fault(S::bad_length, "request too short", 0);
    const std::uint16_t count = be16(request, 4);
    const std::size_t bytes = is_bit_read(asked) ? (count + 7u) / 8u : 2u * count;
    if (answer[2] != bytes) {
      return fault(S::bad_length, "byte count " + std::to_string(answer[2]) + " for " +
                                      std::to_string(count) + (is_bit_read(asked) ? " bits" : " registers") +
                                      ", expected " + std::to_string(bytes),
                   2);
    }
    if (n != 5 + bytes) {
      return fault(S::bad_length, "frame of " + std::to_string(n) + " bytes for a byte count of " +
                                      std::to_string(bytes),
                   n);
    }
    const auto data = answer.subspan(3, bytes);
    a.values.reserve(count);
    if (is_bit_read(asked)) {
      for (std::size_t i = 0; i < count; ++i) a.values.push_back((data[i / 8] >> (i % 8)) & 1);
    } else {
      for (std::size_t i = 0; i < count; ++i) a.values.push_back(be16(data, 2 * i));
    }
    return a;
  }
  // Writes of a single coil or register are answered with the request's echo (§6.5, §6.6).
  if (n != request.size()) {
    return fault(S::bad_length, "the echo of a write is " + std::to_string(request.size()) +
                                    " bytes, got " + std::to_string(n),
                 n);
  }
  for (std::size_t i = 2; i < n - 2; ++i) {
    if (answer[i] != request[i]) {
      return fault(S::bad_echo, "the answer is not the echo of the write", i);
    }
  }
  return a;
}

std::chrono::nanoseconds t35(int baud, int bits_per_char) {
  if (baud > 19200 || baud <= 0) return std::chrono::microseconds(1750);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(bits_per_char) * 3500000000LL / baud);
}

std::chrono::nanoseconds t15(int baud, int bits_per_char) {
  if (baud > 19200 || baud <= 0) return std::chrono::microseconds(750);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(bits_per_char) * 1500000000LL / baud);
}

}  // namespace estate::protocols::modbus::rtu
