#include "drivers/transports/stream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>

#include <charconv>

namespace estate::drivers {

namespace asio = boost::asio;
using boost::system::error_code;

int bits_per_char(const SerialSettings& s) {
  return 1 + s.data_bits + (s.parity == 'N' ? 0 : 1) + s.stop_bits;
}

std::chrono::nanoseconds char_time(const SerialSettings& s) {
  const int baud = s.baud > 0 ? s.baud : 9600;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(bits_per_char(s)) * 1'000'000'000 /
                                  baud);
}

namespace {

// What a serial port and a TCP socket do alike: write all, read some, report open, executor.
template <class Io>
class AsioStream : public ByteStream {
 public:
  explicit AsioStream(asio::any_io_executor ex) : io_(ex) {}

  void async_write(std::span<const std::uint8_t> bytes, Handler h) override {
    asio::async_write(io_, asio::buffer(bytes.data(), bytes.size()),
                      [h = std::move(h)](error_code ec, std::size_t) { h(ec); });
  }
  void async_read_some(asio::mutable_buffer buf, ReadHandler h) override {
    io_.async_read_some(buf, std::move(h));
  }
  bool is_open() const override { return io_.is_open(); }
  asio::any_io_executor get_executor() override { return io_.get_executor(); }

 protected:
  Io io_;
};

class SerialStream final : public AsioStream<asio::serial_port> {
 public:
  SerialStream(asio::any_io_executor ex, SerialSettings s) : AsioStream(ex), s_(std::move(s)) {}

  void async_open(Handler h) override {
    error_code ec;
    io_.close(ec);
    io_.open(s_.device, ec);
    using sp = asio::serial_port_base;
    if (!ec) io_.set_option(sp::baud_rate(static_cast<unsigned>(s_.baud)), ec);
    if (!ec) {
      io_.set_option(sp::parity(s_.parity == 'E'   ? sp::parity::even
                                  : s_.parity == 'O' ? sp::parity::odd
                                                     : sp::parity::none),
                       ec);
    }
    if (!ec) io_.set_option(sp::character_size(static_cast<unsigned>(s_.data_bits)), ec);
    if (!ec) {
      io_.set_option(sp::stop_bits(s_.stop_bits == 2 ? sp::stop_bits::two : sp::stop_bits::one),
                       ec);
    }
    if (!ec) io_.set_option(sp::flow_control(sp::flow_control::none), ec);
    if (ec) {
      error_code ignored;
      io_.close(ignored);
    }
    // Complete asynchronously like every other operation, never inside the caller.
    asio::post(io_.get_executor(), [h = std::move(h), ec] { h(ec); });
  }
  void cancel() override {
    error_code ignored;
    io_.cancel(ignored);
  }
  void close() override {
    error_code ignored;
    io_.close(ignored);
  }
  std::string describe() const override {
    return "serial " + s_.device + " " + std::to_string(s_.baud) + " " +
           std::to_string(s_.data_bits) + s_.parity + std::to_string(s_.stop_bits);
  }

 private:
  SerialSettings s_;
};

class TcpStream final : public AsioStream<asio::ip::tcp::socket> {
 public:
  TcpStream(asio::any_io_executor ex, std::string host, int port)
      : AsioStream(ex), resolver_(ex), host_(std::move(host)), port_(port) {}

  void async_open(Handler h) override {
    close();
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [this, h = std::move(h)](error_code ec, asio::ip::tcp::resolver::results_type r) mutable {
          if (ec) return h(ec);
          asio::async_connect(io_, r,
                              [this, h = std::move(h)](error_code ec, const auto&) {
                                if (!ec) {
                                  error_code ignored;
                                  io_.set_option(asio::ip::tcp::no_delay(true), ignored);
                                }
                                h(ec);
                              });
        });
  }
  void cancel() override {
    resolver_.cancel();
    error_code ignored;
    io_.cancel(ignored);
  }
  void close() override {
    error_code ignored;
    io_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    io_.close(ignored);
  }
  std::string describe() const override { return "tcp " + host_ + ":" + std::to_string(port_); }

 private:
  asio::ip::tcp::resolver resolver_;
  std::string host_;
  int port_;
};

}  // namespace

std::unique_ptr<ByteStream> make_serial_stream(asio::any_io_executor ex, SerialSettings s) {
  return std::make_unique<SerialStream>(std::move(ex), std::move(s));
}

std::unique_ptr<ByteStream> make_tcp_stream(asio::any_io_executor ex, std::string host,
                                            int port) {
  return std::make_unique<TcpStream>(std::move(ex), std::move(host), port);
}

SerialSettings serial_settings(const BusConfig& bus) {
  return SerialSettings{bus.device, bus.baud, bus.parity, bus.data_bits, bus.stop_bits};
}

std::unique_ptr<ByteStream> make_stream(asio::any_io_executor ex, const BusConfig& bus) {
  if (bus.kind == BusKind::serial) return make_serial_stream(ex, serial_settings(bus));
  return make_tcp_stream(ex, bus.host, bus.port);
}

bool parse_host_port(const std::string& text, std::string& host, int& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size()) return false;
  int p = 0;
  auto* first = text.data() + colon + 1;
  auto* last = text.data() + text.size();
  auto r = std::from_chars(first, last, p);
  if (r.ec != std::errc{} || r.ptr != last || p < 1 || p > 65535) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  port = p;
  return true;
}

}  // namespace estate::drivers
