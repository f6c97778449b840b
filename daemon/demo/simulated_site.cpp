#include "daemon/demo/simulated_site.hpp"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace estate::demo {

namespace fs = std::filesystem;

fs::path default_sim_dir() {
  if (const char* env = std::getenv("ESTATE_EDGE_SIM_DIR"); env && *env) return env;
#ifdef ESTATE_EDGE_SOURCE_DIR
  fs::path source = fs::path(ESTATE_EDGE_SOURCE_DIR) / "tests" / "sim";
  std::error_code ec;
  if (fs::exists(source / "meter_sim.py", ec)) return source;
#endif
  return {};
}

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(20);

// The word after `prefix` on the simulator's ready line ("PTY /dev/pts/3" -> "/dev/pts/3").
std::string ready_value(const ChildProcess& p, std::string_view prefix) {
  return p.ready_line().substr(prefix.size());
}

}  // namespace

std::unique_ptr<SimulatedSite> SimulatedSite::start(const SimulatedSiteOptions& o) {
  // Debian's interpreter first: the simulators need its python3-pymodbus, which a python3 of
  // one's own earlier on PATH may lack.
  fs::path python = ::access("/usr/bin/python3", X_OK) == 0 ? fs::path("/usr/bin/python3")
                                                             : find_program("python3");
  if (python.empty()) throw std::runtime_error("python3 not found: the simulators need it");
  for (const char* script : {"meter_sim.py", "meter_modbus_peer.py", "parking_lot_sim.py",
                             "gate_io_sim.py", "pos_sim.py", "printer_sim.py"}) {
    if (::access((o.sim_dir / script).c_str(), R_OK) != 0) {
      throw std::runtime_error("simulator " + (o.sim_dir / script).string() + " not found");
    }
  }
  const fs::path logs = o.state_dir / "sim";
  std::unique_ptr<SimulatedSite> site(new SimulatedSite);
  auto launch = [&](const std::string& name, std::vector<std::string> args,
                    std::string_view ready_prefix) -> ChildProcess& {
    std::vector<std::string> argv{python.string(), "-u", (o.sim_dir / args.front()).string()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    auto log = logs / (name + ".log");
    std::string prefix(ready_prefix);
    try {
      site->processes_.push_back(ChildProcess::start(
          argv, log, [prefix](std::string_view line) { return line.rfind(prefix, 0) == 0; },
          kStartTimeout));
    } catch (const std::exception& e) {
      throw std::runtime_error("simulator " + name + ": " + e.what() + " (log " + log.string() +
                               ")");
    }
    site->summary_.push_back(name + ": log " + log.string());
    return *site->processes_.back();
  };

  // Meter lines. Counters grow at each read (--step, in 0.01 kWh / m3).
  const std::string power_pty =
      ready_value(launch("power-line-1", {"meter_sim.py", "--protocol", "dlt645", "--meter",
                                          "000000001101:1523.40", "--meter", "000000001102:884.10",
                                          "--meter", "000000001201:2210.00", "--step", "7"},
                         "PTY "),
                  "PTY ");
  const std::string water_pty =
      ready_value(launch("water-line-1", {"meter_sim.py", "--protocol", "cjt188", "--meter",
                                          "00000000002101:35.20", "--meter", "00000000002102:12.80",
                                          "--step", "3"},
                         "PTY "),
                  "PTY ");
  const std::string heat_pty = ready_value(
      launch("heat-mbus", {"meter_sim.py", "--protocol", "mbus", "--meter", "1:1520.00",
                           "--meter", "2:980.00", "--step", "40"},
             "PTY "),
      "PTY ");
  const int sdm_port = ephemeral_port();
  launch("shop-sdm630",
         {"meter_modbus_peer.py", std::to_string(sdm_port),
          R"({"0": 230.5, "2": 231.25, "4": 229.75, "52": 1500.0, "72": 678.25, "342": 12345.5})"},
         "READY");
  const std::string lot_port = ready_value(
      launch("car-park", {"parking_lot_sim.py", "--http-port", std::to_string(o.http_port),
                          "--secret", o.camera_secret, "--interval", "12", "--plate",
                          "粤B12345", "--plate", "粤B6M789", "--plate", "粤BD23456"},
             "LISTENING "),
      "LISTENING ");
  const std::string pos_port = ready_value(
      launch("pos-terminal", {"pos_sim.py", "--mode", "approve", "--ledger",
                              (logs / "pos-ledger.json").string()},
             "LISTENING "),
      "LISTENING ");
  const std::string printer_port = ready_value(
      launch("receipt-printer", {"printer_sim.py", "--out", (logs / "receipts.escpos").string()},
             "LISTENING "),
      "LISTENING ");

  site->yaml_ = R"(http:
  listen: 127.0.0.1:)" + std::to_string(o.http_port) + R"(
  tokens:
    - { name: kiosk-lobby, role: kiosk, sha256: )" + o.kiosk_token_sha256 + R"( }
    - { name: technician, role: technician, sha256: )" + o.technician_token_sha256 + R"( }
buses:
  - { id: power-line-1, kind: serial, protocol: dlt645, device: )" + power_pty + R"(, baud: 2400, parity: even }
  - { id: water-line-1, kind: serial, protocol: cjt188, device: )" + water_pty + R"(, baud: 2400, parity: even }
  - { id: heat-mbus, kind: serial, protocol: mbus, device: )" + heat_pty + R"(, baud: 2400, parity: even }
  - { id: shop-modbus, kind: tcp, protocol: modbus, host: 127.0.0.1, port: )" + std::to_string(sdm_port) + R"( }
  - { id: gate-io, kind: tcp, protocol: modbus, host: 127.0.0.1, port: )" + lot_port + R"( }
  - { id: pos-link, kind: tcp, protocol: pos, host: 127.0.0.1, port: )" + pos_port + R"(, timeout_ms: 1000 }
  - { id: printer-link, kind: tcp, protocol: escpos, host: 127.0.0.1, port: )" + printer_port + R"(, timeout_ms: 1000 }
devices:
  - { id: 1-1-101-power, kind: meter, bus: power-line-1, address: "000000001101", medium: electricity, poll_interval_s: 5 }
  - { id: 1-1-102-power, kind: meter, bus: power-line-1, address: "000000001102", medium: electricity, poll_interval_s: 5 }
  - { id: 1-2-201-power, kind: meter, bus: power-line-1, address: "000000001201", medium: electricity, poll_interval_s: 5 }
  - { id: 1-1-101-water, kind: meter, bus: water-line-1, address: "00000000002101", medium: water, poll_interval_s: 5, valve_policy: close_on_zero }
  - { id: 1-1-102-water, kind: meter, bus: water-line-1, address: "00000000002102", medium: water, poll_interval_s: 5 }
  - { id: 1-1-101-heat, kind: meter, bus: heat-mbus, address: "1", medium: heat, poll_interval_s: 10 }
  - { id: 1-1-102-heat, kind: meter, bus: heat-mbus, address: "2", medium: heat, poll_interval_s: 10 }
  - { id: shop-1-power, kind: meter, bus: shop-modbus, address: "1", model: eastron-sdm630, medium: electricity, poll_interval_s: 10 }
  - { id: gate-io-1, kind: io_module, bus: gate-io, address: "1" }
  - id: gate-in
    kind: gate
    lane: entry
    relay: gate-io-1:0
    loop_input: gate-io-1:0
    options: { loop_poll_ms: 100 }
  - id: gate-out
    kind: gate
    lane: exit
    relay: gate-io-1:1
    loop_input: gate-io-1:1
    options: { loop_poll_ms: 100 }
  - { id: cam-in, kind: camera, model: vzenith, gate: gate-in, lane: entry, secret: )" + o.camera_secret + R"( }
  - { id: cam-out, kind: camera, model: vzenith, gate: gate-out, lane: exit, secret: )" + o.camera_secret + R"( }
  - { id: pos-1, kind: pos, bus: pos-link, model: transbank-integrado }
  - { id: printer-1, kind: printer, bus: printer-link, model: 58mm }
tariffs:
  - id: power-res
    quantity: electricity
    unit: kWh
    cycle: month
    tiers:
      - { upto: 260, price: "0.5680" }
      - { upto: 600, price: "0.6180" }
      - { price: "0.8680" }
  - { id: water-res, quantity: water, unit: m3, price: "3.45" }
  - { id: heat-res, quantity: heat, unit: kWh, price: "0.2900" }
accounts:
  # Prepaid with nothing paid in: the water valve closes at the first charge; a top-up at the
  # kiosk (or the POS) opens it again.
  - room: "1-1-101"
    area_m2: "89.50"
    headcount: 3
    prepaid: { low_balance_fen: [2000, 500], credit_limit_fen: 0, grace_minutes: 0 }
    meters:
      - { meter: 1-1-101-water, tariff: water-res }
      - { meter: 1-1-101-power, tariff: power-res, on_zero: warn }
      - { meter: 1-1-101-heat, tariff: heat-res, on_zero: warn }
  - room: "1-1-102"
    area_m2: "120.00"
    headcount: 4
    meters:
      - { meter: 1-1-102-water, tariff: water-res }
      - { meter: 1-1-102-power, tariff: power-res }
      - { meter: 1-1-102-heat, tariff: heat-res }
  - room: "1-2-201"
    area_m2: "76.30"
    headcount: 2
    meters:
      - { meter: 1-2-201-power, tariff: power-res }
parking_rules:
  - { id: visitor, free_minutes: 30, unit_minutes: 60, unit_price_fen: 500, daily_cap_fen: 2000 }
)";
  return site;
}

}  // namespace estate::demo
