#include "drivers/transports/modbus_rtu_master.hpp"

#include <spdlog/spdlog.h>

#include "protocols/modbus/rtu.hpp"

namespace estate::drivers {

namespace asio = boost::asio;
namespace rtu = protocols::modbus::rtu;
using boost::system::error_code;

FrameScanner modbus_rtu_scanner(std::span<const std::uint8_t> request) {
  return [request](std::span<const std::uint8_t> buf) {
    FrameScan out;
    const auto r = rtu::scan_answer(request, buf);
    switch (r.status) {
      case rtu::AnswerScan::Status::need_more:
        break;
      case rtu::AnswerScan::Status::invalid:
        out.status = FrameScan::Status::invalid;
        out.message = r.message;
        break;
      case rtu::AnswerScan::Status::complete: {
        const auto frame = buf.first(r.length);
        const std::uint16_t crc = static_cast<std::uint16_t>(frame[r.length - 2] | frame[r.length - 1] << 8);
        if (crc != rtu::crc16(frame.first(r.length - 2))) {
          out.status = FrameScan::Status::bad_checksum;
          out.message = "bad CRC";
        } else {
          out.status = FrameScan::Status::complete;
          out.length = r.length;
        }
        break;
      }
    }
    return out;
  };
}

ModbusRtuMaster::ModbusRtuMaster(Link& link) : link_(link) {}

void ModbusRtuMaster::count(const error_code& ec) {
  ++counters_.requests;
  if (!ec) return;
  if (ec == TransportError::timeout) ++counters_.timeouts;
  else if (ec == TransportError::checksum_error) ++counters_.checksum_errors;
  else ++counters_.errors;
}

asio::awaitable<error_code> ModbusRtuMaster::transact(std::span<const std::uint8_t> request,
                                                      std::vector<std::uint16_t>* values) {
  std::vector<std::uint8_t> answer;
  const auto sent_before = link_.counters().requests;
  error_code ec = co_await link_.transact(request, modbus_rtu_scanner(request), answer);
  const bool sent = link_.counters().requests != sent_before;
  if (!ec) {
    auto a = rtu::decode_answer(request, answer);
    using S = rtu::Answer::Status;
    switch (a.status) {
      case S::ok:
        if (values) *values = std::move(a.values);
        break;
      case S::bad_crc: ec = TransportError::checksum_error; break;
      case S::wrong_unit: ec = TransportError::bad_answer; break;
      case S::wrong_function:
      case S::bad_length:
      case S::bad_echo: ec = TransportError::frame_error; break;
      case S::exception: ec = modbus_exception_error(a.exception_code); break;
    }
    if (ec && a.status != S::exception) {
      spdlog::debug("{}: unit {}: {} (byte {})", describe(), request[0], a.message, a.offset);
    }
  } else if (ec.category() != transport_category()) {
    // A failed write or read of the connection: the Link has closed it and reopens it after
    // its backoff. Reported as libmodbus's wrapper reports a lost connection.
    ec = TransportError::closed;
  }
  if (sent) count(ec);
  co_return ec;
}

asio::awaitable<error_code> ModbusRtuMaster::read(int unit, ModbusTable table, int address,
                                                  int count, std::vector<std::uint16_t>& out) {
  out.clear();
  const bool registers = table == ModbusTable::holding_registers || table == ModbusTable::input_registers;
  const int max = registers ? rtu::kMaxReadRegisters : rtu::kMaxReadBits;
  if (unit < 1 || unit > 247 || address < 0 || count < 1 || count > max || address + count > 65536) {
    co_return make_error_code(TransportError::unsupported);
  }
  const auto request = rtu::read_request(static_cast<std::uint8_t>(unit), static_cast<std::uint8_t>(table),
                                         static_cast<std::uint16_t>(address),
                                         static_cast<std::uint16_t>(count));
  co_return co_await transact(request, &out);
}

asio::awaitable<error_code> ModbusRtuMaster::write_single(int unit, ModbusTable table, int address,
                                                          std::uint16_t value) {
  if (unit < 0 || unit > 247 || address < 0 || address > 65535 ||
      (table != ModbusTable::coils && table != ModbusTable::holding_registers)) {
    co_return make_error_code(TransportError::unsupported);
  }
  const auto function = table == ModbusTable::coils ? rtu::kWriteSingleCoil : rtu::kWriteSingleRegister;
  const auto request = rtu::write_single_request(static_cast<std::uint8_t>(unit), function,
                                                 static_cast<std::uint16_t>(address), value);
  if (unit == 0) {
    const auto sent_before = link_.counters().requests;
    error_code ec = co_await link_.send(request);
    if (ec && ec.category() != transport_category()) ec = TransportError::closed;
    if (link_.counters().requests != sent_before) count(ec);
    co_return ec;
  }
  co_return co_await transact(request, nullptr);
}

}  // namespace estate::drivers
