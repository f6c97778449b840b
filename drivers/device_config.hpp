// The configuration of buses and devices as the drivers take it: what site config files say
// about a line (BusConfig) and a device on it (DeviceConfig). The site config loader
// (daemon/config/site_config.cpp) fills them; each device family checks its own settings
// (drivers/device_families.hpp) and builds its driver from them. Plain values.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "drivers/diagnostics.hpp"

namespace estate::drivers {

enum class BusKind { serial, tcp, rtu_over_tcp, usb };
enum class Protocol { modbus, mbus, dlt645, cjt188, card, barrier, pos, escpos };

struct BusConfig {
  std::string id;
  BusKind kind = BusKind::serial;
  Protocol protocol = Protocol::modbus;
  std::string device;     // serial: /dev/ttyUSB0; usb: VID:PID[@BUS-PORT.PORT]
  std::string host;       // tcp / rtu_over_tcp
  int port = 0;
  int baud = 9600;
  char parity = 'N';      // N, E, O
  int data_bits = 8;
  int stop_bits = 1;
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds inter_frame_gap{0};  // 0: the protocol's default
  bool echo = false;      // the adapter echoes what we send; discard it before the answer
  Location origin;
};

enum class DeviceKind { meter, gate, card_reader, camera, kiosk, printer, pos, io_module };

struct DeviceConfig {
  std::string id;
  DeviceKind kind = DeviceKind::meter;
  std::string bus;              // empty for devices that reach us (cameras, kiosks)
  std::string address;          // protocol-specific, validated against the bus protocol
  std::string model;            // Modbus register map, printer width, reader frame format...
  std::string medium;           // meters: water, hot_water, electricity, gas, heat
  std::chrono::seconds poll_interval{60};
  int counter_digits = 0;       // meters: digits before the decimal point (rollover); 0 = none
  int offline_after_polls = 3;  // meters: consecutive failed polls before the meter is offline
  std::string lane;             // gates/readers/cameras: entry or exit
  std::string gate;             // readers/cameras: the gate they open
  std::string relay;            // gates: io_module device id + ":" + coil, or empty for serial
  std::string loop_input;       // gates: io_module device id + ":" + input
  std::string barrier;          // gates: what drives the arm: io_module (empty) or serial_controller
  std::string secret;           // cameras: shared secret of the HTTP push
  bool require_signature = false;  // cameras: only signed pushes (HMAC), never the bare secret
  std::string valve_policy;     // meters: none, close_on_zero
  std::map<std::string, std::string> extra;  // model-specific options
  Location origin;              // the device's mapping
  // Where each key given was written ("model", "options.open_timeout_s"), for errors.
  std::map<std::string, Location, std::less<>> key_origins;

  // Where `key` was written; the device's own place when it was not given.
  const Location& where(std::string_view key) const;
  // "devices.<id>.<key>": how errors name a device's key.
  std::string key_path(std::string_view key) const;
};

std::string_view to_string(Protocol p);
std::string_view to_string(BusKind k);
std::string_view to_string(DeviceKind k);

}  // namespace estate::drivers
