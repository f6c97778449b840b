// The technician dashboard: a page under /dashboard/ (static assets, no data in them) and its
// data under /api/dashboard (technician token): buses and devices with their state, counters,
// last reading and last error; the outbox backlog per stream and the broker's state; the last
// events; per-meter consumption (day: hourly, week: daily) and per-bus poll timing drawn from
// the local store. The charting library is Debian's libjs-chart.js, served by the daemon as
// /dashboard/chart.js (no CDN).
// Thread-safety: handlers open their own read connection per request (WAL readers beside the
// writer); mount once, before the listener starts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/http/server.hpp"
#include "daemon/store/store.hpp"

namespace estate::http {

// Mounts /dashboard, /dashboard/ (assets from `assets_dir`/dashboard, chart.js from
// `chart_js`) and /api/dashboard, /api/dashboard/consumption, /api/dashboard/polls.
// `utc_offset` gives the site's UTC offset in minutes (read per request: it follows a reload).
void mount_dashboard(const std::shared_ptr<Web>& web, const store::Store& store,
                     std::function<int()> utc_offset, const std::filesystem::path& assets_dir,
                     const std::filesystem::path& chart_js);

// Where Chart.js is: $ESTATE_EDGE_CHARTJS, else Debian's libjs-chart.js.
std::filesystem::path default_chart_js();

// The dashboard's figures, read from the store (exposed for tests).
nlohmann::json dashboard_overview(store::Database& db, int events_limit);
// Consumption of `meter` per hour over the last day ("day") or per day over the last week
// ("week"), ending at `now_ms` (Unix ms), bucketed in the site's UTC offset: the sum of the
// validated readings' deltas per bucket and quantity. Throws std::invalid_argument naming a bad
// `range`.
nlohmann::json dashboard_consumption(store::Database& db, const std::string& meter,
                                     const std::string& range, std::int64_t now_ms,
                                     int utc_offset_minutes);
// Per bus: the interval between successive readings of each of its devices (the achieved poll
// period, ms) for the last `limit` readings per bus, oldest first.
nlohmann::json dashboard_polls(store::Database& db, int limit);

}  // namespace estate::http
