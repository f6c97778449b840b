#include "drivers/meter/meter_driver.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "drivers/transports/modbus_client.hpp"
#include "drivers/transports/modbus_rtu_master.hpp"
#include "drivers/transports/stream.hpp"
#include "protocols/cjt188/cjt188.hpp"
#include "protocols/dlt645/dlt645.hpp"
#include "protocols/mbus/link.hpp"
#include "protocols/modbus/rtu.hpp"

namespace estate::drivers {

namespace asio = boost::asio;
using boost::system::error_code;

// Defined with each protocol's driver.
std::unique_ptr<MeterDriver> make_mbus_driver(const DeviceConfig&, BusPort&);
std::unique_ptr<MeterDriver> make_dlt645_driver(const DeviceConfig&, BusPort&);
std::unique_ptr<MeterDriver> make_cjt188_driver(const DeviceConfig&, BusPort&);
std::unique_ptr<MeterDriver> make_modbus_driver(const DeviceConfig&, BusPort&);

std::string_view to_string(MeterCommand c) {
  switch (c) {
    case MeterCommand::valve_open: return "valve open";
    case MeterCommand::valve_close: return "valve close";
    case MeterCommand::relay_trip: return "relay trip";
    case MeterCommand::relay_close: return "relay close";
  }
  return "command";
}

asio::awaitable<error_code> MeterDriver::command(MeterCommand) {
  co_return make_error_code(TransportError::unsupported);
}

std::unique_ptr<MeterDriver> make_meter_driver(const DeviceConfig& device, BusPort& port) {
  switch (port.config.protocol) {
    case Protocol::mbus: return make_mbus_driver(device, port);
    case Protocol::dlt645: return make_dlt645_driver(device, port);
    case Protocol::cjt188: return make_cjt188_driver(device, port);
    case Protocol::modbus: return make_modbus_driver(device, port);
    default: break;
  }
  throw std::invalid_argument("device " + device.id + ": bus " + port.config.id + " speaks " +
                              std::string(to_string(port.config.protocol)) +
                              ", not a meter protocol (mbus, dlt645, cjt188, modbus)");
}

BusTransport make_bus_transport(boost::asio::any_io_executor strand, BusPort& port) {
  const BusConfig& bus = port.config;
  BusTransport t;
  if (bus.protocol != Protocol::modbus || bus.kind == BusKind::rtu_over_tcp) {
    t.link = std::make_unique<Link>(strand, make_stream(strand, bus), link_options(bus));
    port.link = t.link.get();
  }
  if (bus.protocol == Protocol::modbus && bus.kind == BusKind::rtu_over_tcp) {
    // libmodbus has no RTU-over-TCP backend: RTU frames go over our own Link.
    t.modbus = std::make_unique<ModbusRtuMaster>(*t.link);
  } else if (bus.protocol == Protocol::modbus) {
    ModbusSettings s;
    s.tcp = bus.kind == BusKind::tcp;
    s.host = bus.host;
    s.port = bus.port;
    s.serial = serial_settings(bus);
    s.timeout = bus.timeout;
    t.modbus = std::make_unique<ModbusClient>(strand, s);
  }
  port.modbus = t.modbus.get();
  return t;
}

LinkOptions link_options(const BusConfig& bus) {
  using namespace std::chrono;
  LinkOptions o;
  const auto s = serial_settings(bus);
  const auto ct = char_time(s);
  const auto bit = ct / bits_per_char(s);
  switch (bus.protocol) {
    case Protocol::mbus:
      // EN 13757-2 §5 timing: a slave answers within 330 bit times + 50 ms; the master leaves
      // at least 33 bit times (3 characters) between frames.
      o.answer_timeout = duration_cast<milliseconds>(bit * 330) + milliseconds(50);
      o.min_gap = bit * 33;
      break;
    case Protocol::dlt645:
    case Protocol::cjt188:
      // DL/T 645-2007 §5: the meter answers within 500 ms; characters of a frame follow each
      // other within 500 ms; the master waits 20 ms... 500 ms before the next request.
      o.answer_timeout = milliseconds(500);
      o.min_gap = milliseconds(20);
      break;
    case Protocol::modbus:
      // Modbus RTU frames on a Link (RTU over TCP): the bus timeout is the answer timeout, as
      // with libmodbus; frames are kept t3.5 of the line behind the device server apart
      // (Modbus over Serial Line V1.02 §2.5.1.1).
      o.answer_timeout = milliseconds(0);
      o.min_gap = protocols::modbus::rtu::t35(s.baud, bits_per_char(s));
      o.max_frame = protocols::modbus::rtu::kMaxAdu + 4;
      break;
    default:
      break;
  }
  // The bus's own timeout wins when it is longer (device servers, slow converters).
  o.answer_timeout = std::max(o.answer_timeout, bus.timeout);
  // A frame arrives in one go: allow 30 character times plus scheduling slack between bytes.
  o.char_timeout = std::max(milliseconds(50), duration_cast<milliseconds>(ct * 30));
  if (bus.kind != BusKind::serial) o.char_timeout = std::max(o.char_timeout, milliseconds(200));
  if (bus.inter_frame_gap.count() > 0) o.min_gap = bus.inter_frame_gap;
  o.echo = bus.echo;
  return o;
}

FrameScanner mbus_scanner() {
  return [](std::span<const std::uint8_t> buf) {
    FrameScan out;
    for (std::size_t i = 0; i < buf.size(); ++i) {
      auto r = protocols::mbus::scan_frame(buf.subspan(i));
      if (r.status == protocols::mbus::FrameScan::Status::complete) {
        out.status = FrameScan::Status::complete;
        out.length = r.length;
        out.skip = i;
        return out;
      }
      if (r.status == protocols::mbus::FrameScan::Status::need_more) {
        out.skip = i;
        return out;
      }
      if (i == 0 && r.error.message.find("checksum") != std::string::npos) {
        out.status = FrameScan::Status::bad_checksum;
        out.message = r.error.describe();
        return out;
      }
    }
    out.skip = buf.size();
    return out;
  };
}

namespace {
template <class Scan>
FrameScanner length_driven(Scan scan) {
  return [scan](std::span<const std::uint8_t> buf) {
    FrameScan out;
    std::size_t base = 0;
    while (base < buf.size()) {
      auto r = scan(buf.subspan(base));
      using S = decltype(r.status);
      if (r.status == S::complete) {
        out.status = FrameScan::Status::complete;
        out.skip = base + r.start;
        out.length = r.length;
        return out;
      }
      if (r.status == S::need_more) {
        out.skip = base + r.start;
        return out;
      }
      if (r.error.message.find("checksum") != std::string::npos) {
        out.status = FrameScan::Status::bad_checksum;
        out.message = r.error.describe();
        return out;
      }
      base += std::max<std::size_t>(1, r.skip);
    }
    out.skip = buf.size();
    return out;
  };
}
}  // namespace

FrameScanner dlt645_scanner() { return length_driven(&protocols::dlt645::scan); }
FrameScanner cjt188_scanner() { return length_driven(&protocols::cjt188::scan); }

Decimal decimal_from_double(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string t = buf;
  if (t.find('.') != std::string::npos) {
    while (!t.empty() && t.back() == '0') t.pop_back();
    if (!t.empty() && t.back() == '.') t.pop_back();
  }
  auto d = parse_decimal(t);
  return d ? *d : Decimal{static_cast<std::int64_t>(std::llround(v)), 0};
}

}  // namespace estate::drivers
