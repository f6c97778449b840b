#include "drivers/device_config.hpp"

namespace estate::drivers {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::modbus: return "modbus";
    case Protocol::mbus: return "mbus";
    case Protocol::dlt645: return "dlt645";
    case Protocol::cjt188: return "cjt188";
    case Protocol::card: return "card";
    case Protocol::barrier: return "barrier";
    case Protocol::pos: return "pos";
    case Protocol::escpos: return "escpos";
  }
  return "?";
}

std::string_view to_string(BusKind k) {
  switch (k) {
    case BusKind::serial: return "serial";
    case BusKind::tcp: return "tcp";
    case BusKind::rtu_over_tcp: return "rtu_over_tcp";
    case BusKind::usb: return "usb";
  }
  return "?";
}

std::string_view to_string(DeviceKind k) {
  switch (k) {
    case DeviceKind::meter: return "meter";
    case DeviceKind::gate: return "gate";
    case DeviceKind::card_reader: return "card_reader";
    case DeviceKind::camera: return "camera";
    case DeviceKind::kiosk: return "kiosk";
    case DeviceKind::printer: return "printer";
    case DeviceKind::pos: return "pos";
    case DeviceKind::io_module: return "io_module";
  }
  return "?";
}

const Location& DeviceConfig::where(std::string_view key) const {
  auto it = key_origins.find(key);
  return it != key_origins.end() ? it->second : origin;
}

std::string DeviceConfig::key_path(std::string_view key) const {
  return "devices." + id + "." + std::string(key);
}

}  // namespace estate::drivers
