// The device families and their configuration checks, one table like the domain sections'
// (daemon/config/domain_sections.cpp): a meter per bus protocol (modbus, mbus, dlt645,
// cjt188), gate, io_module, card_reader, camera, pos, printer. The site config loader runs the
// validator of every device, so `check-config` refuses whatever the drivers would refuse when
// `run` builds them, each error with file:line:column and devices.<id>.<key>. The drivers'
// make() builds only what validated (drivers/device_make.hpp); the daemon's components
// (the meter scheduler, the gates, the kiosk) wire what it returns.
// Thread-safety: the table is constant; validators are pure functions of their arguments.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "drivers/device_config.hpp"
#include "drivers/diagnostics.hpp"

namespace estate::drivers {

namespace meter {
class ModelRegistry;
}
struct DeviceContext;
struct BuiltDevice;

// What a validator sees of the rest of the site: the buses and devices (references, one
// frame format per line, distinct addresses) and the Modbus register maps.
struct DeviceSite {
  const std::vector<BusConfig>& buses;
  const std::vector<DeviceConfig>& devices;
  const meter::ModelRegistry* models = nullptr;  // null: no Modbus meter in the site

  const BusConfig* find_bus(std::string_view id) const;
  const DeviceConfig* find_device(std::string_view id) const;
};

struct DeviceFamily {
  std::string_view name;               // "meter/modbus", "gate", "card_reader", ...
  DeviceKind kind;
  std::optional<Protocol> protocol;    // meters: the protocol of their bus
  // `bus` is the device's bus (null when it names none or one that does not exist; that is
  // reported by the loader).
  void (*validate)(const DeviceSite& site, const BusConfig* bus, const DeviceConfig& device,
                   Diagnostics& diag);
  // Builds a device its validator passed (drivers/device_make.hpp).
  BuiltDevice (*make)(const DeviceContext& ctx, const DeviceConfig& device);
};

std::span<const DeviceFamily> device_families();
// The family a device belongs to; nullptr for a kiosk (nothing to check) or a meter whose bus
// speaks no meter protocol.
const DeviceFamily* family_of(const DeviceConfig& device, const BusConfig* bus);
// Runs every device's validator, in the order of the devices.
void validate_devices(const DeviceSite& site, Diagnostics& diag);

}  // namespace estate::drivers
