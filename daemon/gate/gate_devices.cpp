// The gates' devices from the config (GateComponent::build_devices): each built by its device
// family (drivers/device_make.hpp: barriers on an I/O module or a serial controller line,
// cameras, card reader lines), wired here to the gate's decisions.
#include <stdexcept>

#include "daemon/gate/gate_component.hpp"
#include "daemon/gate/gate_detail.hpp"
#include "drivers/device_families.hpp"
#include "drivers/device_make.hpp"

namespace estate::gate {

using config::DeviceKind;
using detail::lane_of;

void GateComponent::build_devices(const config::SiteConfig& cfg, const access::AccessConfig& ac) {
  const drivers::DeviceSite site{cfg.buses, cfg.devices};
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  const drivers::DeviceContext ctx{
      services_.io.get_executor(), site, &lines_, nullptr,
      [this, alive](const std::string& bus, const drivers::card::CardFrame& f) {
        auto a = alive.lock();
        if (a && *a) on_card(bus, f);
      }};

  for (const auto& d : cfg.devices) {
    if (d.kind != DeviceKind::gate) continue;
    auto drive = drivers::make_device_as<drivers::GateDrive>(ctx, d);
    drive.settings.anti_tailgate = ac.anti_tailgate;
    Gate g;
    g.device = d;
    g.lane = lane_of(d.lane);
    g.drive = std::move(drive.drive);
    const std::string id = d.id;
    g.barrier = std::make_shared<drivers::gate::Barrier>(
        drive.strand, std::move(drive.io), drive.settings,
        [this, id, alive](const drivers::gate::BarrierEvent& ev) {
          auto a = alive.lock();
          if (a && *a) on_barrier_event(id, ev);
        });
    gates_.emplace(d.id, std::move(g));
  }

  for (const auto& d : cfg.devices) {
    if (d.kind != DeviceKind::camera || d.gate.empty()) continue;
    auto g = gates_.find(d.gate);
    if (g == gates_.end()) throw std::logic_error("devices." + d.id + ".gate was not validated");
    auto camera = drivers::make_device_as<drivers::camera::CameraSecret>(ctx, d);
    // A camera without a lane of its own watches its gate's lane.
    if (camera.lane.empty()) camera.lane = std::string(access::to_string(g->second.lane));
    cameras_.push_back(std::move(camera));
    camera_gate_[d.id] = d.gate;
  }

  // Card readers, one listening line per `card` bus; all readers on a line speak its format.
  for (const auto& d : cfg.devices) {
    if (d.kind != DeviceKind::card_reader) continue;
    auto g = gates_.find(d.gate);
    if (g == gates_.end()) throw std::logic_error("devices." + d.id + ".gate was not validated");
    auto seat = drivers::make_device_as<drivers::CardReaderSeat>(ctx, d);
    auto& cl = card_lines_[seat.bus];
    cl.line = seat.line;
    cl.readers[seat.address] =
        Reader{d.id, d.gate, d.lane.empty() ? g->second.lane : lane_of(d.lane)};
  }
}

}  // namespace estate::gate
