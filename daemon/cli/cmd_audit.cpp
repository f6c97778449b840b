// `estate-edge audit verify` walks the hash chain and reports the first broken link (exit 0 ok,
// 1 broken); `estate-edge audit show` lists entries filtered by time, kind and room.
// Both read the store of a running or stopped daemon (docs/security.md).
#include <nlohmann/json.hpp>

#include <iostream>

#include "daemon/audit/audit.hpp"
#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/store/store.hpp"

namespace estate::cli {

namespace {

struct Common {
  std::string state_dir;
  std::string config;
  bool json = false;
  int config_offset_minutes = 0;
  bool have_config_offset = false;
};

void add_common(CLI::App* cmd, Common& o) {
  auto* sd = cmd->add_option("--state-dir", o.state_dir, "State directory");
  cmd->add_option("--config,-c", o.config, "Site config (for its storage.state_dir)")->excludes(sd);
  cmd->add_flag("--json", o.json, "Print JSON");
}

store::Database open_audit_store(Common& o) {
  std::filesystem::path dir = o.state_dir;
  if (!o.config.empty()) {
    config::Diagnostics diag;
    auto cfg = config::load_site_config(o.config, diag);
    if (!cfg) {
      std::cerr << diag.to_string();
      fail(exit_usage);
    }
    dir = cfg->storage.state_dir;
    o.config_offset_minutes = cfg->site.utc_offset_minutes;
    o.have_config_offset = true;
  }
  if (dir.empty()) fail(exit_usage, "give --state-dir DIR or --config FILE");
  if (!std::filesystem::exists(store::store_file(dir))) {
    fail(exit_runtime, "no store in " + dir.string() + " (has the daemon ever run there?)");
  }
  try {
    auto db = store::open_store(dir, store::OpenMode::read_only);
    if (db.query_int("SELECT count(*) FROM sqlite_master WHERE name = 'audit_log'") == 0) {
      fail(exit_runtime, "the store in " + dir.string() +
                             " has no audit log yet (start this version of the daemon once)");
    }
    return db;
  } catch (const store::Error& e) {
    fail(exit_runtime, e.what());
  }
}

void run_verify(Common& o, const std::vector<std::string>& anchor_args) {
  std::vector<audit::AnchorRef> anchors;
  for (const auto& a : anchor_args) {
    auto ref = audit::parse_anchor_ref(a);
    if (!ref) fail(exit_usage, "--anchor: expected COUNT:HASH (64 hex digits), got '" + a + "'");
    anchors.push_back(*ref);
  }
  auto db = open_audit_store(o);
  audit::VerifyResult r;
  try {
    r = audit::verify(db, anchors);
  } catch (const std::exception& e) {
    fail(exit_runtime, e.what());
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["ok"] = r.ok;
    j["entries"] = r.entries;
    if (r.ok) {
      j["head"] = {{"count", r.head.count}, {"hash", r.head.hash}};
      j["anchors_checked"] = r.anchors_checked;
    } else {
      j["broken"] = {{"seq", r.broken->seq},
                     {"problem", r.broken->problem},
                     {"message", r.broken->message}};
    }
    std::cout << j.dump(2) << "\n";
  } else if (r.ok) {
    std::cout << "OK: " << r.entries << " entries, head " << r.head.count << ":" << r.head.hash
              << ", " << r.anchors_checked << " anchor(s) matched\n";
  } else {
    std::cout << "BROKEN at entry " << r.broken->seq << " (" << r.broken->problem
              << "): " << r.broken->message << "\n"
              << r.entries << " entries before it verified\n";
  }
  if (!r.ok) fail(exit_runtime);
}

struct ShowOptions {
  std::string since, until, kind, room, utc_offset;
  std::int64_t limit = 0;
};

int offset_of(const std::string& ts) {
  // "...+08:00" / "...Z"
  if (ts.size() >= 6) {
    auto tail = ts.substr(ts.size() - 6);
    if ((tail[0] == '+' || tail[0] == '-') && tail[3] == ':') {
      int m = std::stoi(tail.substr(1, 2)) * 60 + std::stoi(tail.substr(4, 2));
      return tail[0] == '-' ? -m : m;
    }
  }
  return 0;
}

void run_show(Common& o, const ShowOptions& s) {
  auto db = open_audit_store(o);
  // A time without an offset is read in the site's offset: --utc-offset, the config's, or the
  // offset the newest entry was written with.
  int offset = 0;
  if (!s.utc_offset.empty()) {
    auto probe = audit::parse_time_ms("2000-01-01T00:00" + s.utc_offset, 0);
    if (!probe) fail(exit_usage, "--utc-offset: expected an offset such as +08:00");
    offset = offset_of("2000-01-01T00:00" + s.utc_offset);
  } else if (o.have_config_offset) {
    offset = o.config_offset_minutes;
  } else {
    auto st = db.prepare("SELECT ts FROM audit_log ORDER BY seq DESC LIMIT 1");
    if (st.step()) offset = offset_of(st.text(0));
  }
  audit::Filter f;
  auto parse = [&](const std::string& text, const char* flag) -> std::optional<std::int64_t> {
    if (text.empty()) return std::nullopt;
    auto v = audit::parse_time_ms(text, offset);
    if (!v) {
      fail(exit_usage, std::string(flag) + ": '" + text +
                           "' is not a time such as 2026-11-23, 2026-11-23T08:30 or "
                           "2026-11-23T08:30:00+08:00");
    }
    return v;
  };
  f.since_ms = parse(s.since, "--since");
  f.until_ms = parse(s.until, "--until");
  f.kind = s.kind;
  f.room = s.room;
  f.limit = s.limit;
  std::vector<audit::StoredEntry> entries;
  try {
    entries = audit::query(db, f);
  } catch (const std::exception& e) {
    fail(exit_runtime, e.what());
  }
  if (o.json) {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& e : entries) {
      nlohmann::ordered_json j;
      j["seq"] = e.seq;
      j["ts"] = e.ts;
      j["kind"] = e.kind;
      j["actor"] = e.actor;
      j["subject"] = e.subject;
      j["room"] = e.room;
      j["detail"] = nlohmann::ordered_json::parse(e.detail, nullptr, false);
      j["hash"] = e.hash;
      arr.push_back(std::move(j));
    }
    std::cout << arr.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"seq", "ts", "kind", "actor", "subject", "room",
                                              "detail"}};
  for (const auto& e : entries) {
    rows.push_back({std::to_string(e.seq), e.ts, e.kind, e.actor, e.subject, e.room, e.detail});
  }
  std::cout << format_table(rows);
  if (entries.empty()) std::cout << "(no entries match)\n";
}

}  // namespace

void add_audit_command(CLI::App& app) {
  auto* audit = app.add_subcommand("audit", "The tamper-evident audit log: verify, show");
  audit->require_subcommand(1);

  auto vo = std::make_shared<Common>();
  auto anchors = std::make_shared<std::vector<std::string>>();
  auto* verify = audit->add_subcommand(
      "verify", "Walk the hash chain; report the first broken link or OK with the count "
                "(exit 0 ok, 1 broken)");
  add_common(verify, *vo);
  verify->add_option("--anchor", *anchors,
                     "A head the platform received, COUNT:HASH (repeatable); the chain must "
                     "contain it");
  verify->callback([vo, anchors] { run_verify(*vo, *anchors); });

  auto so = std::make_shared<Common>();
  auto sf = std::make_shared<ShowOptions>();
  auto* show = audit->add_subcommand("show", "List audit entries, oldest first");
  add_common(show, *so);
  show->add_option("--since", sf->since, "From this time (inclusive), e.g. 2026-11-23T08:00");
  show->add_option("--until", sf->until, "Up to this time (exclusive)");
  show->add_option("--kind", sf->kind, "A kind (money.topup) or a family (money)");
  show->add_option("--room", sf->room, "Only entries about this room");
  show->add_option("--limit", sf->limit, "Only the newest N entries")->check(CLI::PositiveNumber);
  show->add_option("--utc-offset", sf->utc_offset,
                   "Offset of times given without one (default: the site's)");
  show->callback([so, sf] { run_show(*so, *sf); });
}

}  // namespace estate::cli
