#include "drivers/transports/errors.hpp"

#include <modbus/modbus.h>

#include <cerrno>
#include <string>

namespace estate::drivers {

namespace {

class TransportCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "estate.transport"; }
  std::string message(int ev) const override {
    switch (static_cast<TransportError>(ev)) {
      case TransportError::timeout: return "timeout";
      case TransportError::closed: return "connection closed";
      case TransportError::not_connected: return "not connected";
      case TransportError::frame_error: return "frame error";
      case TransportError::checksum_error: return "checksum error";
      case TransportError::bad_answer: return "unexpected answer";
      case TransportError::device_error: return "device reported an error";
      case TransportError::circuit_open: return "circuit breaker open";
      case TransportError::overloaded: return "bus queue full";
      case TransportError::unsupported: return "not supported";
      case TransportError::cancelled: return "cancelled";
      case TransportError::refused: return "connection refused";
      case TransportError::unreachable: return "no route to host";
      case TransportError::connect_timeout: return "connection timed out";
      case TransportError::not_confirmed: return "the meter's state does not confirm the command";
    }
    return "transport error " + std::to_string(ev);
  }
};

class ModbusCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "estate.modbus"; }
  std::string message(int ev) const override { return modbus_strerror(ev); }
};

}  // namespace

const boost::system::error_category& transport_category() {
  static const TransportCategory c;
  return c;
}

boost::system::error_code make_error_code(TransportError e) {
  return {static_cast<int>(e), transport_category()};
}

const boost::system::error_category& modbus_category() {
  static const ModbusCategory c;
  return c;
}

boost::system::error_code modbus_error(int e) {
  switch (e) {
    case ETIMEDOUT: return TransportError::timeout;
    case EMBBADCRC: return TransportError::checksum_error;
    case EMBBADDATA:
    case EMBBADEXC:
    case EMBMDATA: return TransportError::frame_error;
    case EMBBADSLAVE: return TransportError::bad_answer;
    case ECONNRESET:
    case EPIPE:
    case ECONNREFUSED:
    case EBADF: return TransportError::closed;
    default: break;
  }
  if (e > MODBUS_ENOBASE) return {e, modbus_category()};  // EMBXILFUN ... exception answers
  return {e, boost::system::system_category()};
}

boost::system::error_code modbus_exception_error(int exception_code) {
  if (exception_code >= 1 && exception_code < MODBUS_EXCEPTION_MAX) {
    return modbus_error(MODBUS_ENOBASE + exception_code);
  }
  return modbus_error(EMBBADEXC);
}

boost::system::error_code connect_error(int e) {
  switch (e) {
    case ECONNREFUSED: return TransportError::refused;
    case EHOSTUNREACH:
    case ENETUNREACH: return TransportError::unreachable;
    case ETIMEDOUT:
    case EINPROGRESS: return TransportError::connect_timeout;
    default: return {e, boost::system::system_category()};
  }
}

boost::system::error_code connect_error(const boost::system::error_code& ec) {
  if (!ec) return ec;
  if (ec.category() == transport_category()) {
    return ec == TransportError::timeout ? make_error_code(TransportError::connect_timeout) : ec;
  }
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category()) {
    return connect_error(ec.value());
  }
  return ec;
}

bool is_line_down(const boost::system::error_code& ec) {
  if (!ec || ec.category() != transport_category()) return false;
  switch (static_cast<TransportError>(ec.value())) {
    case TransportError::closed:
    case TransportError::not_connected:
    case TransportError::refused:
    case TransportError::unreachable:
    case TransportError::connect_timeout: return true;
    default: return false;
  }
}

bool is_device_fault(const boost::system::error_code& ec) {
  if (!ec) return false;
  if (ec.category() == modbus_category()) return true;
  if (ec.category() != transport_category()) return false;
  switch (static_cast<TransportError>(ec.value())) {
    case TransportError::timeout:
    case TransportError::frame_error:
    case TransportError::checksum_error:
    case TransportError::bad_answer:
    case TransportError::device_error: return true;
    default: return false;
  }
}

}  // namespace estate::drivers
