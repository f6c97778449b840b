// The gates' devices built from the config (GateComponent::build_devices): barriers on an I/O
// module or a serial controller line, cameras, card reader lines. Everything here was checked
// by the device families when the config loaded (drivers/device_families.cpp); a setting that
// did not pass through them is a programming error (std::logic_error), never a refusal at run.
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "daemon/gate/gate_component.hpp"
#include "daemon/gate/gate_detail.hpp"
#include "drivers/meter/meter_driver.hpp"

namespace estate::gate {

namespace asio = boost::asio;
using config::DeviceKind;
using detail::lane_of;

namespace {

void assume(bool validated, const config::DeviceConfig& d, std::string_view key) {
  if (!validated) {
    throw std::logic_error("devices." + d.id + "." + std::string(key) +
                           " was not validated by its device family");
  }
}

int number(const std::string& text, int fallback) {
  return text.empty() ? fallback : std::stoi(text);
}

int option(const config::DeviceConfig& d, const std::string& key, int fallback) {
  auto it = d.extra.find(key);
  return it == d.extra.end() ? fallback : std::stoi(it->second);
}

}  // namespace

void GateComponent::build_devices(const config::SiteConfig& cfg, const access::AccessConfig& ac) {
  // The I/O module a relay or loop names, connected once and shared by its gates.
  auto io_for = [&](const config::DeviceConfig& gate, const std::string& module) -> IoModule& {
    if (auto it = io_modules_.find(module); it != io_modules_.end()) return *it->second;
    const auto* dev = cfg.find_device(module);
    const auto* bus = dev ? cfg.find_bus(dev->bus) : nullptr;
    assume(bus != nullptr, gate, "relay");
    auto io = std::make_unique<IoModule>(
        IoModule{asio::make_strand(services_.io), nullptr, number(dev->address, 1)});
    drivers::ModbusSettings ms;
    ms.tcp = true;
    ms.host = bus->host;
    ms.port = bus->port;
    ms.timeout = bus->timeout;
    io->client = std::make_unique<drivers::ModbusClient>(io->strand, ms);
    return *io_modules_.emplace(module, std::move(io)).first->second;
  };

  // A serial barrier controller: the line of its `barrier` bus, opened once and shared by the
  // controllers on it.
  auto controller_for = [&](const config::DeviceConfig& gate, Gate& g)
      -> std::pair<asio::any_io_executor, std::shared_ptr<drivers::gate::BarrierIo>> {
    const auto* bus = cfg.find_bus(gate.bus);
    assume(bus != nullptr, gate, "bus");
    const std::string model =
        gate.model.empty() ? std::string(drivers::gate::default_controller_model) : gate.model;
    const auto* format = drivers::gate::find_controller_format(model);
    assume(format != nullptr, gate, "model");
    auto& slot = barrier_lines_[bus->id];
    if (!slot) {
      auto strand = asio::make_strand(services_.io);
      slot = std::make_unique<BarrierLine>(BarrierLine{
          strand,
          std::make_shared<drivers::gate::BarrierControllerLine>(
              strand, drivers::make_stream(strand, *bus), *format, drivers::link_options(*bus)),
          model, {}});
    }
    const int address = format->address ? std::stoi(gate.address) : -1;
    slot->gates[address] = gate.id;
    g.drive = "controller " + (address >= 0 ? std::to_string(address) + " " : std::string()) +
              "on bus " + bus->id + " (" + model + ", " + slot->line->describe() + ")";
    return {slot->strand, std::make_shared<drivers::gate::SerialBarrierIo>(slot->line, address)};
  };

  // A relay coil and a loop input on an I/O module.
  auto io_module_for = [&](const config::DeviceConfig& d, Gate& g)
      -> std::pair<asio::any_io_executor, std::shared_ptr<drivers::gate::BarrierIo>> {
    auto relay = drivers::gate::parse_io_point(d.relay);
    assume(relay.has_value(), d, "relay");
    IoModule& io = io_for(d, relay->first);
    drivers::gate::ModbusBarrierPoints points;
    points.unit = io.unit;
    points.relay_coil = relay->second;
    if (!d.loop_input.empty()) {
      auto loop = drivers::gate::parse_io_point(d.loop_input);
      assume(loop.has_value(), d, "loop_input");
      points.loop_input = loop->second;
    } else {
      spdlog::warn("gate {}: no loop_input; the barrier closes on its open timeout only", d.id);
    }
    g.drive = "relay " + d.relay + ", loop " + (d.loop_input.empty() ? "-" : d.loop_input);
    return {io.strand, std::make_shared<drivers::gate::ModbusBarrierIo>(*io.client, points)};
  };

  for (const auto& d : cfg.devices) {
    if (d.kind != DeviceKind::gate) continue;
    Gate g;
    auto [strand, barrier_io] =
        d.barrier == "serial_controller" ? controller_for(d, g) : io_module_for(d, g);
    drivers::gate::BarrierSettings bs;
    bs.id = d.id;
    bs.loop_poll = std::chrono::milliseconds(option(d, "loop_poll_ms", 100));
    bs.open_timeout = std::chrono::seconds(option(d, "open_timeout_s", 30));
    bs.anti_tailgate = ac.anti_tailgate;
    g.device = d;
    g.lane = lane_of(d.lane);
    const std::string id = d.id;
    std::weak_ptr<std::atomic<bool>> alive = alive_;
    g.barrier = std::make_shared<drivers::gate::Barrier>(
        strand, std::move(barrier_io), bs,
        [this, id, alive](const drivers::gate::BarrierEvent& ev) {
          auto a = alive.lock();
          if (a && *a) on_barrier_event(id, ev);
        });
    gates_.emplace(d.id, std::move(g));
  }

  for (const auto& d : cfg.devices) {
    if (d.kind != DeviceKind::camera || d.gate.empty()) continue;
    auto g = gates_.find(d.gate);
    assume(g != gates_.end(), d, "gate");
    // A camera without a lane of its own watches its gate's lane.
    const auto format = drivers::camera::find_push_format(d.model);
    assume(format.has_value(), d, "model");
    cameras_.push_back({d.id, d.secret,
                        d.lane.empty() ? std::string(access::to_string(g->second.lane)) : d.lane,
                        d.require_signature, *format});
    camera_gate_[d.id] = d.gate;
  }

  // Card readers, one listening line per `card` bus; all readers on a line speak its format.
  for (const auto& d : cfg.devices) {
    if (d.kind != DeviceKind::card_reader) continue;
    const auto* bus = cfg.find_bus(d.bus);
    auto g = gates_.find(d.gate);
    const auto* format = drivers::card::find_format(
        d.model.empty() ? std::string(drivers::card::default_model) : d.model);
    assume(bus && g != gates_.end() && format, d, "model");
    const int address = format->address ? std::stoi(d.address) : -1;
    auto& cl = card_lines_[bus->id];
    cl.readers[address] = Reader{d.id, d.gate, d.lane.empty() ? g->second.lane : lane_of(d.lane)};
    if (!cl.line) {
      auto strand = asio::make_strand(services_.io);
      std::weak_ptr<std::atomic<bool>> alive = alive_;
      const std::string bus_id = bus->id;
      cl.line = std::make_shared<drivers::card::CardReaderLine>(
          strand, drivers::card::make_card_stream(strand, *bus), *format,
          drivers::link_options(*bus),
          [this, alive, bus_id](const drivers::card::CardFrame& f) {
            auto a = alive.lock();
            if (a && *a) on_card(bus_id, f);
          });
    }
  }
}

}  // namespace estate::gate
