#include "drivers/pos/blocking_link.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>

namespace estate::drivers {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Runs the asynchronous operation started by `start` on a private io_context for at most
// `timeout`; on expiry cancels it (via `cancel`) and reports timed_out.
template <class Start, class Cancel>
error_code run_for(asio::io_context& io, milliseconds timeout, Start start, Cancel cancel) {
  error_code result = asio::error::would_block;
  start(result);
  io.restart();
  io.run_for(timeout);
  if (result == asio::error::would_block) {
    cancel();
    io.restart();
    io.run();  // let the cancelled handler run
    return asio::error::timed_out;
  }
  return result;
}

// One write of all of `data` to `stream` within `timeout`.
template <class Stream>
error_code write_for(asio::io_context& io, Stream& stream, std::span<const std::uint8_t> data,
                     milliseconds timeout) {
  return run_for(
      io, timeout,
      [&](error_code& r) {
        asio::async_write(stream, asio::buffer(data.data(), data.size()),
                          [&r](error_code e, std::size_t) { r = e; });
      },
      [&] { stream.cancel(); });
}

// Whatever `stream` has within `timeout`, appended to `out`.
template <class Stream>
error_code read_some_for(asio::io_context& io, Stream& stream, std::vector<std::uint8_t>& out,
                         milliseconds timeout) {
  std::uint8_t buf[512];
  std::size_t got = 0;
  auto ec = run_for(
      io, timeout,
      [&](error_code& r) {
        stream.async_read_some(asio::buffer(buf), [&r, &got](error_code e, std::size_t n) {
          got = n;
          r = e;
        });
      },
      [&] { stream.cancel(); });
  out.insert(out.end(), buf, buf + got);
  return ec;
}

class BlockingTcpLink : public BlockingLink {
 public:
  BlockingTcpLink(std::string host, std::uint16_t port, milliseconds connect_timeout)
      : host_(std::move(host)), port_(port), connect_timeout_(connect_timeout), socket_(io_) {}

  error_code write(std::span<const std::uint8_t> data, milliseconds timeout) override {
    if (auto ec = ensure_connected()) return ec;
    auto ec = write_for(io_, socket_, data, timeout);
    if (ec) close();
    return ec;
  }

  error_code read_some(std::vector<std::uint8_t>& out, milliseconds timeout) override {
    if (auto ec = ensure_connected()) return ec;
    auto ec = read_some_for(io_, socket_, out, timeout);
    if (ec && ec != asio::error::timed_out) close();
    return ec;
  }

  void close() override {
    error_code ignore;
    socket_.close(ignore);
  }

 private:
  error_code ensure_connected() {
    if (socket_.is_open()) return {};
    asio::ip::tcp::resolver resolver(io_);
    error_code ec;
    auto eps = resolver.resolve(host_, std::to_string(port_), ec);
    if (ec) return ec;
    ec = run_for(
        io_, connect_timeout_,
        [&](error_code& r) {
          asio::async_connect(socket_, eps, [&r](error_code e, const auto&) { r = e; });
        },
        [&] { close(); });
    if (ec) close();
    return ec;
  }

  std::string host_;
  std::uint16_t port_;
  milliseconds connect_timeout_;
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

class BlockingSerialLink : public BlockingLink {
 public:
  BlockingSerialLink(std::string device, unsigned baud) : device_(std::move(device)), baud_(baud), port_(io_) {}

  error_code write(std::span<const std::uint8_t> data, milliseconds timeout) override {
    if (auto ec = ensure_open()) return ec;
    return write_for(io_, port_, data, timeout);
  }

  error_code read_some(std::vector<std::uint8_t>& out, milliseconds timeout) override {
    if (auto ec = ensure_open()) return ec;
    return read_some_for(io_, port_, out, timeout);
  }

  void close() override {
    error_code ignore;
    port_.close(ignore);
  }

 private:
  error_code ensure_open() {
    if (port_.is_open()) return {};
    error_code ec;
    port_.open(device_, ec);
    if (ec) return ec;
    port_.set_option(asio::serial_port::baud_rate(baud_), ec);
    if (!ec) port_.set_option(asio::serial_port::character_size(8), ec);
    if (!ec) port_.set_option(asio::serial_port::parity(asio::serial_port::parity::none), ec);
    if (!ec) port_.set_option(asio::serial_port::stop_bits(asio::serial_port::stop_bits::one), ec);
    if (!ec) port_.set_option(asio::serial_port::flow_control(asio::serial_port::flow_control::none), ec);
    if (ec) close();
    return ec;
  }

  std::string device_;
  unsigned baud_;
  asio::io_context io_;
  asio::serial_port port_;
};

}  // namespace

std::unique_ptr<BlockingLink> make_blocking_tcp_link(std::string host, std::uint16_t port, milliseconds connect_timeout) {
  return std::make_unique<BlockingTcpLink>(std::move(host), port, connect_timeout);
}

std::unique_ptr<BlockingLink> make_blocking_serial_link(std::string device, unsigned baud) {
  return std::make_unique<BlockingSerialLink>(std::move(device), baud);
}

}  // namespace estate::drivers
