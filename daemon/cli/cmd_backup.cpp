// `estate-edge backup --state-dir DIR --to FILE` (works while the daemon runs) and
// `estate-edge restore --from FILE --state-dir DIR` (refuses while it runs). The key comes from
// --key FILE or the config's security.backup.key_file (docs/security.md). With --config the
// config's conf.d drop-ins travel with the store and are restored with it.
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon/audit/security_config.hpp"
#include "daemon/backup/backup.hpp"
#include "daemon/cli/cli.hpp"
#include "daemon/config/site_config.hpp"
#include "daemon/store/store.hpp"

namespace estate::cli {

namespace {

struct Options {
  std::string state_dir;
  std::string config;
  std::string key;
  std::string file;
  bool force_gateway = false;
  bool store_only = false;
  bool restoring = false;
  std::int64_t min_seq = 0;
  bool json = false;
};

struct Resolved {
  std::filesystem::path state_dir;
  std::filesystem::path conf_d;  // the config's conf.d; empty without --config
  privacy::Key key;
};

Resolved resolve(const Options& o) {
  Resolved r;
  std::filesystem::path key_file = o.key;
  r.state_dir = o.state_dir;
  if (!o.config.empty()) {
    config::Diagnostics diag;
    auto cfg = config::load_site_config(o.config, diag);
    if (!cfg && o.restoring) {
      // A restore is often what repairs a broken drop-in: the site file alone names the state
      // dir and the key, and the restore replaces the drop-ins.
      std::ifstream in(o.config);
      std::stringstream text;
      text << in.rdbuf();
      config::Diagnostics alone;
      if (in) cfg = config::load_site_config_text(text.str(), o.config, alone);
      if (cfg) {
        std::cerr << "note: " << o.config << " does not load with its conf.d (the restore "
                  << "replaces the drop-ins):\n" << diag.to_string();
      }
    }
    if (!cfg) {
      std::cerr << diag.to_string();
      fail(exit_usage);
    }
    if (r.state_dir.empty()) r.state_dir = cfg->storage.state_dir;
    r.conf_d = std::filesystem::path(o.config).parent_path() / "conf.d";
    if (key_file.empty()) key_file = audit::security_config_of(*cfg).backup.key_file;
  }
  if (r.state_dir.empty()) fail(exit_usage, "give --state-dir DIR or --config FILE");
  if (key_file.empty()) {
    fail(exit_usage, "no key: give --key FILE or a --config with security.backup.key_file");
  }
  try {
    r.key = privacy::read_key_file(key_file);
  } catch (const privacy::KeyFileError& e) {
    fail(exit_usage, e.what());
  }
  return r;
}

std::string user_name() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

void run_backup(const Options& o) {
  auto r = resolve(o);
  backup::BackupResult res;
  try {
    res = backup::create_backup(r.state_dir, o.file, r.key, store::iso8601_now(0),
                                backup::BackupOptions{r.conf_d});
  } catch (const backup::BackupError& e) {
    OPENSSL_cleanse(r.key.data(), r.key.size());
    fail(exit_runtime, e.what());
  }
  OPENSSL_cleanse(r.key.data(), r.key.size());
  const auto& h = res.header;
  if (!h.conf_d) {
    std::cerr << "note: without --config the backup holds the store only, not the conf.d "
                 "drop-ins\n";
  }
  if (o.json) {
    nlohmann::ordered_json j{{"file", o.file}, {"bytes", res.bytes}};
    j.update(backup::header_json(h));
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string dropins = "not included (no --config)";
  if (h.conf_d) {
    dropins = std::to_string(h.conf_d->size()) + " from " + r.conf_d.string();
  }
  std::cout << format_table({{"backup written", o.file},
                             {"bytes", std::to_string(res.bytes)},
                             {"gateway", h.gateway},
                             {"created", h.created},
                             {"outbox seq", std::to_string(h.outbox_seq)},
                             {"audit entries", std::to_string(h.audit_count)},
                             {"conf.d drop-ins", dropins},
                             {"key id", h.key_id}});
}

void run_restore(const Options& o) {
  auto r = resolve(o);
  backup::RestoreOptions ro;
  ro.force_gateway = o.force_gateway;
  ro.min_seq = o.min_seq;
  ro.actor = "cli:" + user_name();
  ro.conf_d = r.conf_d;
  ro.store_only = o.store_only;
  backup::RestoreResult res;
  try {
    res = backup::restore_backup(o.file, r.state_dir, r.key, ro);
  } catch (const backup::BackupError& e) {
    OPENSSL_cleanse(r.key.data(), r.key.size());
    fail(e.kind() == backup::ErrorKind::conf_d_needed ? exit_usage : exit_runtime, e.what());
  }
  OPENSSL_cleanse(r.key.data(), r.key.size());
  if (o.json) {
    nlohmann::ordered_json j;
    j["restored_from"] = o.file;
    j["state_dir"] = r.state_dir.string();
    j["gateway"] = res.header.gateway;
    j["backup_created"] = res.header.created;
    j["restored_seq"] = res.restored_seq;
    j["replaced_seq"] = res.replaced_seq;
    j["highwater"] = res.highwater;
    j["resumed_seq"] = res.resumed_seq;
    j["replaced_existing"] = res.replaced_existing;
    if (res.conf_d_restored) {
      j["conf_d"] = {{"dir", r.conf_d.string()},
                     {"restored", res.conf_d_files},
                     {"removed", res.conf_d_removed},
                     {"previous_kept_in", res.conf_d_previous.string()}};
    } else {
      j["conf_d"] = nullptr;
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{
      {"restored from", o.file},
      {"state dir", r.state_dir.string()},
      {"gateway", res.header.gateway},
      {"backup created", res.header.created},
      {"backup outbox seq", std::to_string(res.restored_seq)},
      {"outbox seq resumes after", std::to_string(res.resumed_seq)}};
  if (res.replaced_existing) {
    rows.push_back({"previous store kept as",
                    store::store_file(r.state_dir).string() + ".pre-restore"});
  }
  if (res.conf_d_restored) {
    std::string names;
    for (const auto& n : res.conf_d_files) names += (names.empty() ? "" : ", ") + n;
    rows.push_back({"conf.d drop-ins restored", names.empty() ? "(none)" : names});
    std::string gone;
    for (const auto& n : res.conf_d_removed) gone += (gone.empty() ? "" : ", ") + n;
    if (!gone.empty()) rows.push_back({"conf.d drop-ins removed", gone});
    rows.push_back({"previous drop-ins kept in", res.conf_d_previous.string()});
  } else if (!res.header.conf_d) {
    rows.push_back({"conf.d", "left as it is (the backup holds no drop-ins)"});
  } else {
    rows.push_back({"conf.d", "left as it is (--store-only)"});
  }
  std::cout << format_table(rows);
}

}  // namespace

void add_backup_commands(CLI::App& app) {
  auto b = std::make_shared<Options>();
  auto* backup = app.add_subcommand(
      "backup", "Write an encrypted snapshot of the state store (safe while the daemon runs)");
  auto* bsd = backup->add_option("--state-dir", b->state_dir, "State directory");
  backup->add_option("--config,-c", b->config,
                     "Site config (storage.state_dir, security.backup.key_file); its conf.d "
                     "drop-ins are backed up with the store");
  (void)bsd;
  backup->add_option("--to", b->file, "Backup file to write")->required();
  backup->add_option("--key", b->key, "Key file: 32 bytes raw or 64 hex digits");
  backup->add_flag("--json", b->json, "Print JSON");
  backup->callback([b] { run_backup(*b); });

  auto r = std::make_shared<Options>();
  r->restoring = true;
  auto* restore = app.add_subcommand(
      "restore", "Replace the state store with a backup (the daemon must be stopped)");
  restore->add_option("--from", r->file, "Backup file to restore")->required();
  restore->add_option("--state-dir", r->state_dir, "State directory");
  restore->add_option("--config,-c", r->config,
                      "Site config (storage.state_dir, security.backup.key_file); the backup's "
                      "drop-ins are restored into its conf.d");
  restore->add_option("--key", r->key, "Key file: 32 bytes raw or 64 hex digits");
  restore->add_flag("--force-gateway", r->force_gateway,
                    "Restore even if the backup belongs to another gateway than the store it "
                    "replaces, or that store cannot be read");
  restore->add_flag("--store-only", r->store_only,
                    "Restore the store only and leave conf.d as it is (its drop-ins may then "
                    "disagree with the restored list versions)");
  restore->add_option("--min-seq", r->min_seq,
                      "The platform's last seen outbox seq: numbering resumes above it")
      ->check(CLI::NonNegativeNumber);
  restore->add_flag("--json", r->json, "Print JSON");
  restore->callback([r] { run_restore(*r); });
}

}  // namespace estate::cli
