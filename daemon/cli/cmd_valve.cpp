// `estate-edge valve --device ID open|close --config FILE` (CJ/T 188 water meters) and
// `estate-edge relay --device ID trip|close --config FILE` (DL/T 645 electricity meters): sends
// the command on the device's bus and checks the device's answer (the valve's status word, the
// relay state read back from status word 3 after the meter accepted the command). Exit 0 when the device confirmed, 1 when it did not.
#include <utility>  // before Asio's awaitable (Boost 1.74 needs std::exchange declared)

#include <boost/asio/use_awaitable.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/metering/bus_tool.hpp"

namespace estate::cli {

namespace asio = boost::asio;
using boost::system::error_code;

std::pair<std::shared_ptr<const config::SiteConfig>, const config::DeviceConfig*> load_device(
    const std::string& config_file, const std::string& device);

namespace {

struct CommandOptions {
  std::string device, config, action;
};

void run_command(const CommandOptions& o, drivers::MeterCommand c) {
  auto [cfg, d] = load_device(o.config, o.device);
  const auto* b = cfg->find_bus(d->bus);
  std::unique_ptr<metering::ToolBus> bus;
  std::unique_ptr<drivers::MeterDriver> driver;
  try {
    bus = std::make_unique<metering::ToolBus>(*b);
    driver = drivers::make_meter_driver(*d, bus->port());
  } catch (const std::invalid_argument& e) {
    fail(exit_usage, e.what());
  }
  std::cerr << d->id << ": " << drivers::to_string(c) << " on bus " << b->id << "\n";
  error_code ec;
  bus->run([&]() -> asio::awaitable<void> { ec = co_await driver->command(c); });
  if (ec == drivers::TransportError::unsupported) {
    fail(exit_usage, "device " + d->id + " (" + std::string(config::to_string(b->protocol)) +
                         ") has no " + std::string(drivers::to_string(c)));
  }
  // What the device's state read back says (DL/T 645: status word 3), beside the verdict.
  const auto outcome = driver->last_outcome();
  const std::string said = outcome.empty() ? "" : " (" + outcome + ")";
  if (ec) {
    fail(exit_runtime, "device " + d->id + ": " + std::string(drivers::to_string(c)) + " failed: " +
                           ec.message() + said);
  }
  std::cout << d->id << ": " << drivers::to_string(c) << ": confirmed by the device" << said << "\n";
}

}  // namespace

void add_valve_relay_commands(CLI::App& app) {
  auto v = std::make_shared<CommandOptions>();
  auto* valve = app.add_subcommand("valve", "Open or close a water meter's valve (answer checked)");
  valve->add_option("--device", v->device, "Device id")->required();
  valve->add_option("--config,-c", v->config, "Site config that names the device")->required();
  valve->add_option("action", v->action, "open | close")->required()->check(CLI::IsMember({"open", "close"}));
  valve->callback([v] {
    run_command(*v, v->action == "open" ? drivers::MeterCommand::valve_open : drivers::MeterCommand::valve_close);
  });
  auto r = std::make_shared<CommandOptions>();
  auto* relay = app.add_subcommand("relay", "Trip or close an electricity meter's relay (answer checked)");
  relay->add_option("--device", r->device, "Device id")->required();
  relay->add_option("--config,-c", r->config, "Site config that names the device")->required();
  relay->add_option("action", r->action, "trip | close")->required()->check(CLI::IsMember({"trip", "close"}));
  relay->callback([r] {
    run_command(*r, r->action == "trip" ? drivers::MeterCommand::relay_trip : drivers::MeterCommand::relay_close);
  });
}

}  // namespace estate::cli
