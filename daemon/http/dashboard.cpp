#include "daemon/http/dashboard.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace estate::http {

namespace {

using nlohmann::json;

std::string meta(store::Database& db, const char* key, const std::string& def = "") {
  auto st = db.prepare("SELECT value FROM meta WHERE key = ?1");
  st.bind(1, key);
  return st.step() ? st.text(0) : def;
}

json text_or_null(const store::Statement& st, int col) {
  return st.is_null(col) ? json(nullptr) : json(st.text(col));
}

// Asset names are one path segment of safe characters: no traversal, no hidden files.
bool safe_name(std::string_view n) {
  if (n.empty() || n.front() == '.' || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

std::string content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

Response file_response(const std::filesystem::path& file, const std::string& name) {
  std::ifstream f(file, std::ios::binary);
  if (!f) return Response::error(404, "not_found", "no such asset: " + name);
  std::ostringstream ss;
  ss << f.rdbuf();
  Response r = Response::text(200, ss.str(), content_type(name));
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "MM-DD" or "HH:00" of a bucket start (ms since the epoch, already shifted to local time).
std::string bucket_label(std::int64_t local_ms, bool daily) {
  const std::int64_t secs = local_ms / 1000;
  const std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  if (!daily) {
    const auto hour = (secs - days * 86400) / 3600;
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:00", static_cast<int>(hour));
    return buf;
  }
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d-%02d", static_cast<int>(m), static_cast<int>(d));
  return buf;
}

}  // namespace

std::filesystem::path default_chart_js() {
  if (const char* env = std::getenv("ESTATE_EDGE_CHARTJS"); env && *env) return env;
  return "/usr/share/javascript/chart.js/chart.min.js";
}

json dashboard_overview(store::Database& db, int events_limit) {
  json j;
  j["gateway"] = meta(db, "gateway_id");
  j["broker"] = {{"state", meta(db, "broker_state", "unknown")},
                 {"since", meta(db, "broker_state_since", "")},
                 {"detail", meta(db, "broker_detail", "")}};
  auto& ob = j["outbox"];
  ob["last_seq"] = db.query_int("SELECT value FROM counters WHERE name = 'outbox_seq'");
  ob["pending"] = db.query_int("SELECT count(*) FROM outbox");
  ob["oldest_pending_unix"] = nullptr;  // created_at (Unix seconds) of the oldest record waiting
  {
    auto st = db.prepare("SELECT created_at FROM outbox ORDER BY seq LIMIT 1");
    if (st.step()) ob["oldest_pending_unix"] = st.int64(0);
  }
  ob["streams"] = json::array();
  {
    auto st = db.prepare(
        "SELECT s.stream, s.appended, s.acknowledged, s.dropped, "
        "(SELECT count(*) FROM outbox o WHERE o.stream = s.stream) "
        "FROM stream_counts s ORDER BY s.stream");
    while (st.step()) {
      ob["streams"].push_back({{"stream", st.text(0)}, {"appended", st.int64(1)},
                               {"acknowledged", st.int64(2)}, {"dropped", st.int64(3)},
                               {"pending", st.int64(4)}});
    }
  }

  std::map<std::string, json> buses;
  std::vector<std::string> order;
  {
    auto st = db.prepare(
        "SELECT bus, protocol, link, state, requests, timeouts, crc_errors, frame_errors,"
        " polls_skipped, last_success, updated_at FROM bus_status ORDER BY bus");
    while (st.step()) {
      order.push_back(st.text(0));
      buses[st.text(0)] = {{"bus", st.text(0)},           {"protocol", st.text(1)},
                           {"link", st.text(2)},          {"state", st.text(3)},
                           {"requests", st.int64(4)},     {"timeouts", st.int64(5)},
                           {"crc_errors", st.int64(6)},   {"frame_errors", st.int64(7)},
                           {"polls_skipped", st.int64(8)}, {"last_success", text_or_null(st, 9)},
                           {"updated_at", st.text(10)},   {"devices", json::array()}};
    }
  }
  {
    auto last = db.prepare(
        "SELECT quantity, value, unit, quality, ts FROM readings WHERE meter = ?1 "
        "ORDER BY cumulative DESC, id DESC LIMIT 1");  // the meter's register over its states
    auto st = db.prepare(
        "SELECT device, bus, state, requests, timeouts, crc_errors, frame_errors, polls,"
        " failures, consecutive_failures, readings, last_success, last_error, updated_at"
        " FROM device_status ORDER BY bus, device");
    while (st.step()) {
      json d = {{"device", st.text(0)},        {"bus", st.text(1)},
                {"state", st.text(2)},         {"requests", st.int64(3)},
                {"timeouts", st.int64(4)},     {"crc_errors", st.int64(5)},
                {"frame_errors", st.int64(6)}, {"polls", st.int64(7)},
                {"failures", st.int64(8)},     {"consecutive_failures", st.int64(9)},
                {"readings", st.int64(10)},    {"last_success", text_or_null(st, 11)},
                {"last_error", text_or_null(st, 12)}, {"updated_at", st.text(13)},
                {"last_reading", nullptr}};
      last.bind(1, st.text(0));
      if (last.step()) {
        d["last_reading"] = {{"quantity", last.text(0)}, {"value", last.text(1)},
                             {"unit", last.text(2)},     {"quality", last.text(3)},
                             {"ts", last.text(4)}};
      }
      last.reset();
      auto it = buses.find(st.text(1));
      if (it == buses.end()) {
        order.push_back(st.text(1));
        it = buses.emplace(st.text(1), json{{"bus", st.text(1)}, {"state", "unknown"},
                                            {"devices", json::array()}})
                 .first;
      }
      it->second["devices"].push_back(std::move(d));
    }
  }
  j["buses"] = json::array();
  for (const auto& b : order) j["buses"].push_back(buses[b]);

  // Gates: the barrier's state (gate_status) and the lane's last decision, its credential
  // masked as access_events keeps it.
  j["gates"] = json::array();
  {
    auto last = db.prepare(
        "SELECT ts, credential_kind, credential, verdict, reason FROM access_events "
        "WHERE gate = ?1 ORDER BY id DESC LIMIT 1");
    auto st = db.prepare(
        "SELECT gate, lane, drive, barrier, loop_occupied, healthy, passages, faults, "
        "last_fault, last_fault_at, changed_at FROM gate_status ORDER BY gate");
    while (st.step()) {
      json g = {{"gate", st.text(0)},       {"lane", st.text(1)},
                {"drive", st.text(2)},      {"barrier", st.text(3)},
                {"loop_occupied", nullptr}, {"state", st.int64(5) ? "ok" : "failing"},
                {"passages", st.int64(6)},  {"faults", st.int64(7)},
                {"last_fault", text_or_null(st, 8)}, {"last_fault_at", text_or_null(st, 9)},
                {"changed_at", st.text(10)}, {"last_decision", nullptr}};
      if (!st.is_null(4)) g["loop_occupied"] = st.int64(4) != 0;
      last.bind(1, st.text(0));
      if (last.step()) {
        g["last_decision"] = {{"ts", last.text(0)},      {"kind", last.text(1)},
                              {"credential", last.text(2)}, {"verdict", last.text(3)},
                              {"reason", last.text(4)}};
      }
      last.reset();
      j["gates"].push_back(std::move(g));
    }
  }

  j["meters"] = json::array();
  {
    auto st = db.prepare("SELECT DISTINCT meter FROM readings ORDER BY meter");
    while (st.step()) j["meters"].push_back(st.text(0));
  }

  j["events"] = json::array();
  {
    auto st = db.prepare(
        "SELECT id, ts, kind, source, detail FROM events ORDER BY id DESC LIMIT ?1");
    st.bind(1, events_limit);
    while (st.step()) {
      j["events"].push_back({{"id", st.int64(0)}, {"ts", st.text(1)}, {"kind", st.text(2)},
                             {"source", st.text(3)}, {"detail", st.text(4)}});
    }
  }
  return j;
}

json dashboard_consumption(store::Database& db, const std::string& meter, const std::string& range,
                           std::int64_t now, int utc_offset_minutes) {
  bool daily;
  if (range == "day") {
    daily = false;
  } else if (range == "week") {
    daily = true;
  } else {
    throw std::invalid_argument("range: expected 'day' or 'week', got '" + range + "'");
  }
  const std::int64_t bucket_ms = daily ? 86'400'000 : 3'600'000;
  const int buckets = daily ? 7 : 24;
  const std::int64_t shift = static_cast<std::int64_t>(utc_offset_minutes) * 60'000;
  // Buckets aligned on local hours or days; the last one holds `now`.
  const std::int64_t last_start = ((now + shift) / bucket_ms) * bucket_ms;
  const std::int64_t first_start = last_start - (buckets - 1) * bucket_ms;

  json out;
  out["meter"] = meter;
  out["range"] = range;
  out["bucket_s"] = bucket_ms / 1000;
  out["labels"] = json::array();
  for (int i = 0; i < buckets; ++i) {
    out["labels"].push_back(bucket_label(first_start + i * bucket_ms, daily));
  }
  std::map<std::string, std::pair<std::string, std::vector<double>>> series;
  // Deltas are exact decimal text; the chart's sums are plotted, never billed.
  auto st = db.prepare(
      "SELECT quantity, unit, (ts_ms + ?2 - ?3) / ?4, sum(CAST(delta AS REAL)) FROM readings "
      "WHERE meter = ?1 AND delta IS NOT NULL AND ts_ms + ?2 >= ?3 AND ts_ms + ?2 < ?3 + ?5 "
      "GROUP BY quantity, unit, 3 ORDER BY quantity, 3");
  st.bind(1, meter).bind(2, shift).bind(3, first_start).bind(4, bucket_ms);
  st.bind(5, buckets * bucket_ms);
  while (st.step()) {
    auto& s = series[st.text(0)];
    if (s.second.empty()) {
      s.first = st.text(1);
      s.second.assign(static_cast<std::size_t>(buckets), 0.0);
    }
    const auto i = st.int64(2);
    if (i >= 0 && i < buckets) s.second[static_cast<std::size_t>(i)] += st.real(3);
  }
  out["series"] = json::array();
  for (auto& [quantity, s] : series) {
    out["series"].push_back({{"quantity", quantity}, {"unit", s.first}, {"values", s.second}});
  }
  return out;
}

json dashboard_polls(store::Database& db, int limit) {
  json out = json::array();
  std::vector<std::string> bus_ids;
  {
    auto st = db.prepare("SELECT DISTINCT bus FROM device_status ORDER BY bus");
    while (st.step()) bus_ids.push_back(st.text(0));
  }
  // The achieved period between successive readings of one register of one device: a bus that
  // is too slow for its schedule shows it here first.
  auto st = db.prepare(
      "SELECT ts, meter, interval_ms FROM ("
      " SELECT r.id, r.ts, r.meter,"
      "  r.ts_ms - LAG(r.ts_ms) OVER (PARTITION BY r.meter, r.quantity ORDER BY r.id) AS interval_ms"
      " FROM readings r JOIN device_status d ON d.device = r.meter WHERE d.bus = ?1"
      ") WHERE interval_ms IS NOT NULL ORDER BY id DESC LIMIT ?2");
  for (const auto& bus : bus_ids) {
    st.bind(1, bus).bind(2, limit);
    json points = json::array();
    while (st.step()) {
      points.push_back({{"ts", st.text(0)}, {"device", st.text(1)}, {"interval_ms", st.int64(2)}});
    }
    st.reset();
    std::reverse(points.begin(), points.end());
    out.push_back({{"bus", bus}, {"points", std::move(points)}});
  }
  return out;
}

void mount_dashboard(const std::shared_ptr<Web>& web, const store::Store& store,
                     std::function<int()> utc_offset, const std::filesystem::path& assets_dir,
                     const std::filesystem::path& chart_js) {
  web->router.add_route("GET", "/dashboard", Role::none, [](const Request&) {
    Response r = Response::text(308, "", "text/plain");
    r.headers.emplace_back("Location", "/dashboard/");
    return r;
  });
  // The page and its scripts hold no data: they are open like the kiosk's. Every figure comes
  // from /api/dashboard, which needs a technician token.
  auto dir = assets_dir / "dashboard";
  web->router.add_route("GET", "/dashboard/", Role::none, [dir, chart_js](const Request& req) {
    std::string name = req.rest.empty() ? "index.html" : req.rest;
    if (!safe_name(name)) return Response::error(404, "not_found", "no such asset");
    if (name == "chart.js") {
      std::error_code ec;
      if (!std::filesystem::exists(chart_js, ec)) {
        return Response::error(404, "not_found",
                               "chart.js not found at " + chart_js.string() +
                                   " (install Debian's libjs-chart.js)");
      }
      return file_response(chart_js, name);
    }
    return file_response(dir / name, name);
  });
  const store::Store* s = &store;
  web->router.add_route("GET", "/api/dashboard", Role::technician, [s](const Request&) {
    auto db = s->open_reader();
    return Response::json(200, dashboard_overview(db, 30));
  });
  web->router.add_route(
      "GET", "/api/dashboard/consumption", Role::technician,
      [s, utc_offset](const Request& req) {
        auto meter = req.query.find("meter");
        if (meter == req.query.end() || meter->second.empty() || meter->second.size() > 128) {
          return Response::error(400, "bad_request", "query parameter 'meter' is required");
        }
        auto range = req.query.find("range");
        try {
          auto db = s->open_reader();
          return Response::json(
              200, dashboard_consumption(db, meter->second,
                                         range == req.query.end() ? "day" : range->second,
                                         now_ms(), utc_offset ? utc_offset() : 0));
        } catch (const std::invalid_argument& e) {
          return Response::error(400, "bad_request", e.what());
        }
      });
  web->router.add_route("GET", "/api/dashboard/polls", Role::technician, [s](const Request&) {
    auto db = s->open_reader();
    return Response::json(200, {{"buses", dashboard_polls(db, 120)}});
  });
}

}  // namespace estate::http
