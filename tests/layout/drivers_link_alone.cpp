// Links against estate_drivers only (no estate_daemon): the drivers' config types, their
// validators and their constructors stand on their own. A good site passes, a bad one fails.
#include <cstdio>

#include "drivers/device_families.hpp"
#include "drivers/meter/meter_driver.hpp"

int main() {
  using namespace estate::drivers;
  std::vector<BusConfig> buses(1);
  buses[0].id = "dlt";
  buses[0].protocol = Protocol::dlt645;
  std::vector<DeviceConfig> devices(1);
  devices[0].id = "m1";
  devices[0].bus = "dlt";
  devices[0].address = "230610000101";
  Diagnostics good;
  validate_devices({buses, devices, nullptr}, good);
  devices[0].address = "1234";
  Diagnostics bad;
  validate_devices({buses, devices, nullptr}, bad);
  const auto options = link_options(buses[0]);
  (void)options;
  if (!good.ok() || bad.ok()) {
    std::fprintf(stderr, "good: %s\nbad: %s\n", good.to_string().c_str(), bad.to_string().c_str());
    return 1;
  }
  std::printf("%s", bad.to_string().c_str());
  return 0;
}
