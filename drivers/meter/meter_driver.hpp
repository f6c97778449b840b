// Meter drivers: one per bus protocol, turning the bus's I/O into typed Readings and carrying
// out control commands (valve, relay) with the device's answer checked. A driver runs on its
// bus strand, one transaction at a time, through the bus's Link (M-Bus, DL/T 645, CJ/T 188) or
// ModbusMaster (libmodbus's ModbusClient for Modbus RTU/TCP, ModbusRtuMaster for RTU over TCP).
// Thread-safety: a driver belongs to its bus strand.
// Errors: error_code values (TransportError, modbus_category()); make_meter_driver throws
// std::invalid_argument naming the device and what is wrong with its config.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

#include "drivers/device_config.hpp"
#include "drivers/meter/reading.hpp"
#include "drivers/transports/link.hpp"
#include "drivers/transports/modbus_master.hpp"

namespace estate::drivers::meter {
class ModelRegistry;
}

namespace estate::drivers {

struct BusPort {
  BusConfig config;
  Link* link = nullptr;             // mbus, dlt645, cjt188
  ModbusMaster* modbus = nullptr;   // modbus
  const meter::ModelRegistry* models = nullptr;  // modbus register maps
};

enum class MeterCommand { valve_open, valve_close, relay_trip, relay_close };
std::string_view to_string(MeterCommand c);

class MeterDriver {
 public:
  virtual ~MeterDriver() = default;
  // Reads the meter; appends readings stamped with the time of the answer.
  virtual boost::asio::awaitable<boost::system::error_code> poll(std::vector<Reading>& out) = 0;
  // Carries out a command and checks the device's answer. unsupported when the device has no
  // such actuator.
  virtual boost::asio::awaitable<boost::system::error_code> command(MeterCommand c);
  // What the device confirmed of the last command, read back from it ("relay disconnected"),
  // or empty when the driver has nothing to add to its error code.
  virtual std::string last_outcome() const { return {}; }
};

std::unique_ptr<MeterDriver> make_meter_driver(const DeviceConfig& device, BusPort& port);

// A meter bus's transport, which its drivers share: a Link (M-Bus, DL/T 645, CJ/T 188; under
// the master for Modbus RTU over TCP) and a ModbusMaster (libmodbus's ModbusClient for Modbus
// RTU/TCP, ModbusRtuMaster for RTU over TCP). Destroy `modbus` before `link`.
struct BusTransport {
  std::unique_ptr<Link> link;
  std::unique_ptr<ModbusMaster> modbus;
  std::string describe() const { return modbus ? modbus->describe() : link->describe(); }
};

// Builds the transport `port.config` names on `strand` and points `port` at it. Nothing is
// opened: the first transaction connects.
BusTransport make_bus_transport(boost::asio::any_io_executor strand, BusPort& port);

// Link timing for a bus (answer timeout, character timeout, inter-frame gap) from its protocol
// and baud rate, with the bus config's timeout_ms / inter_frame_gap_ms / echo applied.
LinkOptions link_options(const BusConfig& bus);

// The frame scanners the codecs provide, adapted to Link: leading bytes that cannot start a
// frame are skipped (line noise, FE wake-up bytes); a frame with a bad checksum is reported.
FrameScanner mbus_scanner();
FrameScanner dlt645_scanner();
FrameScanner cjt188_scanner();

// Exact decimal of a codec's double, rounded to at most `decimals` places (the meters' BCD
// registers have at most 4): 12345.67 -> {1234567, -2}.
Decimal decimal_from_double(double v, int decimals = 4);

}  // namespace estate::drivers
