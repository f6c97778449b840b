// `estate-edge scan mbus|modbus|dlt645|cjt188`: finds what answers on a line. Progress on stderr; a
// table (or --json) of what answered on stdout. Exit 1 when the line cannot be opened.
#include <utility>  // before Asio's awaitable (Boost 1.74 needs std::exchange declared)

#include <nlohmann/json.hpp>

#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/metering/bus_tool.hpp"
#include "drivers/meter/cjt188_meter.hpp"
#include "drivers/meter/dlt645_meter.hpp"
#include "drivers/meter/mbus_meter.hpp"

namespace estate::cli {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct ScanOptions {
  std::string serial, tcp, rtu_over_tcp, units = "1-247";
  int baud = 0;
  int timeout_ms = 0;
  std::string version = "2007", medium = "water";
  bool secondary = false, json = false, quiet = false;
};

void progress(const ScanOptions& o, const std::string& line) {
  if (!o.quiet) std::cerr << line << "\n";
}

bool parse_units(const std::string& text, int& first, int& last) {
  int a = 0, b = 0;
  char dash = 0;
  if (std::sscanf(text.c_str(), "%d%c%d", &a, &dash, &b) == 3 && dash == '-') {
    first = a;
    last = b;
  } else if (std::sscanf(text.c_str(), "%d", &a) == 1 && text.find('-') == std::string::npos) {
    first = last = a;
  } else {
    return false;
  }
  return first >= 1 && last <= 247 && first <= last;
}

void open_or_fail(metering::ToolBus& bus) {
  if (!bus.link()) return;
  error_code ec;
  bus.run([&]() -> asio::awaitable<void> { ec = co_await bus.link()->ensure_open(); });
  if (ec) fail(exit_runtime, "cannot open " + bus.link()->describe() + ": " + ec.message());
}

void scan_mbus(const ScanOptions& o) {
  auto cfg = metering::tool_bus_config(config::Protocol::mbus, o.serial, o.tcp, o.baud, o.timeout_ms);
  metering::ToolBus bus(cfg);
  open_or_fail(bus);
  std::vector<drivers::mbus::Found> found;
  error_code ec;
  auto report = [&o](const std::string& s) { progress(o, s); };
  bus.run([&]() -> asio::awaitable<void> {
    if (o.secondary) ec = co_await drivers::mbus::scan_secondary(*bus.link(), found, report);
    else ec = co_await drivers::mbus::scan_primary(*bus.link(), 0, 250, found, report);
  });
  if (ec) fail(exit_runtime, "scan stopped: " + ec.message());
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& f : found) {
      nlohmann::ordered_json e;
      if (f.primary >= 0) e["primary"] = f.primary;
      e["secondary"] = f.secondary;
      e["manufacturer"] = f.manufacturer;
      e["medium"] = std::string(protocols::mbus::medium_name(f.medium));
      e["version"] = f.version;
      j.push_back(e);
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"primary", "secondary", "manufacturer", "medium"}};
  for (const auto& f : found) {
    rows.push_back({f.primary >= 0 ? std::to_string(f.primary) : "-", f.secondary, f.manufacturer,
                    std::string(protocols::mbus::medium_name(f.medium))});
  }
  std::cout << format_table(rows);
  std::cerr << found.size() << " device(s) answered\n";
}

void scan_modbus(const ScanOptions& o) {
  int first = 1, last = 247;
  if (!parse_units(o.units, first, last)) {
    fail(exit_usage, "--units: expected N or FIRST-LAST within 1-247, got '" + o.units + "'");
  }
  auto cfg = metering::tool_bus_config(config::Protocol::modbus, o.serial, o.tcp, o.baud,
                                       o.timeout_ms > 0 ? o.timeout_ms : 200, o.rtu_over_tcp);
  metering::ToolBus bus(cfg);
  struct Hit {
    int unit;
    std::string answer;
  };
  std::vector<Hit> hits;
  error_code fatal;
  bus.run([&]() -> asio::awaitable<void> {
    for (int u = first; u <= last; ++u) {
      progress(o, "probing unit " + std::to_string(u));
      std::vector<std::uint16_t> regs;
      const error_code ec =
          co_await bus.modbus()->read(u, drivers::ModbusTable::holding_registers, 0, 1, regs);
      if (!ec) {
        hits.push_back({u, "holding register 0 readable"});
      } else if (ec.category() == drivers::modbus_category()) {
        // An exception answer (illegal address...) still proves the unit is there.
        hits.push_back({u, "exception: " + ec.message()});
      } else if (drivers::is_line_down(ec)) {
        fatal = ec;
        co_return;
      }
    }
  });
  if (fatal) fail(exit_runtime, "cannot reach " + bus.modbus()->describe() + ": " + fatal.message());
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& h : hits) j.push_back({{"unit", h.unit}, {"answer", h.answer}});
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"unit", "answer"}};
  for (const auto& h : hits) rows.push_back({std::to_string(h.unit), h.answer});
  std::cout << format_table(rows);
  std::cerr << hits.size() << " unit(s) answered\n";
}

// The address walk of the 68h meter protocols (drivers/meter/address_walk.hpp): `walk` runs the
// protocol's scan_meters on the opened bus; the meters found are printed, sorted.
template <class Address, class Walk, class Format>
void walk_addresses(const ScanOptions& o, config::Protocol protocol, const std::string& probe,
                    Walk walk, Format format) {
  auto cfg = metering::tool_bus_config(protocol, o.serial, o.tcp, o.baud, o.timeout_ms);
  metering::ToolBus bus(cfg);
  open_or_fail(bus);
  progress(o, "reading " + probe +
                  " at shortened addresses (AA = any digits), one address byte at a time");
  std::vector<Address> found;
  error_code ec;
  const std::function<void(const std::string&)> report = [&o](const std::string& s) {
    progress(o, s);
  };
  bus.run([&]() -> asio::awaitable<void> { ec = co_await walk(*bus.link(), found, report); });
  if (ec) fail(exit_runtime, "scan stopped: " + ec.message());
  std::vector<std::string> addresses;
  for (const auto& a : found) addresses.push_back(format(a));
  std::sort(addresses.begin(), addresses.end());
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& a : addresses) j.push_back({{"address", a}});
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"address"}};
  for (const auto& a : addresses) rows.push_back({a});
  std::cout << format_table(rows);
  std::cerr << addresses.size() << " meter(s) answered\n";
}

void scan_dlt645(const ScanOptions& o) {
  namespace p = protocols::dlt645;
  if (o.version != "2007" && o.version != "1997") {
    fail(exit_usage, "--version: expected 2007 or 1997, got '" + o.version + "'");
  }
  const auto version = o.version == "1997" ? p::Version::v1997 : p::Version::v2007;
  walk_addresses<p::Address>(
      o, config::Protocol::dlt645, version == p::Version::v2007 ? "00010000" : "9010",
      [version](drivers::Link& link, std::vector<p::Address>& found, const auto& report) {
        return drivers::dlt645::scan_meters(link, version, found, report);
      },
      [](const p::Address& a) { return p::format_address(a); });
}

void scan_cjt188(const ScanOptions& o) {
  namespace p = protocols::cjt188;
  const auto type = drivers::cjt188::type_for_medium(o.medium);
  walk_addresses<p::Address>(
      o, config::Protocol::cjt188, "901F (meter type " + protocols::hex_byte(type) + ")",
      [type](drivers::Link& link, std::vector<p::Address>& found, const auto& report) {
        return drivers::cjt188::scan_meters(link, type, found, report);
      },
      [](const p::Address& a) { return p::format_address(a); });
}

}  // namespace

void add_scan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("scan", "Find the devices that answer on a meter line");
  cmd->require_subcommand(1);
  auto common = [](CLI::App* sub, ScanOptions& o, bool tcp) {
    auto* s = sub->add_option("--serial", o.serial, "Serial device, e.g. /dev/ttyUSB0");
    if (tcp) {
      auto* t = sub->add_option("--tcp", o.tcp, "HOST:PORT of a Modbus TCP device or gateway");
      auto* r = sub->add_option("--rtu-over-tcp", o.rtu_over_tcp,
                                "HOST:PORT of a serial device server (Modbus RTU frames over TCP)");
      s->excludes(t)->excludes(r);
      t->excludes(s)->excludes(r);
      r->excludes(s)->excludes(t);
    } else {
      s->required();
    }
    sub->add_option("--baud", o.baud, "Baud rate (default: 2400 for meter lines, 9600 Modbus)");
    sub->add_option("--timeout-ms", o.timeout_ms, "Answer timeout per probe");
    sub->add_flag("--json", o.json, "Print JSON");
    sub->add_flag("--quiet,-q", o.quiet, "No progress on stderr");
  };
  auto mo = std::make_shared<ScanOptions>();
  auto* mbus = cmd->add_subcommand("mbus", "M-Bus: primary addresses 0..250, or --secondary");
  common(mbus, *mo, false);
  mbus->add_flag("--secondary", mo->secondary, "Secondary-address scan with wildcards");
  mbus->callback([mo] { scan_mbus(*mo); });

  auto bo = std::make_shared<ScanOptions>();
  auto* modbus = cmd->add_subcommand("modbus", "Modbus: which unit ids answer");
  common(modbus, *bo, true);
  modbus->add_option("--units", bo->units, "Unit ids to probe, e.g. 1-247 or 5");
  modbus->callback([bo] {
    if (bo->serial.empty() && bo->tcp.empty() && bo->rtu_over_tcp.empty()) {
      fail(exit_usage, "scan modbus: give --serial DEV, --tcp HOST:PORT or --rtu-over-tcp HOST:PORT");
    }
    try {
      scan_modbus(*bo);
    } catch (const std::invalid_argument& e) {
      fail(exit_usage, e.what());
    }
  });

  auto d = std::make_shared<ScanOptions>();
  auto* dlt = cmd->add_subcommand("dlt645", "DL/T 645: find every meter on the line (shortened addresses)");
  common(dlt, *d, false);
  dlt->add_option("--version", d->version, "2007 (default) or 1997");
  dlt->callback([d] { scan_dlt645(*d); });

  auto c = std::make_shared<ScanOptions>();
  auto* cjt = cmd->add_subcommand("cjt188", "CJ/T 188: find every meter on the line (shortened addresses)");
  common(cjt, *c, false);
  cjt->add_option("--medium", c->medium, "water (default), hot_water, heat, gas: the meter type asked");
  cjt->callback([c] { scan_cjt188(*c); });
}

}  // namespace estate::cli
