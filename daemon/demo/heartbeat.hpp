// The gateway heartbeat: every `interval` an event record on the "events" stream,
// {"kind":"gateway.heartbeat","source":"gateway","uptime_s":..,"backlog":..}, through the outbox
// like any other record. Enabled by the `demo:` config section (docs/config.md), so the demo
// site and the bridge tests have a real, steady record stream before any device is wired.
// Droppable telemetry. A beat whose write is still queued is skipped and counted, never queued.
// Thread-safety: a timer on its own strand; start/stop from the daemon.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <optional>

#include "daemon/demo/demo_section.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::demo {

class HeartbeatComponent : public runtime::Component {
 public:
  HeartbeatComponent(runtime::Services& services, DemoSettings settings);
  std::string_view name() const override { return "heartbeat"; }
  void start() override;
  void stop(std::function<void()> done) override;

 private:
  void arm();
  void beat();

  runtime::Services& services_;
  DemoSettings settings_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point next_;
  std::shared_ptr<std::atomic<bool>> writing_ = std::make_shared<std::atomic<bool>>(false);
  std::uint64_t skipped_ = 0;
  bool stopping_ = false;
};

}  // namespace estate::demo
