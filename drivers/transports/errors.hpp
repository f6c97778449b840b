// Error codes of the device paths: one enum and category for transports and meter masters
// ("estate.transport"), and one category for libmodbus errno values ("estate.modbus"), which the
// Modbus wrapper converts at the boundary so callers only ever see boost::system::error_code.
// Thread-safety: the categories are immutable singletons; safe from any thread.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace estate::drivers {

enum class TransportError {
  timeout = 1,        // no (complete) answer within the bus timeout
  closed,             // the line or connection went away
  not_connected,      // not open yet, or waiting for the reconnect backoff to expire
  frame_error,        // the bytes received do not form a frame of the bus protocol
  checksum_error,     // a frame with a bad checksum / CRC
  bad_answer,         // a well-formed frame that is not the answer to our request
  device_error,       // the device answered with an error / exception / NAK
  circuit_open,       // the device's circuit breaker is open; not tried
  overloaded,         // the bus queue is full; the request was not queued
  unsupported,        // the request makes no sense for this device or bus
  cancelled,          // the bus is stopping
  refused,            // connecting: the peer refused (nothing listens on the port)
  unreachable,        // connecting: no route to the host or network
  connect_timeout,    // connecting: the peer never answered
  not_confirmed,      // the device accepted a command but its state read back does not show it
};

const boost::system::error_category& transport_category();
boost::system::error_code make_error_code(TransportError e);

// libmodbus reports through errno: system errors (ETIMEDOUT, ECONNRESET...) and its own
// EMBX* / EMBBADCRC... values above MODBUS_ENOBASE. modbus_error() maps them: timeouts and CRC
// errors become TransportError values (so counters treat every bus alike), the rest a code in
// modbus_category() whose message is libmodbus's modbus_strerror().
const boost::system::error_category& modbus_category();
boost::system::error_code modbus_error(int errno_value);
// An exception answer's code (Modbus Application Protocol V1.1b3 §7) as libmodbus reports it:
// 1..10 as EMBXILFUN...EMBXGTAR, any other code as EMBBADEXC (a frame error), through
// modbus_error(), so every Modbus master returns the same code for the same answer.
boost::system::error_code modbus_exception_error(int exception_code);

// A failed connect's errno as mbpoll reports it: "connection refused", "no route to host",
// "connection timed out" (TransportError refused / unreachable / connect_timeout); any other
// errno as the system's message.
boost::system::error_code connect_error(int errno_value);
// The same for an error a stream's open returned (system codes are mapped; others kept).
boost::system::error_code connect_error(const boost::system::error_code& ec);

// True when the line or connection is down (closed, not connected, or a connect that failed).
bool is_line_down(const boost::system::error_code& ec);

// True for errors that say the device did not answer properly (counted against its breaker),
// as opposed to a bus that is down or a request that was refused locally.
bool is_device_fault(const boost::system::error_code& ec);

}  // namespace estate::drivers

namespace boost::system {
template <>
struct is_error_code_enum<estate::drivers::TransportError> : std::true_type {};
}  // namespace boost::system
