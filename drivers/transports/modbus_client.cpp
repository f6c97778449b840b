#include "drivers/transports/modbus_client.hpp"

#include <modbus/modbus.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>

namespace estate::drivers {

using boost::system::error_code;

ModbusClient::ModbusClient(boost::asio::any_io_executor strand, ModbusSettings settings)
    : strand_(std::move(strand)), settings_(std::move(settings)) {}

ModbusClient::~ModbusClient() {
  // Pending calls finish (each bounded by the response timeout); then the context goes.
  worker_.join();
  if (ctx_) {
    modbus_close(ctx_);
    modbus_free(ctx_);
  }
}

boost::asio::awaitable<error_code> ModbusClient::read(int unit, ModbusTable table, int address,
                                                      int count, std::vector<std::uint16_t>& out) {
  error_code ec;
  out = co_await async_read(unit, table, address, count,
                            boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  if (ec) out.clear();
  co_return ec;
}

boost::asio::awaitable<error_code> ModbusClient::write_single(int unit, ModbusTable table,
                                                              int address, std::uint16_t value) {
  error_code ec;
  co_await async_write_single(unit, table, address, value,
                              boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  co_return ec;
}

std::string ModbusClient::describe() const {
  if (settings_.tcp) return "modbus tcp " + settings_.host + ":" + std::to_string(settings_.port);
  const auto& s = settings_.serial;
  return "modbus rtu " + s.device + " " + std::to_string(s.baud) + " " +
         std::to_string(s.data_bits) + s.parity + std::to_string(s.stop_bits);
}

error_code ModbusClient::connect_blocking() {
  if (connected_) return {};
  if (std::chrono::steady_clock::now() < next_connect_) return TransportError::not_connected;
  if (!ctx_) {
    if (settings_.tcp) {
      ctx_ = modbus_new_tcp_pi(settings_.host.c_str(), std::to_string(settings_.port).c_str());
    } else {
      const auto& s = settings_.serial;
      ctx_ = modbus_new_rtu(s.device.c_str(), s.baud, s.parity, s.data_bits, s.stop_bits);
    }
    if (!ctx_) return modbus_error(errno);
    const auto t = settings_.timeout.count();
    modbus_set_response_timeout(ctx_, static_cast<std::uint32_t>(t / 1000),
                                static_cast<std::uint32_t>((t % 1000) * 1000));
    modbus_set_debug(ctx_, settings_.debug ? 1 : 0);
    // A device that answers garbage must not make libmodbus wait forever for "the rest".
    modbus_set_error_recovery(
        ctx_, static_cast<modbus_error_recovery_mode>(MODBUS_ERROR_RECOVERY_PROTOCOL));
  }
  if (modbus_connect(ctx_) == -1) {
    const int err = errno;
    next_connect_ = std::chrono::steady_clock::now() + backoff_.next();
    // As mbpoll says it: "connection refused", "no route to host", "connection timed out".
    return connect_error(err);
  }
  backoff_.reset();
  connected_ = true;
  return {};
}

error_code ModbusClient::after_failure(int err) {
  auto ec = modbus_error(err);
  if (ec == TransportError::timeout) ++counters_.timeouts;
  else if (ec == TransportError::checksum_error) ++counters_.checksum_errors;
  else ++counters_.errors;
  if (ec == TransportError::closed) {
    modbus_close(ctx_);
    connected_ = false;
    next_connect_ = std::chrono::steady_clock::now() + backoff_.next();
  } else if (ec == TransportError::timeout || ec == TransportError::frame_error ||
             ec == TransportError::checksum_error) {
    // Drop whatever is left of a late or broken answer before the next request.
    modbus_flush(ctx_);
  }
  return ec;
}

error_code ModbusClient::read_blocking(int unit, ModbusTable table, int address, int count,
                                       std::vector<std::uint16_t>& out) {
  if (unit < 0 || unit > 247 || address < 0 || address > 65535 || count < 1 ||
      (table >= ModbusTable::holding_registers ? count > MODBUS_MAX_READ_REGISTERS
                                               : count > MODBUS_MAX_READ_BITS)) {
    return TransportError::unsupported;
  }
  if (auto ec = connect_blocking()) return ec;
  modbus_set_slave(ctx_, unit);
  out.assign(static_cast<std::size_t>(count), 0);
  int rc = -1;
  // An answer from another unit is a late answer to an earlier request (a slave that answered
  // after its timeout) still on the line: drop it and ask once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    ++counters_.requests;
    rc = read_once(table, address, count, out);
    if (rc != -1 || errno != EMBBADSLAVE || attempt == 1) break;
    ++counters_.errors;
    modbus_flush(ctx_);
  }
  if (rc == -1) {
    out.clear();
    return after_failure(errno);
  }
  if (rc != count) {
    out.clear();
    return TransportError::bad_answer;
  }
  return {};
}

int ModbusClient::read_once(ModbusTable table, int address, int count,
                            std::vector<std::uint16_t>& out) {
  int rc = -1;
  switch (table) {
    case ModbusTable::holding_registers:
      rc = modbus_read_registers(ctx_, address, count, out.data());
      break;
    case ModbusTable::input_registers:
      rc = modbus_read_input_registers(ctx_, address, count, out.data());
      break;
    case ModbusTable::coils:
    case ModbusTable::discrete_inputs: {
      std::vector<std::uint8_t> bits(static_cast<std::size_t>(count));
      rc = table == ModbusTable::coils ? modbus_read_bits(ctx_, address, count, bits.data())
                                       : modbus_read_input_bits(ctx_, address, count, bits.data());
      for (std::size_t i = 0; i < bits.size(); ++i) out[i] = bits[i];
      break;
    }
  }
  return rc;
}

error_code ModbusClient::write_blocking(int unit, ModbusTable table, int address,
                                        std::uint16_t value) {
  if (unit < 0 || unit > 247 || address < 0 || address > 65535) return TransportError::unsupported;
  if (table != ModbusTable::coils && table != ModbusTable::holding_registers) {
    return TransportError::unsupported;
  }
  if (auto ec = connect_blocking()) return ec;
  ++counters_.requests;
  modbus_set_slave(ctx_, unit);
  const int rc = table == ModbusTable::coils ? modbus_write_bit(ctx_, address, value ? 1 : 0)
                                             : modbus_write_register(ctx_, address, value);
  if (rc == -1) return after_failure(errno);
  return {};
}

}  // namespace estate::drivers
