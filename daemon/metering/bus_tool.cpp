#include "daemon/metering/bus_tool.hpp"

#include <stdexcept>

namespace estate::metering {

namespace asio = boost::asio;

ToolBus::ToolBus(const config::BusConfig& bus) : strand_(asio::make_strand(io_)) {
  port_.config = bus;
  auto transport = drivers::make_bus_transport(strand_, port_);
  link_ = std::move(transport.link);
  modbus_ = std::move(transport.modbus);
}

ToolBus::~ToolBus() = default;

void ToolBus::run(std::function<asio::awaitable<void>()> body) {
  std::exception_ptr error;
  asio::co_spawn(strand_, body(), [&error](std::exception_ptr e) { error = e; });
  io_.run();
  io_.restart();
  if (error) std::rethrow_exception(error);
}

config::BusConfig tool_bus_config(config::Protocol protocol, const std::string& serial,
                                  const std::string& tcp, int baud, int timeout_ms,
                                  const std::string& rtu_over_tcp) {
  config::BusConfig b;
  b.id = "cli";
  b.protocol = protocol;
  if (!tcp.empty()) {
    b.kind = config::BusKind::tcp;
    if (!drivers::parse_host_port(tcp, b.host, b.port)) {
      throw std::invalid_argument("--tcp: expected HOST:PORT, got '" + tcp + "'");
    }
  } else if (!rtu_over_tcp.empty()) {
    b.kind = config::BusKind::rtu_over_tcp;
    if (!drivers::parse_host_port(rtu_over_tcp, b.host, b.port)) {
      throw std::invalid_argument("--rtu-over-tcp: expected HOST:PORT, got '" + rtu_over_tcp + "'");
    }
  } else {
    b.kind = config::BusKind::serial;
    b.device = serial;
  }
  const bool meter_line = protocol != config::Protocol::modbus;
  b.baud = baud > 0 ? baud : (meter_line ? 2400 : 9600);
  b.parity = meter_line ? 'E' : 'N';
  if (timeout_ms > 0) b.timeout = std::chrono::milliseconds(timeout_ms);
  else b.timeout = std::chrono::milliseconds(meter_line ? 0 : 500);
  return b;
}

}  // namespace estate::metering
