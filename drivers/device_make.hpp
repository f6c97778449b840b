// What each device family's make() builds (drivers/device_families.hpp): the driver object of
// one configured device, from a config its validator passed. The daemon's components only
// wire what these return (the meter scheduler, the gates, the kiosk); a setting make() meets
// that did not pass its validator is a programming error (std::logic_error), never a refusal at
// run.
//
// Lines several devices share are opened once, by the first device that needs them, and kept
// in DeviceLines: a serial barrier controller bus, a card reader bus, an I/O module.
// Nothing is connected here: each line connects on its first transaction (or start()).
//
// Thread-safety: make() runs on the thread that builds the components, before they start.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "drivers/camera/anpr_push.hpp"
#include "drivers/card/card_reader.hpp"
#include "drivers/gate/barrier.hpp"
#include "drivers/gate/serial_barrier.hpp"
#include "drivers/meter/meter_driver.hpp"
#include "drivers/pos/ecr_terminal.hpp"
#include "drivers/printer/escpos_printer.hpp"
#include "drivers/transports/modbus_client.hpp"
#include "protocols/escpos/escpos.hpp"

namespace estate::drivers {

struct DeviceSite;

// An I/O module reached over Modbus TCP: its relays drive barriers, its inputs are loops.
struct IoModuleLink {
  boost::asio::any_io_executor strand;
  std::unique_ptr<ModbusClient> client;
  int unit = 1;
};

struct DeviceLines {
  struct ControllerLine {
    boost::asio::any_io_executor strand;
    std::shared_ptr<gate::BarrierControllerLine> line;
    std::string model;
  };
  struct CardLine {
    boost::asio::any_io_executor strand;
    std::shared_ptr<card::CardReaderLine> line;
  };
  std::map<std::string, std::unique_ptr<IoModuleLink>> io_modules;  // by device id
  std::map<std::string, ControllerLine> controllers;                // by bus id
  std::map<std::string, CardLine> card_readers;                     // by bus id
};

// What make() is given besides the device.
struct DeviceContext {
  boost::asio::any_io_executor executor;  // lines get a strand of it
  const DeviceSite& site;
  DeviceLines* lines = nullptr;           // gates, I/O modules and card readers
  BusPort* port = nullptr;                // meters: their bus's port (the scheduler's);
                                          // its config is their bus
  // Card readers: each frame a line reads, with the line's bus id.
  std::function<void(const std::string& bus, const card::CardFrame&)> on_card;
};

// A gate's barrier drive: a relay and loop on an I/O module, or a serial barrier controller.
struct GateDrive {
  boost::asio::any_io_executor strand;  // the barrier runs on its line's strand
  std::shared_ptr<gate::BarrierIo> io;
  gate::BarrierSettings settings;       // id, loop poll, open timeout (anti-tailgate: the site's)
  std::string drive;                    // "relay io-1:0, loop io-1:1", "controller 2 on bus ..."
};

// A card reader's seat on its bus's line.
struct CardReaderSeat {
  std::string bus;
  int address = -1;  // -1: the one reader of a format without addresses
  std::shared_ptr<card::CardReaderLine> line;
};

struct PosDevice {
  std::unique_ptr<pos::EcrTerminal> terminal;
  std::chrono::milliseconds unknown_retry{5000};  // options.unknown_retry_ms
};

struct PrinterDevice {
  std::unique_ptr<printer::EscposPrinter> printer;
  protocols::escpos::PaperWidth width = protocols::escpos::PaperWidth::mm80;
};

struct BuiltDevice {
  using Variant = std::variant<std::monostate,                // a kiosk: nothing
                               std::unique_ptr<MeterDriver>,  // meter/<protocol>
                               GateDrive,                     // gate
                               IoModuleLink*,                 // io_module
                               CardReaderSeat,                // card_reader
                               camera::CameraSecret,          // camera
                               PosDevice,                     // pos
                               PrinterDevice>;                // printer
  Variant device;

  template <class T>
    requires(!std::is_same_v<std::remove_cvref_t<T>, BuiltDevice> &&
             std::is_constructible_v<Variant, T>)
  BuiltDevice(T&& t) : device(std::forward<T>(t)) {}  // NOLINT: implicit by design
};

// Builds `device` through its family (device_families.hpp). A device no family claims (a kiosk)
// builds to std::monostate.
BuiltDevice make_device(const DeviceContext& ctx, const DeviceConfig& device);

// make_device for a device whose kind the caller knows: the alternative of that kind.
template <class T>
T make_device_as(const DeviceContext& ctx, const DeviceConfig& device) {
  auto built = make_device(ctx, device);
  if (auto* t = std::get_if<T>(&built.device)) return std::move(*t);
  throw std::logic_error("devices." + device.id + " built as another family");
}

// The families' make() functions (device_make.cpp), referenced by the table in
// device_families.cpp.
BuiltDevice make_meter_device(const DeviceContext& ctx, const DeviceConfig& d);
BuiltDevice make_gate_device(const DeviceContext& ctx, const DeviceConfig& d);
BuiltDevice make_io_module_device(const DeviceContext& ctx, const DeviceConfig& d);
BuiltDevice make_card_reader_device(const DeviceContext& ctx, const DeviceConfig& d);
BuiltDevice make_camera_device(const DeviceContext& ctx, const DeviceConfig& d);
BuiltDevice make_pos_device(const DeviceContext& ctx, const DeviceConfig& d);
BuiltDevice make_printer_device(const DeviceContext& ctx, const DeviceConfig& d);

}  // namespace estate::drivers
