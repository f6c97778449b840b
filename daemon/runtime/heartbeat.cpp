#include "daemon/runtime/heartbeat.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <map>
#include <set>

#include "daemon/demo/demo_section.hpp"

namespace estate::runtime {

std::chrono::milliseconds heartbeat_interval(const config::SiteConfig& cfg) {
  if (auto demo = demo::demo_settings(cfg)) return demo->heartbeat_interval;
  if (cfg.mqtt.url.empty()) return std::chrono::milliseconds(0);  // nobody to hear it
  return cfg.gateway.heartbeat_interval;
}

std::vector<record::BusHealth> bus_health(store::Database& db, const config::SiteConfig& cfg) {
  std::set<std::string> configured;
  for (const auto& b : cfg.buses) configured.insert(b.id);
  std::map<std::string, record::BusHealth> out;
  auto buses = db.prepare("SELECT bus, state, last_success FROM bus_status ORDER BY bus");
  while (buses.step()) {
    if (!configured.count(buses.text(0))) continue;
    record::BusHealth h;
    h.bus = buses.text(0);
    h.state = buses.text(1);
    if (!buses.is_null(2)) h.last_success = buses.text(2);
    out.emplace(h.bus, std::move(h));
  }
  auto devices = db.prepare("SELECT bus, state, count(*) FROM device_status GROUP BY bus, state");
  while (devices.step()) {
    auto it = out.find(devices.text(0));
    if (it == out.end()) continue;
    const auto state = devices.text(1);
    const auto n = devices.int64(2);
    if (state == "ok") it->second.ok += n;
    else if (state == "failing") it->second.failing += n;
    else it->second.offline += n;  // offline (breaker open)
  }
  std::vector<record::BusHealth> list;
  for (auto& [bus, h] : out) list.push_back(std::move(h));
  return list;
}

HeartbeatComponent::HeartbeatComponent(Services& services, std::chrono::milliseconds interval)
    : services_(services),
      interval_(interval),
      strand_(boost::asio::make_strand(services.io)),
      timer_(strand_),
      started_at_(std::chrono::steady_clock::now()) {}

void HeartbeatComponent::start() {
  spdlog::info("heartbeat: an events record every {} ms", interval_.count());
  boost::asio::post(strand_, [this] {
    next_ = std::chrono::steady_clock::now();
    arm();
  });
}

void HeartbeatComponent::arm() {
  // Scheduled from the previous deadline, not from now, so the rate holds under load.
  next_ += interval_;
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    beat();
    arm();
  });
}

void HeartbeatComponent::beat() {
  if (writing_->exchange(true)) {
    if (++skipped_ % 100 == 1) {
      spdlog::warn("heartbeat: store busy, {} beat(s) skipped so far", skipped_);
    }
    return;
  }
  auto cfg = services_.config();
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                 started_at_)
                    .count();
  auto ts = store::iso8601_now(cfg->site.utc_offset_minutes);
  services_.store.write(
      [cfg, ts, uptime](store::Database& db) {
        record::Heartbeat beat;
        beat.ts = ts;
        beat.uptime_s = uptime;
        beat.backlog = db.query_int("SELECT count(*) FROM outbox");
        beat.version = ESTATE_EDGE_VERSION;
        beat.buses = bus_health(db, *cfg);
        record::append(db, cfg->gateway.id, beat);
      },
      [writing = writing_](std::exception_ptr e) {
        writing->store(false);
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("heartbeat: storing the record failed: {}", ex.what());
        }
      });
}

void HeartbeatComponent::stop(std::function<void()> done) {
  boost::asio::post(strand_, [this, done = std::move(done)] {
    stopping_ = true;
    timer_.cancel();
    done();
  });
}

}  // namespace estate::runtime
