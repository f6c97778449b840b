// The gateway heartbeat: every `interval` a record on the "events" stream, through the outbox like
// any other record (droppable telemetry):
//   {"kind":"gateway.heartbeat","source":"gateway","uptime_s":..,"backlog":..,"version":"0.1.0",
//    "buses":[{"bus":"rs485-1","state":"up","ok":3,"failing":0,"offline":1,
//              "last_success":"2026-..."}]}
// uptime_s: seconds since the component started; backlog: outbox records not yet acknowledged by
// the broker; buses: each configured meter bus's health as the meters last wrote it to
// bus_status/device_status (state up/down/starting, devices per state, last good answer).
// Production sites turn it on with gateway.heartbeat_interval_s (docs/config.md), the demo and the
// bridge tests with demo.heartbeat_interval_ms; both run this component (daemon/wiring.cpp).
// A beat whose write is still queued is skipped and counted, never queued.
// Thread-safety: a timer on its own strand; start/stop from the daemon.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "daemon/record/record.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::runtime {

// The heartbeat's interval for `cfg`: demo.heartbeat_interval_ms when the demo section is there,
// else gateway.heartbeat_interval_s when the gateway has an uplink (mqtt.url); zero = no heartbeat.
std::chrono::milliseconds heartbeat_interval(const config::SiteConfig& cfg);

// The buses' health as the store holds it (bus_status, device_status), for the configured meter
// buses of `cfg` only (rows of buses no longer configured are left out), in bus order.
std::vector<record::BusHealth> bus_health(store::Database& db, const config::SiteConfig& cfg);

class HeartbeatComponent : public Component {
 public:
  HeartbeatComponent(Services& services, std::chrono::milliseconds interval);
  std::string_view name() const override { return "heartbeat"; }
  void start() override;
  void stop(std::function<void()> done) override;

 private:
  void arm();
  void beat();

  Services& services_;
  std::chrono::milliseconds interval_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point next_;
  std::shared_ptr<std::atomic<bool>> writing_ = std::make_shared<std::atomic<bool>>(false);
  std::uint64_t skipped_ = 0;
  bool stopping_ = false;
};

}  // namespace estate::runtime
