// One meter bus: its strand, its transport (a Link; libmodbus's ModbusClient for Modbus RTU and
// TCP; RTU frames over a Link for Modbus RTU over TCP), its devices' drivers, and
// the poll loop. A bus does one transaction at a time; buses run in parallel on the shared
// io_context. Control commands (valve, relay) go ahead of queued polls. Each device has its own
// poll interval with jitter, retries, and a circuit breaker: after the device's
// `offline_after_polls` consecutive failures the device is skipped for a backoff (capped, jittered, doubling) and
// reported, so a dead meter never stalls the others on its line. A poll that falls a whole
// interval behind is skipped and counted rather than queued.
// Thread-safety: start/stop/command/snapshot may be called from any thread; everything else
// runs on the bus strand.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "daemon/config/site_config.hpp"
#include "drivers/meter/meter_driver.hpp"
#include "drivers/transports/backoff.hpp"

namespace estate::metering {

struct SchedulerOptions {
  int retries = 1;                     // extra attempts after a device fault, per poll
  int breaker_threshold = 3;           // consecutive failed polls that open the breaker, for a
                                       // device without its own offline_after_polls
  std::chrono::milliseconds breaker_base{10000};
  std::chrono::milliseconds breaker_cap{std::chrono::minutes(15)};
  double jitter = 0.1;                 // +- this fraction of the interval (at most 5 s)
  std::size_t max_commands = 32;       // queued control commands per bus
  bool stagger = true;                 // spread first polls over one interval
  // Overload: asked before each poll whether its readings can be taken now (the store's
  // writer is keeping up). When it says no the poll is skipped and counted (polls_skipped and
  // polls_shed), never queued: memory stays bounded when demand exceeds what the box carries.
  std::function<bool()> admit;
};

struct DeviceStatus {
  std::string device;
  std::string bus;
  std::string state = "ok";            // ok, failing, offline (breaker open)
  std::uint64_t requests = 0, timeouts = 0, crc_errors = 0, frame_errors = 0;
  std::uint64_t polls = 0, failures = 0, consecutive_failures = 0, readings = 0;
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::string last_error;
};

struct BusStatus {
  std::string bus;
  std::string protocol;
  std::string link;                    // "serial /dev/ttyUSB0 2400 8E1"
  std::string state = "starting";      // up, down
  std::uint64_t requests = 0, timeouts = 0, crc_errors = 0, frame_errors = 0;
  // Polls not run: a whole interval behind schedule, or shed under overload (polls_shed counts
  // the latter alone).
  std::uint64_t polls_skipped = 0, polls_shed = 0;
  std::optional<std::chrono::system_clock::time_point> last_success;
  std::vector<DeviceStatus> devices;
};

class BusScheduler : public std::enable_shared_from_this<BusScheduler> {
 public:
  using ReadingsHandler =
      std::function<void(const config::DeviceConfig&, std::vector<drivers::Reading>)>;
  using EventHandler = std::function<void(const std::string& kind, const std::string& device,
                                          const std::string& detail)>;

  // Throws std::invalid_argument naming the device when a driver cannot be built.
  BusScheduler(boost::asio::io_context& io, const config::BusConfig& bus,
               const std::vector<config::DeviceConfig>& devices,
               const drivers::meter::ModelRegistry* models, SchedulerOptions options,
               ReadingsHandler on_readings, EventHandler on_event = {});
  ~BusScheduler();

  void start();
  // Finishes the transaction in progress, then calls done (from the strand).
  void stop(std::function<void()> done);
  // Queues a command ahead of polls; `done` runs on the strand with the device's verdict.
  void command(const std::string& device, drivers::MeterCommand c,
               std::function<void(boost::system::error_code)> done);

  BusStatus snapshot() const;
  const std::string& id() const { return bus_.id; }
  std::size_t device_count() const { return devices_.size(); }

 private:
  struct Device {
    config::DeviceConfig cfg;
    std::unique_ptr<drivers::MeterDriver> driver;
    std::chrono::steady_clock::time_point due{};
    std::chrono::steady_clock::time_point anchor{};
    std::chrono::steady_clock::time_point breaker_until{};
    drivers::Backoff breaker;
    DeviceStatus status;
    std::size_t index = 0;  // in devices_ and in published_.devices
  };
  struct Command {
    std::string device;
    drivers::MeterCommand command;
    std::function<void(boost::system::error_code)> done;
  };
  struct Snapshot {
    std::uint64_t requests, timeouts, crc, frames;
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> poll(Device& d);
  void shed(Device& d);
  void reschedule(Device& d, std::chrono::steady_clock::time_point now);
  Snapshot counters() const;
  void account(Device& d, const Snapshot& before);
  std::chrono::steady_clock::duration jitter(const Device& d);
  void publish();  // copies status under the mutex
  void publish(const Device& d);  // the bus's counters and this device's status only

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  config::BusConfig bus_;
  SchedulerOptions options_;
  ReadingsHandler on_readings_;
  EventHandler on_event_;
  std::unique_ptr<drivers::Link> link_;            // M-Bus, DL/T 645, CJ/T 188; Modbus RTU over TCP
  std::unique_ptr<drivers::ModbusMaster> modbus_;  // Modbus (on link_ for RTU over TCP)
  drivers::BusPort port_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::deque<Command> commands_;
  boost::asio::steady_timer wake_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool stopping_ = false;
  bool running_ = false;
  std::function<void()> stopped_;
  BusStatus status_;                 // strand copy
  mutable std::mutex mutex_;
  BusStatus published_;              // read by snapshot()
};

}  // namespace estate::metering
