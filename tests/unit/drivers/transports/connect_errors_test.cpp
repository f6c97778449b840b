// Connect errors read as mbpoll prints them: a closed port is "connection refused" (not
// "connection closed"), an unreachable host "no route to host", a silent one "connection timed
// out" — for the libmodbus client (read modbus --tcp) and the stream Link (RTU over TCP, DL/T
// 645, M-Bus through a device server) alike. The closed port is a loopback port just released.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <cerrno>

#include "drivers/transports/errors.hpp"
#include "drivers/transports/link.hpp"
#include "drivers/transports/modbus_client.hpp"
#include "drivers/transports/stream.hpp"

namespace asio = boost::asio;
using boost::system::error_code;
using namespace estate::drivers;
using namespace std::chrono_literals;

namespace {

// A loopback port nothing listens on: bound, read back and closed again.
int closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  const int port = a.local_endpoint().port();
  a.close();
  return port;
}

FrameScan scan_any(std::span<const std::uint8_t> b) {
  FrameScan r;
  if (!b.empty()) {
    r.status = FrameScan::Status::complete;
    r.length = b.size();
  }
  return r;
}

}  // namespace

TEST(ConnectErrors, MessagesAsMbpollPrintsThem) {
  EXPECT_EQ(connect_error(ECONNREFUSED).message(), "connection refused");
  EXPECT_EQ(connect_error(EHOSTUNREACH).message(), "no route to host");
  EXPECT_EQ(connect_error(ENETUNREACH).message(), "no route to host");
  EXPECT_EQ(connect_error(ETIMEDOUT).message(), "connection timed out");
  EXPECT_EQ(connect_error(make_error_code(TransportError::timeout)).message(),
            "connection timed out");
  EXPECT_EQ(connect_error(asio::error::connection_refused).message(), "connection refused");
  // Not a device fault: the device was never asked.
  EXPECT_FALSE(is_device_fault(connect_error(ECONNREFUSED)));
  EXPECT_FALSE(is_device_fault(connect_error(ETIMEDOUT)));
  // ... but the line is down (the bus shows "down", a scan stops).
  EXPECT_TRUE(is_line_down(connect_error(ECONNREFUSED)));
  EXPECT_TRUE(is_line_down(connect_error(EHOSTUNREACH)));
  EXPECT_TRUE(is_line_down(connect_error(ETIMEDOUT)));
  EXPECT_TRUE(is_line_down(TransportError::closed));
  EXPECT_FALSE(is_line_down(TransportError::timeout));
}

TEST(ConnectErrors, ModbusTcpClosedPortIsConnectionRefused) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  ModbusSettings s;
  s.tcp = true;
  s.host = "127.0.0.1";
  s.port = closed_port();
  s.timeout = 500ms;
  ModbusClient client(strand, s);
  // The client answers from its worker thread through the strand: keep io running until then.
  auto guard = asio::make_work_guard(io);
  error_code got;
  client.async_read(1, ModbusTable::holding_registers, 0, 1,
                    [&](error_code ec, std::vector<std::uint16_t>) {
                      got = ec;
                      guard.reset();
                    });
  io.run();
  EXPECT_EQ(got, TransportError::refused);
  EXPECT_EQ(got.message(), "connection refused");
}

TEST(ConnectErrors, StreamLinkClosedPortIsConnectionRefused) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  LinkOptions o;
  o.answer_timeout = 500ms;
  Link link(strand, make_tcp_stream(strand, "127.0.0.1", closed_port()), o, 1);
  std::vector<std::uint8_t> answer;
  const std::vector<std::uint8_t> request{0x01};
  auto fut = asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<error_code> {
        co_return co_await link.transact(request, scan_any, answer);
      },
      asio::use_future);
  io.run();
  const auto ec = fut.get();
  EXPECT_EQ(ec, TransportError::refused);
  EXPECT_EQ(ec.message(), "connection refused");
  EXPECT_EQ(link.counters().open_failures, 1u);
}
