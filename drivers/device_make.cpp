#include "drivers/device_make.hpp"

#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "drivers/camera/plate_push.hpp"
#include "drivers/card/card_frames.hpp"
#include "drivers/device_families.hpp"
#include "drivers/gate/barrier_frames.hpp"
#include "drivers/gate/modbus_barrier.hpp"
#include "drivers/pos/blocking_link.hpp"
#include "drivers/printer/usb_printer_link.hpp"
#include "protocols/pos/ecr.hpp"

namespace estate::drivers {

namespace asio = boost::asio;

BuiltDevice make_device(const DeviceContext& ctx, const DeviceConfig& device) {
  // A meter's bus is the port it is built on.
  const auto* bus = ctx.port ? &ctx.port->config : ctx.site.find_bus(device.bus);
  const auto* family = family_of(device, bus);
  if (!family) return std::monostate{};
  return family->make(ctx, device);
}

namespace {

// A setting that did not pass through its validator (device_families.cpp).
void assume(bool validated, const DeviceConfig& d, std::string_view key) {
  if (!validated) {
    throw std::logic_error("devices." + d.id + "." + std::string(key) +
                           " was not validated by its device family");
  }
}

const BusConfig& bus_of(const DeviceContext& ctx, const DeviceConfig& d) {
  const auto* bus = ctx.site.find_bus(d.bus);
  assume(bus != nullptr, d, "bus");
  return *bus;
}

DeviceLines& lines_of(const DeviceContext& ctx, const DeviceConfig& d) {
  if (!ctx.lines) throw std::logic_error("devices." + d.id + ": built without its lines");
  return *ctx.lines;
}

// An integer option its validator checked (options.<key>), or `fallback` when absent.
long option(const DeviceConfig& d, const std::string& key, long fallback) {
  auto it = d.extra.find(key);
  return it == d.extra.end() ? fallback : std::stol(it->second);
}

// The I/O module `module` names, connected once and shared by every gate it serves.
IoModuleLink& io_module(const DeviceContext& ctx, const DeviceConfig& from,
                        const std::string& module) {
  auto& modules = lines_of(ctx, from).io_modules;
  if (auto it = modules.find(module); it != modules.end()) return *it->second;
  const auto* dev = ctx.site.find_device(module);
  assume(dev != nullptr, from, "relay");
  const auto& bus = bus_of(ctx, *dev);
  auto io = std::make_unique<IoModuleLink>();
  io->strand = asio::make_strand(ctx.executor);
  io->unit = dev->address.empty() ? 1 : std::stoi(dev->address);
  ModbusSettings ms;
  ms.tcp = true;
  ms.host = bus.host;
  ms.port = bus.port;
  ms.timeout = bus.timeout;
  io->client = std::make_unique<ModbusClient>(io->strand, ms);
  return *modules.emplace(module, std::move(io)).first->second;
}

// A serial barrier controller: the line of its `barrier` bus, opened once and shared by the
// controllers on it.
void controller_drive(const DeviceContext& ctx, const DeviceConfig& d, GateDrive& g) {
  const auto& bus = bus_of(ctx, d);
  const std::string model =
      d.model.empty() ? std::string(gate::default_controller_model) : d.model;
  const auto* format = gate::find_controller_format(model);
  assume(format != nullptr, d, "model");
  auto& slot = lines_of(ctx, d).controllers[bus.id];
  if (!slot.line) {
    slot.strand = asio::make_strand(ctx.executor);
    slot.line = std::make_shared<gate::BarrierControllerLine>(
        slot.strand, make_stream(slot.strand, bus), *format, link_options(bus));
    slot.model = model;
  }
  const int address = format->address ? std::stoi(d.address) : -1;
  g.strand = slot.strand;
  g.io = std::make_shared<gate::SerialBarrierIo>(slot.line, address);
  g.drive = "controller " + (address >= 0 ? std::to_string(address) + " " : std::string()) +
            "on bus " + bus.id + " (" + model + ", " + slot.line->describe() + ")";
}

// A relay coil and a loop input on an I/O module.
void relay_drive(const DeviceContext& ctx, const DeviceConfig& d, GateDrive& g) {
  auto relay = gate::parse_io_point(d.relay);
  assume(relay.has_value(), d, "relay");
  IoModuleLink& io = io_module(ctx, d, relay->first);
  gate::ModbusBarrierPoints points;
  points.unit = io.unit;
  points.relay_coil = relay->second;
  if (!d.loop_input.empty()) {
    auto loop = gate::parse_io_point(d.loop_input);
    assume(loop.has_value(), d, "loop_input");
    points.loop_input = loop->second;
  } else {
    spdlog::warn("gate {}: no loop_input; the barrier closes on its open timeout only", d.id);
  }
  g.strand = io.strand;
  g.io = std::make_shared<gate::ModbusBarrierIo>(*io.client, points);
  g.drive = "relay " + d.relay + ", loop " + (d.loop_input.empty() ? "-" : d.loop_input);
}

// The byte link of a kiosk device: its serial line, its TCP peer, or a USB printer.
std::unique_ptr<BlockingLink> link_for(const BusConfig& bus, const DeviceConfig& d) {
  if (bus.kind == BusKind::serial) {
    return make_blocking_serial_link(bus.device, static_cast<unsigned>(bus.baud));
  }
  if (bus.kind == BusKind::usb) {
#ifdef ESTATE_EDGE_WITH_USB
    std::string error;
    auto sel = card::parse_usb_selector(bus.device, error);
    if (sel && d.kind == DeviceKind::printer) return printer::make_usb_printer_link(*sel);
#endif
    assume(false, d, "bus");
  }
  return make_blocking_tcp_link(bus.host, static_cast<std::uint16_t>(bus.port), bus.timeout * 3);
}

}  // namespace

BuiltDevice make_meter_device(const DeviceContext& ctx, const DeviceConfig& d) {
  if (!ctx.port) throw std::logic_error("devices." + d.id + ": a meter is built on its bus's port");
  return make_meter_driver(d, *ctx.port);
}

BuiltDevice make_gate_device(const DeviceContext& ctx, const DeviceConfig& d) {
  GateDrive g;
  if (d.barrier == "serial_controller") {
    controller_drive(ctx, d, g);
  } else {
    relay_drive(ctx, d, g);
  }
  g.settings.id = d.id;
  g.settings.loop_poll = std::chrono::milliseconds(option(d, "loop_poll_ms", 100));
  g.settings.open_timeout = std::chrono::seconds(option(d, "open_timeout_s", 30));
  return g;
}

BuiltDevice make_io_module_device(const DeviceContext& ctx, const DeviceConfig& d) {
  return &io_module(ctx, d, d.id);
}

BuiltDevice make_card_reader_device(const DeviceContext& ctx, const DeviceConfig& d) {
  const auto& bus = bus_of(ctx, d);
  const auto* format =
      card::find_format(d.model.empty() ? std::string(card::default_model) : d.model);
  assume(format != nullptr, d, "model");
  auto& cl = lines_of(ctx, d).card_readers[bus.id];
  if (!cl.line) {
    cl.strand = asio::make_strand(ctx.executor);
    cl.line = std::make_shared<card::CardReaderLine>(
        cl.strand, card::make_card_stream(cl.strand, bus), *format, link_options(bus),
        [on_card = ctx.on_card, bus_id = bus.id](const card::CardFrame& f) {
          if (on_card) on_card(bus_id, f);
        });
  }
  return CardReaderSeat{bus.id, format->address ? std::stoi(d.address) : -1, cl.line};
}

BuiltDevice make_camera_device(const DeviceContext&, const DeviceConfig& d) {
  const auto format = camera::find_push_format(d.model);
  assume(format.has_value(), d, "model");
  // An empty lane: the gate's (the gate component knows its lanes).
  camera::CameraSecret cam{d.id, d.secret, d.lane, d.require_signature, *format, std::nullopt};
  if (*format == camera::PushFormat::json_fields) {
    std::vector<camera::JsonFieldsProblem> problems;
    cam.json_fields = camera::json_fields_format(d.extra, problems);
    assume(cam.json_fields.has_value(), d, "options");
  }
  return cam;
}

BuiltDevice make_pos_device(const DeviceContext& ctx, const DeviceConfig& d) {
  const auto& bus = bus_of(ctx, d);
  const auto* protocol = protocols::pos::find_protocol(
      d.model.empty() ? protocols::pos::default_protocol : std::string_view(d.model));
  assume(protocol != nullptr, d, "model");
  auto t = pos::timing_of(*protocol,
                          std::chrono::milliseconds(option(d, "response_timeout_ms", 60000)));
  t.ack_timeout = std::max(bus.timeout, std::chrono::milliseconds(200));
  PosDevice out;
  out.terminal = std::make_unique<pos::EcrTerminal>(link_for(bus, d), *protocol, t);
  out.unknown_retry = std::chrono::milliseconds(option(d, "unknown_retry_ms", 5000));
  return out;
}

BuiltDevice make_printer_device(const DeviceContext& ctx, const DeviceConfig& d) {
  const auto& bus = bus_of(ctx, d);
  auto width = protocols::escpos::parse_paper_width(d.model.empty() ? "80mm" : d.model);
  assume(width.has_value(), d, "model");
  return PrinterDevice{std::make_unique<printer::EscposPrinter>(link_for(bus, d), bus.timeout * 3),
                       *width};
}

}  // namespace estate::drivers
