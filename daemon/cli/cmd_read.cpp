// `estate-edge read modbus|mbus|dlt645|cjt188 ...` and `read --device ID --config FILE`: reads
// a meter once and prints its values (aligned text, or --json). Progress and errors on stderr.
// Exit 1 when the meter does not answer properly, 2 for bad flags or config.
#include <utility>  // before Asio's awaitable (Boost 1.74 needs std::exchange declared)

#include <nlohmann/json.hpp>

#include <boost/asio/use_awaitable.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/cli/decode/cjt188_json.hpp"
#include "daemon/cli/decode/mbus_json.hpp"
#include "daemon/cli/decode/modbus_json.hpp"
#include "daemon/metering/bus_tool.hpp"
#include "drivers/transports/errors.hpp"
#include "drivers/meter/cjt188_meter.hpp"
#include "drivers/meter/dlt645_meter.hpp"
#include "drivers/meter/mbus_meter.hpp"
#include "drivers/meter/model_registry.hpp"
#include "drivers/meter/modbus_meter.hpp"

namespace estate::cli {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct ReadOptions {
  std::string serial, tcp, rtu_over_tcp, address, model, device, config;
  std::vector<std::string> dis;
  int unit = 0, baud = 0, timeout_ms = 0;
  bool json = false;
};

std::string number_text(double v) {
  return drivers::decimal_from_double(v, 4).to_string();
}

void read_modbus(const ReadOptions& o) {
  drivers::meter::ModelRegistry models;
  auto errors = models.load_default_dirs();
  const auto* model = models.find(o.model);
  if (!model) {
    std::string known;
    for (const auto& n : models.names()) known += (known.empty() ? "" : ", ") + n;
    fail(exit_usage, "--model: unknown model '" + o.model + "' (known: " + known + ")");
  }
  if (o.unit < 1 || o.unit > 247) fail(exit_usage, "--unit: expected 1..247");
  auto cfg = metering::tool_bus_config(config::Protocol::modbus, o.serial, o.tcp, o.baud, o.timeout_ms,
                                       o.rtu_over_tcp);
  metering::ToolBus bus(cfg);
  std::vector<drivers::modbus::PointReading> points;
  int requests = 0;
  error_code ec;
  std::cerr << "reading " << model->points.size() << " points of " << model->name << " from unit "
            << o.unit << " (" << bus.modbus()->describe() << ")\n";
  bus.run([&]() -> asio::awaitable<void> {
    ec = co_await drivers::modbus::read_model(*bus.modbus(), o.unit, *model, points, &requests);
  });
  if (ec == drivers::TransportError::timeout) {
    // Which unit, how long and on which line: a silent slave, a wrong unit id or wrong wiring.
    fail(exit_runtime, "unit " + std::to_string(o.unit) + ": " + ec.message() + " (no answer within " +
                           std::to_string(cfg.timeout.count()) + " ms on " + bus.modbus()->describe() + ")");
  }
  if (ec) fail(exit_runtime, "unit " + std::to_string(o.unit) + ": " + ec.message());
  std::cerr << requests << " request(s)\n";
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = model->name;
    j["unit"] = o.unit;
    auto& pts = j["points"];
    pts = nlohmann::ordered_json::object();
    for (const auto& p : points) {
      pts[p.point->name] = {{"value", modbus_value_json(p.value)}, {"unit", p.point->unit}};
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"point", "value", "unit"}};
  for (const auto& p : points) {
    rows.push_back({p.point->name, drivers::Decimal{p.value.mantissa, p.value.exponent}.to_string(),
                    p.point->unit});
  }
  std::cout << format_table(rows);
}

std::uint8_t mbus_primary(const std::string& a) {
  std::size_t used = 0;
  int v = -1;
  try {
    v = std::stoi(a, &used);
  } catch (const std::exception&) {
  }
  if (used != a.size() || v < 0 || v > 250) fail(exit_usage, "--address: expected 0..250, got '" + a + "'");
  return static_cast<std::uint8_t>(v);
}

void read_mbus(const ReadOptions& o) {
  const auto address = mbus_primary(o.address);
  auto cfg = metering::tool_bus_config(config::Protocol::mbus, o.serial, "", o.baud, o.timeout_ms);
  metering::ToolBus bus(cfg);
  std::vector<std::vector<std::uint8_t>> frames;
  error_code ec;
  bus.run([&]() -> asio::awaitable<void> {
    ec = co_await drivers::mbus::snd_nke(*bus.link(), address);
    if (ec) co_return;
    bool fcb = true;
    ec = co_await drivers::mbus::read_data(*bus.link(), address, fcb, frames);
  });
  if (ec) fail(exit_runtime, "M-Bus address " + o.address + " on " + bus.link()->describe() + ": " + ec.message());
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& f : frames) {
    auto j = decode_mbus_json(f, DecodeOptions{});
    if (!j) fail(exit_runtime, "answer does not decode: " + j.error().describe());
    all.push_back(*j);
  }
  if (o.json) {
    // One telegram: exactly what `decode mbus` prints for it; several: an array of those.
    std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"quantity", "value", "unit", "storage", "tariff"}};
  for (const auto& f : frames) {
    auto t = protocols::mbus::decode_rsp_ud(f);
    if (!t) continue;
    for (const auto& r : t->records) {
      if (!r.value) continue;
      rows.push_back({r.quantity, drivers::decimal_from_double(*r.value, 6).to_string(), r.unit,
                      std::to_string(r.storage), std::to_string(r.tariff)});
    }
  }
  std::cout << format_table(rows);
}

void read_dlt645(const ReadOptions& o) {
  namespace p = protocols::dlt645;
  auto address = p::parse_address(o.address);
  if (!address || o.address.size() != 12) fail(exit_usage, "--address: expected 12 digits, got '" + o.address + "'");
  std::vector<std::uint32_t> dis;
  for (const auto& d : o.dis.empty() ? std::vector<std::string>{"00010000"} : o.dis) {
    std::size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(d, &used, 16);
    } catch (const std::exception&) {
    }
    if (used != d.size() || (d.size() != 8 && d.size() != 4)) {
      fail(exit_usage, "--di: expected 8 hex digits (2007) or 4 (1997), got '" + d + "'");
    }
    dis.push_back(static_cast<std::uint32_t>(v));
  }
  const auto version = o.dis.size() && o.dis.front().size() == 4 ? p::Version::v1997 : p::Version::v2007;
  auto cfg = metering::tool_bus_config(config::Protocol::dlt645, o.serial, "", o.baud, o.timeout_ms);
  metering::ToolBus bus(cfg);
  nlohmann::ordered_json out;
  out["address"] = o.address;
  auto& arr = out["values"];
  arr = nlohmann::ordered_json::array();
  std::vector<std::vector<std::string>> rows{{"di", "name", "value", "unit"}};
  int failures = 0;
  for (auto di : dis) {
    p::Message m;
    error_code ec;
    bus.run([&]() -> asio::awaitable<void> {
      ec = co_await drivers::dlt645::read_di(*bus.link(), version, *address, di, m);
    });
    nlohmann::ordered_json e;
    e["di"] = p::format_di(version, di);
    if (ec) {
      ++failures;
      e["error"] = ec.message();
      std::cerr << p::format_di(version, di) << ": " << ec.message() << "\n";
      arr.push_back(e);
      continue;
    }
    e["name"] = m.info ? m.info->name : "";
    e["unit"] = m.info ? m.info->unit : "";
    auto& vals = e["values"];
    vals = nlohmann::ordered_json::array();
    for (const auto& v : m.values) {
      if (v.number) vals.push_back(*v.number);
      else vals.push_back(v.text ? *v.text : v.raw);
      rows.push_back({p::format_di(version, di), m.info ? m.info->name : "",
                      v.number ? number_text(*v.number) : (v.text ? *v.text : v.raw),
                      m.info ? m.info->unit : ""});
    }
    if (m.values.size() == 1) e["value"] = vals[0];
    arr.push_back(e);
  }
  if (o.json) std::cout << out.dump(2) << "\n";
  else std::cout << format_table(rows);
  if (failures == static_cast<int>(dis.size())) fail(exit_runtime);
}

void read_cjt188(const ReadOptions& o) {
  namespace p = protocols::cjt188;
  auto address = p::parse_address(o.address);
  if (!address || o.address.size() != 14) fail(exit_usage, "--address: expected 14 digits, got '" + o.address + "'");
  auto cfg = metering::tool_bus_config(config::Protocol::cjt188, o.serial, "", o.baud, o.timeout_ms);
  metering::ToolBus bus(cfg);
  p::Message m;
  error_code ec;
  bus.run([&]() -> asio::awaitable<void> {
    ec = co_await drivers::cjt188::read_current(*bus.link(), p::meter_type::kColdWater, *address, 0, m);
  });
  if (ec) fail(exit_runtime, "meter " + o.address + ": " + ec.message());
  if (o.json) {
    nlohmann::ordered_json j;
    j["address"] = o.address;
    auto& q = j["values"];
    q = nlohmann::ordered_json::array();
    for (const auto& x : m.quantities) {
      q.push_back({{"name", x.name}, {"value", x.number ? nlohmann::ordered_json(*x.number) : nullptr},
                   {"unit", x.unit}});
    }
    if (m.status) j["valve"] = std::string(p::to_string(m.status->valve()));
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"name", "value", "unit"}};
  for (const auto& x : m.quantities) {
    rows.push_back({x.name, x.number ? number_text(*x.number) : x.raw, x.unit});
  }
  if (m.status) rows.push_back({"valve", std::string(p::to_string(m.status->valve())), ""});
  std::cout << format_table(rows);
}

}  // namespace

// Shared with cmd_valve.cpp: loads --config and finds the meter and its bus.
std::pair<std::shared_ptr<const config::SiteConfig>, const config::DeviceConfig*> load_device(
    const std::string& config_file, const std::string& device) {
  if (config_file.empty()) fail(exit_usage, "--config FILE is needed to find device " + device);
  config::Diagnostics diag;
  auto cfg = config::load_site_config(config_file, diag);
  if (!cfg) {
    std::cerr << diag.to_string();
    fail(exit_usage);
  }
  auto shared = std::make_shared<const config::SiteConfig>(std::move(*cfg));
  const auto* d = shared->find_device(device);
  if (!d) fail(exit_usage, "no device '" + device + "' in " + config_file);
  if (!shared->find_bus(d->bus)) fail(exit_usage, "device " + device + " has no bus");
  return {shared, d};
}

void read_device(const ReadOptions& o) {
  auto [cfg, d] = load_device(o.config, o.device);
  const auto* b = cfg->find_bus(d->bus);
  drivers::meter::ModelRegistry models;
  if (b->protocol == config::Protocol::modbus) models.load_default_dirs();
  std::unique_ptr<metering::ToolBus> bus;
  std::unique_ptr<drivers::MeterDriver> driver;
  try {
    bus = std::make_unique<metering::ToolBus>(*b);
    bus->port().models = &models;
    driver = drivers::make_meter_driver(*d, bus->port());
  } catch (const std::invalid_argument& e) {
    fail(exit_usage, e.what());
  }
  std::vector<drivers::Reading> readings;
  error_code ec;
  bus->run([&]() -> asio::awaitable<void> { ec = co_await driver->poll(readings); });
  if (ec) fail(exit_runtime, "device " + d->id + " on bus " + b->id + ": " + ec.message());
  if (o.json) {
    nlohmann::ordered_json j;
    j["device"] = d->id;
    auto& arr = j["readings"];
    arr = nlohmann::ordered_json::array();
    for (const auto& r : readings) {
      arr.push_back({{"quantity", r.quantity}, {"value", nlohmann::ordered_json::parse(r.value.to_string())},
                     {"unit", r.unit}, {"quality", std::string(drivers::to_string(r.quality))}});
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"quantity", "value", "unit", "quality"}};
  for (const auto& r : readings) {
    rows.push_back({r.quantity, r.value.to_string(), r.unit, std::string(drivers::to_string(r.quality))});
  }
  std::cout << format_table(rows);
}

void add_read_command(CLI::App& app) {
  auto top = std::make_shared<ReadOptions>();
  auto* cmd = app.add_subcommand("read", "Read a meter once and print its values");
  cmd->require_subcommand(0, 1);
  cmd->add_option("--device", top->device, "A configured device id (with --config)");
  cmd->add_option("--config,-c", top->config, "Site config that names the device");
  cmd->add_flag("--json", top->json, "Print JSON");
  cmd->callback([top, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    if (top->device.empty()) fail(exit_usage, "read: give a protocol (modbus, mbus, dlt645, cjt188) or --device ID --config FILE");
    read_device(*top);
  });

  auto serial_opts = [](CLI::App* sub, ReadOptions& o) {
    sub->add_option("--baud", o.baud, "Baud rate");
    sub->add_option("--timeout-ms", o.timeout_ms, "Answer timeout");
    sub->add_flag("--json", o.json, "Print JSON");
  };

  auto mo = std::make_shared<ReadOptions>();
  auto* modbus = cmd->add_subcommand("modbus", "Read a Modbus meter's points with its model");
  auto* s = modbus->add_option("--serial", mo->serial, "Serial device (Modbus RTU)");
  auto* t = modbus->add_option("--tcp", mo->tcp, "HOST:PORT (Modbus TCP)");
  auto* r = modbus->add_option("--rtu-over-tcp", mo->rtu_over_tcp,
                               "HOST:PORT of a serial device server (Modbus RTU frames over TCP)");
  s->excludes(t)->excludes(r);
  t->excludes(s)->excludes(r);
  r->excludes(s)->excludes(t);
  modbus->add_option("--unit", mo->unit, "Unit id 1..247")->required();
  modbus->add_option("--model", mo->model, "Model name (config/models)")->required();
  serial_opts(modbus, *mo);
  modbus->callback([mo] {
    if (mo->serial.empty() && mo->tcp.empty() && mo->rtu_over_tcp.empty()) {
      fail(exit_usage, "read modbus: give --tcp HOST:PORT, --rtu-over-tcp HOST:PORT or --serial DEV");
    }
    try {
      read_modbus(*mo);
    } catch (const std::invalid_argument& e) {
      fail(exit_usage, e.what());
    }
  });

  auto bo = std::make_shared<ReadOptions>();
  auto* mbus = cmd->add_subcommand("mbus", "Read an M-Bus slave by primary address");
  mbus->add_option("--serial", bo->serial, "Serial device")->required();
  mbus->add_option("--address", bo->address, "Primary address 0..250")->required();
  serial_opts(mbus, *bo);
  mbus->callback([bo] { read_mbus(*bo); });

  auto d = std::make_shared<ReadOptions>();
  auto* dlt = cmd->add_subcommand("dlt645", "Read DIs of a DL/T 645 meter");
  dlt->add_option("--serial", d->serial, "Serial device")->required();
  dlt->add_option("--address", d->address, "12-digit meter address")->required();
  dlt->add_option("--di", d->dis, "Data identifiers (default 00010000: forward active energy)");
  serial_opts(dlt, *d);
  dlt->callback([d] { read_dlt645(*d); });

  auto c = std::make_shared<ReadOptions>();
  auto* cj = cmd->add_subcommand("cjt188", "Read a CJ/T 188 meter's current data (901F)");
  cj->add_option("--serial", c->serial, "Serial device")->required();
  cj->add_option("--address", c->address, "14-digit meter address")->required();
  serial_opts(cj, *c);
  cj->callback([c] { read_cjt188(*c); });
}

}  // namespace estate::cli
