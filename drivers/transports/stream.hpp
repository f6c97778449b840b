// Byte streams a bus runs on: a serial line (Boost.Asio serial_port: baud, parity, data and
// stop bits; RS-485 adapters switch direction themselves), or a TCP connection (a device that
// speaks on TCP, or a serial device server passing the line's bytes through: "RTU over TCP").
// Streams have no timeouts of their own: Link (link.hpp) arms a timer around every operation
// and cancels the stream when it expires.
// Thread-safety: none; a stream belongs to its bus strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "drivers/device_config.hpp"

namespace estate::drivers {

struct SerialSettings {
  std::string device;
  int baud = 9600;
  char parity = 'N';  // N, E, O
  int data_bits = 8;
  int stop_bits = 1;
};

// Bits on the wire per character (start + data + parity + stop): the unit of every timing
// rule in EN 13757-2, DL/T 645 and Modbus RTU.
int bits_per_char(const SerialSettings& s);
// Time one character takes on the line at the configured baud rate.
std::chrono::nanoseconds char_time(const SerialSettings& s);

class ByteStream {
 public:
  using Handler = std::function<void(boost::system::error_code)>;
  using ReadHandler = std::function<void(boost::system::error_code, std::size_t)>;

  virtual ~ByteStream() = default;
  // Opens the line or connects. Completes on the stream's executor.
  virtual void async_open(Handler h) = 0;
  virtual void async_write(std::span<const std::uint8_t> bytes, Handler h) = 0;
  virtual void async_read_some(boost::asio::mutable_buffer buf, ReadHandler h) = 0;
  // Aborts pending operations (they complete with operation_aborted).
  virtual void cancel() = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  // "serial /dev/ttyUSB0 2400 8E1", "tcp 10.0.0.5:502": for logs and errors.
  virtual std::string describe() const = 0;
  virtual boost::asio::any_io_executor get_executor() = 0;
};

std::unique_ptr<ByteStream> make_serial_stream(boost::asio::any_io_executor ex, SerialSettings s);
std::unique_ptr<ByteStream> make_tcp_stream(boost::asio::any_io_executor ex, std::string host,
                                            int port);
// From a bus config: serial for kind serial, TCP for kind tcp and rtu_over_tcp.
std::unique_ptr<ByteStream> make_stream(boost::asio::any_io_executor ex,
                                        const BusConfig& bus);
SerialSettings serial_settings(const BusConfig& bus);

// Parses "HOST:PORT" (port 1..65535). False when malformed.
bool parse_host_port(const std::string& text, std::string& host, int& port);

}  // namespace estate::drivers
