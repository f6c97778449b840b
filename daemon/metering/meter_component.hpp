// The daemon's meter component: one BusScheduler per configured meter bus (M-Bus, DL/T 645,
// CJ/T 188, Modbus), readings through the Recorder (validation, readings table, outbox, billing
// sink), bus and device health written to bus_status/device_status every few seconds for
// `status` and /metrics, and retention of old telemetry once an hour.
// Thread-safety: Component calls come from the daemon's io_context; command() from any thread.
#pragma once

#include <utility>

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <vector>

#include "daemon/bridge/commands.hpp"
#include "daemon/http/server.hpp"
#include "daemon/metering/bus_scheduler.hpp"
#include "daemon/metering/recorder.hpp"
#include "daemon/runtime/component.hpp"
#include "drivers/meter/model_registry.hpp"

namespace estate::metering {

class MeterComponent final : public runtime::Component {
 public:
  // `sink` (may be null) sees each stored reading inside its write transaction (billing).
  MeterComponent(runtime::Services& services, ReadingSink* sink = nullptr,
                 std::chrono::milliseconds status_interval = std::chrono::seconds(5));
  ~MeterComponent() override;

  std::string_view name() const override { return "meters"; }
  void start() override;
  void stop(std::function<void()> done) override;

  // Valve / relay command on a configured meter; `done` runs on the bus strand.
  void command(const std::string& device, drivers::MeterCommand c,
               std::function<void(boost::system::error_code)> done);

  std::vector<BusStatus> status() const;

  // Registers the platform's cmd/valve ({"meter": id, "action": "open" | "close"}) and cmd/relay
  // ({"meter": id, "action": "trip" | "close"}) (docs/mqtt-api.md) before the bridge starts.
  // Each message gets exactly one ack: refused at once when malformed or naming no meter of this
  // gateway; otherwise once the meter confirmed or the command failed, after the outcome was
  // recorded (audit entry supply.valve / supply.relay and an events record "supply_command").
  void add_commands(bridge::CommandRegistry& registry);

  // Registers the buses' and devices' counters on /metrics (estate_bus_* and estate_meter_*,
  // labelled by bus / device), read from the schedulers' in-memory snapshots.
  void add_metrics(std::shared_ptr<http::Web> web);

  // True when the site has any meter on a meter bus (wiring adds the component then).
  static bool wanted(const config::SiteConfig& cfg);

 private:
  void on_supply_command(const bridge::Command& cmd, bridge::CommandReply reply);
  void write_status();
  void arm_status();
  void arm_retention(std::chrono::seconds after);

  runtime::Services& services_;
  std::shared_ptr<const config::SiteConfig> cfg_;
  std::unique_ptr<Recorder> recorder_;
  drivers::meter::ModelRegistry models_;
  std::vector<std::shared_ptr<BusScheduler>> buses_;
  boost::asio::steady_timer status_timer_;
  boost::asio::steady_timer retention_timer_;
  std::chrono::milliseconds status_interval_;
  std::atomic<bool> stopping_{false};
  std::shared_ptr<http::Web> web_;
  int collector_ = 0;
};

}  // namespace estate::metering
