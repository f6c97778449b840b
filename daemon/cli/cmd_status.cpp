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
                 {"since", meta(db, "broker_state_since", "")}};
  j["events"] = db.query_int("SELECT count(*) FROM events");
  return j;
}

}  // namespace

void add_status_command(CLI::App& app) {
  struct Options {
    std::string state_dir;
    std::string config;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("status",
                                 "Show the gateway's state (outbox, broker, streams) from its "
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
                            : " since " + j["broker"]["since"].get<std::string>())},
        {"outbox last seq", std::to_string(j["outbox"]["last_seq"].get<std::int64_t>())},
        {"outbox pending", std::to_string(j["outbox"]["pending"].get<std::int64_t>())},
        {"events", std::to_string(j["events"].get<std::int64_t>())}};
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
  });
}

}  // namespace estate::cli
