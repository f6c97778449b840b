#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/store/store.hpp"

namespace estate::cli {

namespace {

std::string meta(store::Database& db, const char* key, const std::string& def = "") {
  auto st = db.prepare("SELECT value FROM meta WHERE key = ?1");
  st.bind(1, key);
  return st.step() ? st.text(0) : def;
}

// Reads the store of a running or stopped daemon (read-only; WAL lets it run beside the writer).
nlohmann::ordered_json read_status(const std::filesystem::path& state_dir) {
  auto db = store::open_store(state_dir, store::OpenMode::read_only);
  nlohmann::ordered_json j;
  j["gateway"] = meta(db, "gateway_id");
  j["state_dir"] = state_dir.string();
  auto& ob = j["outbox"];
  ob["last_seq"] = db.query_int("SELECT value FROM counters WHERE name = 'outbox_seq'");
  ob["pending"] = db.query_int("SELECT count(*) FROM outbox");
  ob["oldest_pending_seq"] = db.query_int("SELECT min(seq) FROM outbox");
  ob["acknowledged_seq"] =
      db.query_int("SELECT coalesce(value, 0) FROM meta WHERE key = 'outbox_acked_seq'");
  auto& streams = ob["streams"];
  streams = nlohmann::ordered_json::object();
  auto st = db.prepare(
      "SELECT s.stream, s.appended, s.acknowledged, s.dropped, "
      "(SELECT count(*) FROM outbox o WHERE o.stream = s.stream) "
      "FROM stream_counts s ORDER BY s.stream");
  while (st.step()) {
    streams[st.text(0)] = {{"appended", st.int64(1)}, {"acknowledged", st.int64(2)},
                           {"dropped", st.int64(3)}, {"pending", st.int64(4)}};
  }
  j["broker"] = {{"state", meta(db, "broker_state", "unknown")},
                 {"since", meta(db, "broker_state_since", "")},
                 {"detail", meta(db, "broker_detail", "")}};
  j["events"] = db.query_int("SELECT count(*) FROM events");
  j["readings"] = db.query_int("SELECT count(*) FROM readings");
  // Meter buses and their devices, as the running daemon last wrote them (every few seconds
  // and at stop): state, counters (requests, timeouts, CRC errors) and the last success.
  auto opt_text = [](const store::Statement& st, int col) -> nlohmann::ordered_json {
    if (st.is_null(col)) return nullptr;
    return st.text(col);
  };
  auto& buses = j["buses"];
  buses = nlohmann::ordered_json::array();
  auto bs = db.prepare(
      "SELECT bus, protocol, link, state, requests, timeouts, crc_errors, frame_errors, "
      "polls_skipped, last_success, updated_at FROM bus_status ORDER BY bus");
  auto ds = db.prepare(
      "SELECT device, state, requests, timeouts, crc_errors, frame_errors, polls, failures, "
      "consecutive_failures, readings, last_success, last_error FROM device_status "
      "WHERE bus = ?1 ORDER BY device");
  while (bs.step()) {
    nlohmann::ordered_json b{{"bus", bs.text(0)},           {"protocol", bs.text(1)},
                             {"link", bs.text(2)},          {"state", bs.text(3)},
                             {"requests", bs.int64(4)},     {"timeouts", bs.int64(5)},
                             {"crc_errors", bs.int64(6)},   {"frame_errors", bs.int64(7)},
                             {"polls_skipped", bs.int64(8)}, {"last_success", opt_text(bs, 9)},
                             {"updated_at", bs.text(10)}};
    auto& devices = b["devices"];
    devices = nlohmann::ordered_json::array();
    ds.reset();
    ds.bind(1, bs.text(0));
    while (ds.step()) {
      devices.push_back({{"device", ds.text(0)},          {"state", ds.text(1)},
                         {"requests", ds.int64(2)},       {"timeouts", ds.int64(3)},
                         {"crc_errors", ds.int64(4)},     {"frame_errors", ds.int64(5)},
                         {"polls", ds.int64(6)},          {"failures", ds.int64(7)},
                         {"consecutive_failures", ds.int64(8)}, {"readings", ds.int64(9)},
                         {"last_success", opt_text(ds, 10)}, {"last_error", opt_text(ds, 11)}});
    }
    buses.push_back(std::move(b));
  }
  return j;
}

std::string text_or_dash(const nlohmann::ordered_json& v) {
  return v.is_string() ? v.get<std::string>() : "-";
}

std::string num(const nlohmann::ordered_json& v) { return std::to_string(v.get<std::int64_t>()); }

}  // namespace

void add_status_command(CLI::App& app) {
  struct Options {
    std::string state_dir;
    std::string config;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("status",
                                 "Show the gateway's state (outbox, broker, streams, meter buses and devices) "
                                 "from its "
                                 "state directory; works while the daemon runs or is stopped");
  auto* sd = cmd->add_option("--state-dir", o->state_dir, "State directory");
  cmd->add_option("--config,-c", o->config, "Site config (for its storage.state_dir)")
      ->excludes(sd);
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] {
    std::filesystem::path dir = o->state_dir;
    if (dir.empty() && !o->config.empty()) {
      config::Diagnostics diag;
      auto cfg = config::load_site_config(o->config, diag);
      if (!cfg) {
        std::cerr << diag.to_string();
        fail(exit_usage);
      }
      dir = cfg->storage.state_dir;
    }
    if (dir.empty()) dir = "/var/lib/estate-edge";
    if (!std::filesystem::exists(store::store_file(dir))) {
      fail(exit_runtime, "no store in " + dir.string() + " (has the daemon ever run there?)");
    }
    nlohmann::ordered_json j;
    try {
      j = read_status(dir);
    } catch (const std::exception& e) {
      fail(exit_runtime, e.what());
    }
    if (o->json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows{
        {"gateway", j["gateway"].get<std::string>()},
        {"state dir", j["state_dir"].get<std::string>()},
        {"broker", j["broker"]["state"].get<std::string>() +
                       (j["broker"]["since"].get<std::string>().empty()
                            ? ""
                            : " since " + j["broker"]["since"].get<std::string>()) +
                       (j["broker"]["detail"].get<std::string>().empty()
                            ? ""
                            : ": " + j["broker"]["detail"].get<std::string>())},
        {"outbox last seq", std::to_string(j["outbox"]["last_seq"].get<std::int64_t>())},
        {"outbox pending", std::to_string(j["outbox"]["pending"].get<std::int64_t>())},
        {"events", std::to_string(j["events"].get<std::int64_t>())},
        {"readings", std::to_string(j["readings"].get<std::int64_t>())}};
    std::cout << format_table(rows);
    if (!j["outbox"]["streams"].empty()) {
      std::vector<std::vector<std::string>> s{{"stream", "appended", "acknowledged", "pending",
                                               "dropped"}};
      for (auto& [name, v] : j["outbox"]["streams"].items()) {
        s.push_back({name, std::to_string(v["appended"].get<std::int64_t>()),
                     std::to_string(v["acknowledged"].get<std::int64_t>()),
                     std::to_string(v["pending"].get<std::int64_t>()),
                     std::to_string(v["dropped"].get<std::int64_t>())});
      }
      std::cout << "\n" << format_table(s);
    }
    if (!j["buses"].empty()) {
      std::vector<std::vector<std::string>> b{{"bus", "protocol", "state", "requests", "timeouts",
                                               "crc errors", "frame errors", "skipped",
                                               "last success", "link"}};
      std::vector<std::vector<std::string>> d{{"device", "bus", "state", "requests", "timeouts",
                                               "crc errors", "frame errors", "polls", "failures",
                                               "readings", "last success", "last error"}};
      for (const auto& v : j["buses"]) {
        b.push_back({v["bus"].get<std::string>(), v["protocol"].get<std::string>(),
                     v["state"].get<std::string>(), num(v["requests"]), num(v["timeouts"]),
                     num(v["crc_errors"]), num(v["frame_errors"]), num(v["polls_skipped"]),
                     text_or_dash(v["last_success"]), v["link"].get<std::string>()});
        for (const auto& x : v["devices"]) {
          d.push_back({x["device"].get<std::string>(), v["bus"].get<std::string>(),
                       x["state"].get<std::string>(), num(x["requests"]), num(x["timeouts"]),
                       num(x["crc_errors"]), num(x["frame_errors"]), num(x["polls"]),
                       num(x["failures"]), num(x["readings"]), text_or_dash(x["last_success"]),
                       text_or_dash(x["last_error"])});
        }
      }
      std::cout << "\n" << format_table(b) << "\n" << format_table(d);
    }
  });
}

}  // namespace estate::cli
