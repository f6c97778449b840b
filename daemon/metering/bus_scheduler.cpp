#include "daemon/metering/bus_scheduler.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "drivers/device_families.hpp"
#include "drivers/device_make.hpp"
#include "drivers/transports/modbus_client.hpp"
#include "drivers/transports/modbus_rtu_master.hpp"

namespace estate::metering {

namespace asio = boost::asio;
using boost::system::error_code;
using drivers::TransportError;
using SteadyClock = std::chrono::steady_clock;

BusScheduler::BusScheduler(asio::io_context& io, const config::BusConfig& bus,
                           const std::vector<config::DeviceConfig>& devices,
                           const drivers::meter::ModelRegistry* models, SchedulerOptions options,
                           ReadingsHandler on_readings, EventHandler on_event)
    : strand_(asio::make_strand(io)),
      bus_(bus),
      options_(options),
      on_readings_(std::move(on_readings)),
      on_event_(std::move(on_event)),
      wake_(strand_) {
  port_.config = bus;
  port_.models = models;
  auto transport = drivers::make_bus_transport(strand_, port_);
  status_.link = transport.describe();
  link_ = std::move(transport.link);
  modbus_ = std::move(transport.modbus);
  status_.bus = bus.id;
  status_.protocol = std::string(config::to_string(bus.protocol));
  // Each meter built by its device family (drivers/device_make.hpp) on this bus's port.
  const std::vector<config::BusConfig> buses{bus};
  const drivers::DeviceSite site{buses, devices, models};
  const drivers::DeviceContext ctx{strand_, site, nullptr, &port_};
  for (const auto& dc : devices) {
    auto driver = drivers::make_device_as<std::unique_ptr<drivers::MeterDriver>>(ctx, dc);
    auto d = std::make_unique<Device>(Device{dc, std::move(driver), {}, {}, {},
                                             drivers::Backoff(options_.breaker_base,
                                                              options_.breaker_cap),
                                             DeviceStatus{}});
    d->status.device = dc.id;
    d->status.bus = bus.id;
    d->index = devices_.size();
    devices_.push_back(std::move(d));
  }
  published_ = status_;
}

BusScheduler::~BusScheduler() = default;

std::chrono::steady_clock::duration BusScheduler::jitter(const Device& d) {
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(d.cfg.poll_interval);
  const auto span = std::min<std::int64_t>(5000, static_cast<std::int64_t>(
                                                      static_cast<double>(interval.count()) * options_.jitter));
  if (span <= 0) return {};
  std::uniform_int_distribution<std::int64_t> pick(-span, span);
  return std::chrono::milliseconds(pick(rng_));
}

void BusScheduler::start() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    const auto now = SteadyClock::now();
    for (auto& d : self->devices_) {
      // Staggered first polls: a whole line of meters does not start in the same second.
      std::chrono::steady_clock::duration offset{};
      if (self->options_.stagger && self->devices_.size() > 1) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d->cfg.poll_interval).count();
        std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(0, std::min<std::int64_t>(ms, 2000) - 1));
        offset = std::chrono::milliseconds(pick(self->rng_));
      }
      d->anchor = now + offset;
      d->due = d->anchor;
    }
    self->running_ = true;
    asio::co_spawn(self->strand_, self->run(), [self](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("bus {}: poll loop failed: {}", self->bus_.id, ex.what());
        }
      }
      self->running_ = false;
      if (self->link_) self->link_->close();
      auto done = std::move(self->stopped_);
      if (done) done();
    });
  });
}

void BusScheduler::stop(std::function<void()> done) {
  asio::dispatch(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->stopping_ = true;
    for (auto& c : self->commands_) {
      if (c.done) c.done(make_error_code(TransportError::cancelled));
    }
    self->commands_.clear();
    if (!self->running_) {
      done();
      return;
    }
    self->stopped_ = std::move(done);
    self->wake_.cancel();
  });
}

void BusScheduler::command(const std::string& device, drivers::MeterCommand c,
                           std::function<void(error_code)> done) {
  asio::dispatch(strand_, [self = shared_from_this(), device, c, done = std::move(done)]() mutable {
    if (self->stopping_) return done(make_error_code(TransportError::cancelled));
    if (self->commands_.size() >= self->options_.max_commands) {
      return done(make_error_code(TransportError::overloaded));
    }
    self->commands_.push_back({device, c, std::move(done)});
    self->wake_.cancel();
  });
}

BusScheduler::Snapshot BusScheduler::counters() const {
  if (modbus_) {
    const auto& c = modbus_->counters();
    return {c.requests.load(), c.timeouts.load(), c.checksum_errors.load(), c.errors.load()};
  }
  const auto& c = link_->counters();
  return {c.requests, c.timeouts, c.checksum_errors, c.frame_errors};
}

void BusScheduler::account(Device& d, const Snapshot& before) {
  // The bus does one transaction at a time, so what the counters moved by belongs to `d`.
  const auto now = counters();
  d.status.requests += now.requests - before.requests;
  d.status.timeouts += now.timeouts - before.timeouts;
  d.status.crc_errors += now.crc - before.crc;
  d.status.frame_errors += now.frames - before.frames;
  status_.requests = now.requests;
  status_.timeouts = now.timeouts;
  status_.crc_errors = now.crc;
  status_.frame_errors = now.frames;
}

void BusScheduler::publish() {
  // status_.devices stays empty: the devices' statuses live in devices_.
  BusStatus s = status_;
  s.devices.reserve(devices_.size());
  for (const auto& d : devices_) s.devices.push_back(d->status);
  std::lock_guard lock(mutex_);
  published_ = std::move(s);
}

void BusScheduler::publish(const Device& d) {
  // O(1) per poll: a bus of hundreds of meters does not copy every device's status each time.
  std::lock_guard lock(mutex_);
  auto devices = std::move(published_.devices);
  published_ = status_;  // status_.devices is empty: a copy of the bus's own fields
  published_.devices = std::move(devices);
  if (d.index < published_.devices.size()) published_.devices[d.index] = d.status;
}

BusStatus BusScheduler::snapshot() const {
  std::lock_guard lock(mutex_);
  return published_;
}

asio::awaitable<void> BusScheduler::poll(Device& d) {
  const auto before = counters();
  std::vector<drivers::Reading> readings;
  error_code ec;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    readings.clear();
    ec = co_await d.driver->poll(readings);
    if (!ec || !drivers::is_device_fault(ec) || stopping_) break;
  }
  account(d, before);
  ++d.status.polls;
  const auto now = SteadyClock::now();
  if (!ec) {
    const bool was_offline = d.status.state == "offline";
    d.status.state = "ok";
    d.status.consecutive_failures = 0;
    d.status.last_success = std::chrono::system_clock::now();
    status_.last_success = d.status.last_success;
    status_.state = "up";
    d.status.readings += readings.size();
    d.breaker.reset();
    if (was_offline) {
      spdlog::info("bus {}: device {} answers again", bus_.id, d.cfg.id);
      if (on_event_) on_event_("device_online", d.cfg.id, "answers again");
    }
    if (on_readings_ && !readings.empty()) on_readings_(d.cfg, std::move(readings));
  } else {
    ++d.status.failures;
    ++d.status.consecutive_failures;
    d.status.last_error = ec.message();
    if (drivers::is_line_down(ec)) status_.state = "down";
    // Offline (and the breaker open) after the device's offline_after_polls failed polls.
    const int threshold =
        d.cfg.offline_after_polls > 0 ? d.cfg.offline_after_polls : options_.breaker_threshold;
    if (d.status.consecutive_failures >= static_cast<std::uint64_t>(threshold)) {
      const auto wait = d.breaker.next();
      d.breaker_until = now + wait;
      if (d.status.state != "offline") {
        spdlog::warn("bus {}: device {} offline after {} failed polls ({}); retrying in {} ms",
                     bus_.id, d.cfg.id, d.status.consecutive_failures, ec.message(), wait.count());
        if (on_event_) {
          on_event_("device_offline", d.cfg.id,
                    std::to_string(d.status.consecutive_failures) + " failed polls: " + ec.message());
        }
      }
      d.status.state = "offline";
    } else {
      d.status.state = "failing";
      spdlog::debug("bus {}: device {} poll failed: {}", bus_.id, d.cfg.id, ec.message());
    }
  }
  reschedule(d, now);
  publish(d);
}

void BusScheduler::shed(Device& d) {
  ++status_.polls_skipped;
  ++status_.polls_shed;
  reschedule(d, SteadyClock::now());
  publish(d);
}

void BusScheduler::reschedule(Device& d, SteadyClock::time_point now) {
  // Next due time: anchored to the schedule (no drift), jittered, never in the past; polls
  // the bus could not fit are skipped and counted.
  d.anchor += d.cfg.poll_interval;
  if (d.anchor <= now) {
    const auto behind = now - d.anchor;
    const auto missed = behind / std::chrono::duration_cast<SteadyClock::duration>(d.cfg.poll_interval) + 1;
    status_.polls_skipped += static_cast<std::uint64_t>(missed);
    d.anchor += d.cfg.poll_interval * missed;
  }
  d.due = std::max(d.anchor + jitter(d), now);
  if (d.status.state == "offline") d.due = std::max(d.due, d.breaker_until);
}

asio::awaitable<void> BusScheduler::run() {
  publish();
  while (!stopping_) {
    if (!commands_.empty()) {
      auto c = std::move(commands_.front());
      commands_.pop_front();
      auto it = std::find_if(devices_.begin(), devices_.end(),
                             [&](const auto& d) { return d->cfg.id == c.device; });
      error_code ec = make_error_code(TransportError::unsupported);
      if (it != devices_.end()) {
        const auto before = counters();
        ec = co_await (*it)->driver->command(c.command);
        account(**it, before);
        // What the meter confirmed (its state read back), not only that it was asked.
        const auto outcome = (*it)->driver->last_outcome();
        const std::string result =
            (ec ? ec.message() : std::string("done")) + (outcome.empty() ? "" : " (" + outcome + ")");
        spdlog::info("bus {}: {} {}: {}", bus_.id, c.device, drivers::to_string(c.command), result);
        if (on_event_) {
          on_event_("meter_command", c.device, std::string(drivers::to_string(c.command)) + ": " + result);
        }
        publish();
      }
      if (c.done) c.done(ec);
      continue;
    }
    Device* next = nullptr;
    for (auto& d : devices_) {
      if (!next || d->due < next->due) next = d.get();
    }
    if (!next) {
      wake_.expires_at(SteadyClock::time_point::max());
    } else if (next->due > SteadyClock::now()) {
      wake_.expires_at(next->due);
    } else if (options_.admit && !options_.admit()) {
      shed(*next);
      continue;
    } else {
      co_await poll(*next);
      continue;
    }
    error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  publish();
}

}  // namespace estate::metering
