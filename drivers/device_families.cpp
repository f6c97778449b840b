#include "drivers/device_families.hpp"

#include "drivers/device_make.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "drivers/camera/plate_push.hpp"
#include "drivers/card/card_frames.hpp"
#include "drivers/gate/barrier_frames.hpp"
#include "drivers/gate/modbus_barrier.hpp"
#include "drivers/meter/dlt645_meter.hpp"
#include "drivers/meter/model_registry.hpp"
#include "protocols/escpos/escpos.hpp"
#include "protocols/mbus/link.hpp"
#include "protocols/pos/ecr.hpp"

namespace estate::drivers {

const BusConfig* DeviceSite::find_bus(std::string_view id) const {
  for (const auto& b : buses)
    if (b.id == id) return &b;
  return nullptr;
}

const DeviceConfig* DeviceSite::find_device(std::string_view id) const {
  for (const auto& d : devices)
    if (d.id == id) return &d;
  return nullptr;
}

namespace {

void bad(Diagnostics& diag, const DeviceConfig& d, std::string_view key, std::string message) {
  diag.error(d.where(key), d.key_path(key), std::move(message));
}

// A device on a bus of one protocol: says what is wrong and returns false unless `bus` is one.
// A missing bus (the device names none that exists) the loader has reported already.
bool check_protocol_bus(const BusConfig* bus, const DeviceConfig& d, Protocol protocol,
                        std::string_view what, Diagnostics& diag) {
  const std::string name(to_string(protocol));
  if (d.bus.empty()) {
    bad(diag, d, "bus", "a " + std::string(what) + " needs its bus (protocol: " + name + ")");
    return false;
  }
  if (!bus) return false;
  if (bus->protocol != protocol) {
    bad(diag, d, "bus", "'" + d.bus + "' is not a bus with protocol: " + name);
    return false;
  }
  return true;
}

bool all_digits(std::string_view s, std::size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char ch) {
           return ch >= '0' && ch <= '9';
         });
}

// A whole decimal integer in [lo, hi], or nullopt.
std::optional<int> integer_in(std::string_view s, int lo, int hi) {
  if (s.empty() || s.size() > 9 || !all_digits(s, s.size())) return std::nullopt;
  const int v = std::stoi(std::string(s));
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

// The devices of `kind` on bus `bus` written before `d` (the first of a line sets its format).
std::vector<const DeviceConfig*> earlier_on_bus(const DeviceSite& site, const DeviceConfig& d) {
  std::vector<const DeviceConfig*> out;
  for (const auto& other : site.devices) {
    if (&other == &d) break;
    if (other.kind == d.kind && other.bus == d.bus && other.id != d.id) out.push_back(&other);
  }
  return out;
}

// A device on a shared serial line (barrier controllers, card readers): one frame format per
// line, and each address (when the format carries one) used once on it.
struct LineMember {
  std::string model;                         // this device's model, its default filled in
  bool addressed;                            // the model's frames carry an address
  std::string_view default_model;            // a device with no model: the family's default
  std::string_view noun;                     // "controller", "reader"
  bool (*shares_line)(const DeviceConfig&);  // an earlier device of the kind on this line
};

void check_line(const DeviceSite& site, const DeviceConfig& d, const LineMember& m,
                Diagnostics& diag) {
  int address = -1;
  if (m.addressed) {
    auto a = integer_in(d.address, 0, 255);
    if (!a) {
      bad(diag, d, "address", "a " + m.model + " " + std::string(m.noun) +
                                  " needs its bus address 0..255, got '" + d.address + "'");
      return;
    }
    address = *a;
  }
  for (const auto* other : earlier_on_bus(site, d)) {
    if (!m.shares_line(*other)) continue;
    const std::string other_model = other->model.empty() ? std::string(m.default_model) : other->model;
    if (other_model != m.model) {
      bad(diag, d, "model", "'" + m.model + "' differs from '" + other_model + "' of " + other->id +
                                " on the same bus " + d.bus + " (one line, one frame format)");
      return;
    }
    const int other_address = m.addressed ? integer_in(other->address, 0, 255).value_or(-2) : -1;
    if (other_address == address) {
      bad(diag, d, "address", m.addressed
                                  ? "address " + std::to_string(address) + " is already used by " +
                                        other->id + " on bus " + d.bus
                                  : "a " + m.model + " frame carries no address: one " +
                                        std::string(m.noun) + " per bus (" + other->id + " is on " +
                                        d.bus + ")");
      return;
    }
  }
}

// ---- meters, one validator per bus protocol (drivers/meter/*_meter.cpp build them) ----

void validate_modbus_meter(const DeviceSite& site, const BusConfig*, const DeviceConfig& d,
                           Diagnostics& diag) {
  if (!integer_in(d.address, 1, 247)) {
    bad(diag, d, "address", "a Modbus unit id is 1..247, got '" + d.address + "'");
  }
  if (d.model.empty()) {
    bad(diag, d, "model", "a Modbus meter needs a model (a register map from config/models)");
  } else if (!site.models || !site.models->find(d.model)) {
    bad(diag, d, "model", "unknown Modbus model '" + d.model + "' (not in " +
                              meter::default_models_dir().string() + " nor " +
                              meter::site_models_dir().string() + ")");
  }
}

void validate_mbus_meter(const DeviceSite&, const BusConfig*, const DeviceConfig& d,
                         Diagnostics& diag) {
  const auto& a = d.address;
  if (!a.empty() && a.size() <= 3 && all_digits(a, a.size())) {
    if (std::stoi(a) > 250) bad(diag, d, "address", "M-Bus primary address " + a + " is out of range 0..250");
    return;
  }
  // As the driver reads it (drivers/meter/mbus_meter.cpp): 8 digits are an id with wildcards.
  auto s = protocols::mbus::parse_secondary_address(a.size() == 8 ? a + "FFFFFFFF" : a);
  if (!s) {
    bad(diag, d, "address", "'" + a + "' is neither an M-Bus primary address (0..250) nor a "
                            "secondary address (8 digits or 16 hex digits): " + s.error().describe());
  }
}

void validate_dlt645_meter(const DeviceSite&, const BusConfig*, const DeviceConfig& d,
                           Diagnostics& diag) {
  if (!all_digits(d.address, 12)) {
    bad(diag, d, "address", "a DL/T 645 address is 12 digits, got '" + d.address + "'");
  }
  auto version = protocols::dlt645::Version::v2007;
  if (auto v = d.extra.find("version"); v != d.extra.end() && v->second != "1997" && v->second != "2007") {
    bad(diag, d, "options.version", "expected \"2007\" or \"1997\", got '" + v->second + "'");
    return;
  } else if (v != d.extra.end() && v->second == "1997") {
    version = protocols::dlt645::Version::v1997;
  }
  if (auto v = d.extra.find("data_items"); v != d.extra.end()) {
    std::vector<dlt645::DataItem> items;
    if (auto err = dlt645::parse_data_items(version, v->second, items)) {
      bad(diag, d, "options.data_items", err->message);
    }
  }
  if (auto v = d.extra.find("relay_close"); v != d.extra.end() && v->second != "permitted" &&
                                            v->second != "direct") {
    bad(diag, d, "options.relay_close",
        "expected permitted (1Bh: the customer closes at the meter) or direct (1Ch), got '" +
            v->second + "'");
  }
}

void validate_cjt188_meter(const DeviceSite&, const BusConfig*, const DeviceConfig& d,
                           Diagnostics& diag) {
  if (!all_digits(d.address, 14)) {
    bad(diag, d, "address", "a CJ/T 188 address is 14 digits, got '" + d.address + "'");
  }
}

// ---- gates and their I/O modules (drivers/gate) ----

void option_in(const DeviceConfig& d, const std::string& key, int lo, int hi, Diagnostics& diag) {
  auto it = d.extra.find(key);
  if (it == d.extra.end()) return;
  if (!integer_in(it->second, lo, hi)) {
    bad(diag, d, "options." + key, "expected an integer from " + std::to_string(lo) + " to " +
                                       std::to_string(hi) + ", got '" + it->second + "'");
  }
}

void validate_serial_controller(const DeviceSite& site, const BusConfig* bus,
                                const DeviceConfig& d, Diagnostics& diag) {
  if (!d.relay.empty()) {
    bad(diag, d, "relay", "a serial barrier controller drives its arm itself; remove relay");
  }
  if (!d.loop_input.empty()) {
    bad(diag, d, "loop_input", "a serial barrier controller reports its loop itself; remove loop_input");
  }
  if (!check_protocol_bus(bus, d, Protocol::barrier, "serial barrier controller", diag)) return;
  const std::string model = d.model.empty() ? std::string(gate::default_controller_model) : d.model;
  const auto* format = gate::find_controller_format(model);
  if (!format) {
    bad(diag, d, "model", "unknown barrier controller model '" + model + "' (known: " +
                              gate::known_controller_models() + ")");
    return;
  }
  check_line(site, d, {model, format->address, gate::default_controller_model, "controller",
                      [](const DeviceConfig& o) { return o.barrier == "serial_controller"; }},
             diag);
}

void validate_io_point(const DeviceSite& site, const DeviceConfig& d, std::string_view key,
                       const std::string& text, Diagnostics& diag) {
  auto point = gate::parse_io_point(text);
  if (!point) {
    bad(diag, d, key, std::string("expected io-device:") + (key == "relay" ? "coil" : "input") +
                          ", got '" + text + "'");
    return;
  }
  const auto* io = site.find_device(point->first);
  if (io && io->kind != DeviceKind::io_module) {
    bad(diag, d, key, "'" + point->first + "' is not an io_module device");
  }
}

void validate_gate(const DeviceSite& site, const BusConfig* bus, const DeviceConfig& d,
                   Diagnostics& diag) {
  option_in(d, "loop_poll_ms", 20, 5000, diag);
  option_in(d, "open_timeout_s", 1, 3600, diag);
  if (d.barrier == "serial_controller") return validate_serial_controller(site, bus, d, diag);
  if (d.relay.empty()) {
    bad(diag, d, "relay", "a gate needs a relay (io-device:coil), or barrier: serial_controller "
                          "with its bus and address");
    return;
  }
  validate_io_point(site, d, "relay", d.relay, diag);
  if (!d.loop_input.empty()) {
    validate_io_point(site, d, "loop_input", d.loop_input, diag);
    auto relay = gate::parse_io_point(d.relay);
    auto loop = gate::parse_io_point(d.loop_input);
    if (relay && loop && loop->first != relay->first) {
      bad(diag, d, "loop_input", "the loop must be on the relay's I/O module '" + relay->first + "'");
    }
  }
}

void validate_io_module(const DeviceSite&, const BusConfig* bus, const DeviceConfig& d,
                        Diagnostics& diag) {
  if (bus && (bus->protocol != Protocol::modbus || bus->kind != BusKind::tcp)) {
    bad(diag, d, "bus", "the I/O module must be on a Modbus TCP bus (kind: tcp, protocol: modbus); '" +
                            d.bus + "' is " + std::string(to_string(bus->kind)) + " " +
                            std::string(to_string(bus->protocol)));
  }
  if (!d.address.empty() && !integer_in(d.address, 1, 247)) {
    bad(diag, d, "address", "a Modbus unit is 1..247, got '" + d.address + "'");
  }
}

// A gate a reader or camera opens: it must be a gate device.
bool check_gate_ref(const DeviceSite& site, const DeviceConfig& d, Diagnostics& diag) {
  const auto* g = site.find_device(d.gate);
  if (d.gate.empty() || (g && g->kind != DeviceKind::gate)) {
    bad(diag, d, "gate", d.gate.empty() ? std::string("which gate it opens is missing")
                                        : "'" + d.gate + "' is not a gate device");
    return false;
  }
  return g != nullptr;  // no such device: the loader said so
}

// ---- card readers (drivers/card) ----

void validate_card_reader(const DeviceSite& site, const BusConfig* bus, const DeviceConfig& d,
                          Diagnostics& diag) {
  check_gate_ref(site, d, diag);
  if (!check_protocol_bus(bus, d, Protocol::card, "card reader", diag)) return;
  const std::string model = d.model.empty() ? std::string(card::default_model) : d.model;
  const auto* format = card::find_format(model);
  if (!format) {
    bad(diag, d, "model", "unknown card reader model '" + model + "' (known: " +
                              card::known_models() + ")");
    return;
  }
  check_line(site, d, {model, format->address, card::default_model, "reader",
                      [](const DeviceConfig&) { return true; }},
             diag);
}

// ---- cameras (drivers/camera: plate and frame pushes over HTTP) ----

void validate_camera(const DeviceSite& site, const BusConfig*, const DeviceConfig& d,
                     Diagnostics& diag) {
  // The plate push format (drivers/camera/plate_push.hpp): named, never assumed.
  const auto format = camera::find_push_format(d.model);
  if (d.model.empty()) {
    bad(diag, d, "model", "a camera needs its model, the format of its plate pushes (known: " +
                              camera::push_model_names() + ")");
  } else if (!format) {
    bad(diag, d, "model", "unknown camera model '" + d.model + "' (plate push formats: " +
                              camera::push_model_names() + ")");
  } else if (*format == camera::PushFormat::json_fields) {
    std::vector<camera::JsonFieldsProblem> problems;
    camera::json_fields_format(d.extra, problems);
    for (const auto& p : problems) bad(diag, d, "options." + p.option, p.message);
  } else {
    // Field paths describe a json-fields camera only; on another model they would be ignored.
    for (const auto& [key, value] : d.extra) {
      if (key == "plate" || key == "colour" || key == "confidence" || key == "lane" ||
          key == "snapshot" || key == "time" || key == "colour_codes") {
        bad(diag, d, "options." + key,
            "field paths are for a camera of model json-fields, not " + d.model);
      }
    }
  }
  if (d.gate.empty()) return;  // a camera of no gate is not listened to
  check_gate_ref(site, d, diag);
  if (d.secret.empty()) bad(diag, d, "secret", "a camera needs the secret of its HTTP push");
}

// ---- the payment terminal (drivers/pos) and the receipt printer (drivers/printer) ----

bool check_link_bus(const BusConfig* bus, const DeviceConfig& d, std::string_view what,
                    Diagnostics& diag) {
  if (d.bus.empty()) {
    bad(diag, d, "bus", "a " + std::string(what) + " needs its bus (serial or tcp)");
    return false;
  }
  return bus != nullptr;
}

void validate_pos(const DeviceSite&, const BusConfig* bus, const DeviceConfig& d,
                  Diagnostics& diag) {
  if (check_link_bus(bus, d, "POS terminal", diag) && bus->kind == BusKind::usb) {
    bad(diag, d, "bus", "a POS terminal is on a serial or tcp bus, not usb ('" + d.bus + "')");
  }
  option_in(d, "response_timeout_ms", 100, 600000, diag);
  option_in(d, "unknown_retry_ms", 100, 3600000, diag);
  // The model names the terminal's ECR protocol, a row of protocols/pos/ecr.cpp.
  if (!d.model.empty() && !protocols::pos::find_protocol(d.model)) {
    bad(diag, d, "model", "unknown POS protocol '" + d.model + "' (known: " +
                              protocols::pos::known_protocols() + ")");
  }
}

void validate_printer(const DeviceSite&, const BusConfig* bus, const DeviceConfig& d,
                      Diagnostics& diag) {
  if (check_link_bus(bus, d, "printer", diag) && bus->kind == BusKind::usb) {
#ifndef ESTATE_EDGE_WITH_USB
    bad(diag, d, "bus", "this build has no USB support (ESTATE_EDGE_WITH_USB off): put the "
                        "printer on a serial or tcp bus ('" + d.bus + "' is usb)");
#endif
  }
  if (!protocols::escpos::parse_paper_width(d.model.empty() ? "80mm" : d.model)) {
    bad(diag, d, "model", "a printer's model is its paper width, 58mm or 80mm, got '" + d.model + "'");
  }
}

const std::array<DeviceFamily, 10> families{{
    {"meter/modbus", DeviceKind::meter, Protocol::modbus, &validate_modbus_meter, &make_meter_device},
    {"meter/mbus", DeviceKind::meter, Protocol::mbus, &validate_mbus_meter, &make_meter_device},
    {"meter/dlt645", DeviceKind::meter, Protocol::dlt645, &validate_dlt645_meter, &make_meter_device},
    {"meter/cjt188", DeviceKind::meter, Protocol::cjt188, &validate_cjt188_meter, &make_meter_device},
    {"gate", DeviceKind::gate, std::nullopt, &validate_gate, &make_gate_device},
    {"io_module", DeviceKind::io_module, std::nullopt, &validate_io_module, &make_io_module_device},
    {"card_reader", DeviceKind::card_reader, std::nullopt, &validate_card_reader, &make_card_reader_device},
    {"camera", DeviceKind::camera, std::nullopt, &validate_camera, &make_camera_device},
    {"pos", DeviceKind::pos, std::nullopt, &validate_pos, &make_pos_device},
    {"printer", DeviceKind::printer, std::nullopt, &validate_printer, &make_printer_device},
}};

}  // namespace

std::span<const DeviceFamily> device_families() { return families; }

const DeviceFamily* family_of(const DeviceConfig& device, const BusConfig* bus) {
  for (const auto& f : families) {
    if (f.kind != device.kind) continue;
    if (!f.protocol) return &f;
    if (bus && bus->protocol == *f.protocol) return &f;
  }
  return nullptr;
}

void validate_devices(const DeviceSite& site, Diagnostics& diag) {
  for (const auto& d : site.devices) {
    const BusConfig* bus = d.bus.empty() ? nullptr : site.find_bus(d.bus);
    if (d.kind == DeviceKind::meter && bus && !family_of(d, bus)) {
      bad(diag, d, "bus", "'" + d.bus + "' speaks " + std::string(to_string(bus->protocol)) +
                              ", not a meter protocol (mbus, dlt645, cjt188, modbus)");
      continue;
    }
    if (const auto* f = family_of(d, bus)) {
      if (d.kind == DeviceKind::meter && !bus) continue;  // no bus: the loader said so
      f->validate(site, bus, d, diag);
    }
  }
}

}  // namespace estate::drivers
