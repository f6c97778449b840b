#include "daemon/demo/heartbeat.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "daemon/record/record.hpp"

namespace estate::demo {

void validate_demo_section(config::Section& document) {
  auto s = document.map("demo");
  if (!s) return;
  s->integer("heartbeat_interval_ms", 1, 3'600'000);
  s->finish();
}

std::optional<DemoSettings> demo_settings(const config::SiteConfig& cfg) {
  auto it = cfg.domain_sections.find("demo");
  if (it == cfg.domain_sections.end() || it->second.empty()) return std::nullopt;
  DemoSettings s;
  for (const auto& occurrence : it->second) {
    const auto& n = occurrence.node;
    if (n.IsMap() && n["heartbeat_interval_ms"]) {
      s.heartbeat_interval = std::chrono::milliseconds(n["heartbeat_interval_ms"].as<std::int64_t>());
    }
  }
  return s;
}

HeartbeatComponent::HeartbeatComponent(runtime::Services& services, DemoSettings settings)
    : services_(services),
      settings_(settings),
      strand_(boost::asio::make_strand(services.io)),
      timer_(strand_),
      started_at_(std::chrono::steady_clock::now()) {}

void HeartbeatComponent::start() {
  spdlog::info("heartbeat: an events record every {} ms", settings_.heartbeat_interval.count());
  boost::asio::post(strand_, [this] {
    next_ = std::chrono::steady_clock::now();
    arm();
  });
}

void HeartbeatComponent::arm() {
  // Scheduled from the previous deadline, not from now, so the rate holds under load.
  next_ += settings_.heartbeat_interval;
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
  auto gateway = cfg->gateway.id;
  auto ts = store::iso8601_now(cfg->site.utc_offset_minutes);
  services_.store.write(
      [gateway, ts, uptime](store::Database& db) {
        record::Heartbeat beat;
        beat.ts = ts;
        beat.uptime_s = uptime;
        beat.backlog = db.query_int("SELECT count(*) FROM outbox");
        record::append(db, gateway, beat);
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

}  // namespace estate::demo
