// Technician tools (`scan`, `read`, `valve`, `relay`) open a bus themselves, outside the daemon:
// a private io_context and strand, the same Link / Modbus master / drivers the daemon uses, and
// one coroutine run to completion. Not for use inside the daemon.
// Thread-safety: one ToolBus per command, used from the calling thread.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "daemon/config/site_config.hpp"
#include "drivers/meter/meter_driver.hpp"

namespace estate::metering {

class ToolBus {
 public:
  explicit ToolBus(const config::BusConfig& bus);
  ~ToolBus();

  drivers::BusPort& port() { return port_; }
  drivers::Link* link() { return link_.get(); }
  drivers::ModbusMaster* modbus() { return modbus_.get(); }
  boost::asio::any_io_executor strand() { return strand_; }

  // Runs `body` on the bus strand until it finishes; rethrows its exception.
  void run(std::function<boost::asio::awaitable<void>()> body);

 private:
  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::unique_ptr<drivers::Link> link_;            // also under Modbus RTU over TCP
  std::unique_ptr<drivers::ModbusMaster> modbus_;
  drivers::BusPort port_;
};

// A bus config for a tool from its flags: serial device, TCP "HOST:PORT" or a serial device
// server's "HOST:PORT" (`rtu_over_tcp`: the line's bytes through TCP), protocol and baud
// (0: the protocol's default: 2400 for M-Bus, DL/T 645 and CJ/T 188, 9600 for Modbus) with the
// protocol's default parity. Throws std::invalid_argument for a malformed HOST:PORT.
config::BusConfig tool_bus_config(config::Protocol protocol, const std::string& serial,
                                  const std::string& tcp, int baud, int timeout_ms,
                                  const std::string& rtu_over_tcp = {});

}  // namespace estate::metering
