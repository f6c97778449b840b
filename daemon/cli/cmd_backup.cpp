// `estate-edge backup --state-dir DIR --to FILE` (works while the daemon runs) and
// `estate-edge restore --from FILE --state-dir DIR` (refuses while it runs). The key comes from
// --key FILE or the config's security.backup.key_file (docs/security.md).
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <pwd.h>
#include <unistd.h>

#include <iostream>

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
  std::int64_t min_seq = 0;
  bool json = false;
};

struct Resolved {
  std::filesystem::path state_dir;
  privacy::Key key;
};

Resolved resolve(const Options& o) {
  Resolved r;
  std::filesystem::path key_file = o.key;
  r.state_dir = o.state_dir;
  if (!o.config.empty()) {
    config::Diagnostics diag;
    auto cfg = config::load_site_config(o.config, diag);
    if (!cfg) {
      std::cerr << diag.to_string();
      fail(exit_usage);
    }
    if (r.state_dir.empty()) r.state_dir = cfg->storage.state_dir;
    if (key_file.empty()) key_file = security::security_config_of(*cfg).backup.key_file;
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
    res = backup::create_backup(r.state_dir, o.file, r.key, store::iso8601_now(0));
  } catch (const backup::BackupError& e) {
    OPENSSL_cleanse(r.key.data(), r.key.size());
    fail(exit_runtime, e.what());
  }
  OPENSSL_cleanse(r.key.data(), r.key.size());
  const auto& h = res.header;
  if (o.json) {
    nlohmann::ordered_json j;
    j["file"] = o.file;
    j["bytes"] = res.bytes;
    j["gateway"] = h.gateway;
    j["created"] = h.created;
    j["schema"] = h.schema;
    j["outbox_seq"] = h.outbox_seq;
    j["audit"] = {{"count", h.audit_count}, {"head", h.audit_head}};
    j["key_id"] = h.key_id;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << format_table({{"backup written", o.file},
                             {"bytes", std::to_string(res.bytes)},
                             {"gateway", h.gateway},
                             {"created", h.created},
                             {"outbox seq", std::to_string(h.outbox_seq)},
                             {"audit entries", std::to_string(h.audit_count)},
                             {"key id", h.key_id}});
}

void run_restore(const Options& o) {
  auto r = resolve(o);
  backup::RestoreOptions ro;
  ro.force_gateway = o.force_gateway;
  ro.min_seq = o.min_seq;
  ro.actor = "cli:" + user_name();
  backup::RestoreResult res;
  try {
    res = backup::restore_backup(o.file, r.state_dir, r.key, ro);
  } catch (const backup::BackupError& e) {
    OPENSSL_cleanse(r.key.data(), r.key.size());
    fail(exit_runtime, e.what());
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
  std::cout << format_table(rows);
}

}  // namespace

void add_backup_commands(CLI::App& app) {
  auto b = std::make_shared<Options>();
  auto* backup = app.add_subcommand(
      "backup", "Write an encrypted snapshot of the state store (safe while the daemon runs)");
  auto* bsd = backup->add_option("--state-dir", b->state_dir, "State directory");
  backup->add_option("--config,-c", b->config,
                     "Site config (storage.state_dir, security.backup.key_file)");
  (void)bsd;
  backup->add_option("--to", b->file, "Backup file to write")->required();
  backup->add_option("--key", b->key, "Key file: 32 bytes raw or 64 hex digits");
  backup->add_flag("--json", b->json, "Print JSON");
  backup->callback([b] { run_backup(*b); });

  auto r = std::make_shared<Options>();
  auto* restore = app.add_subcommand(
      "restore", "Replace the state store with a backup (the daemon must be stopped)");
  restore->add_option("--from", r->file, "Backup file to restore")->required();
  restore->add_option("--state-dir", r->state_dir, "State directory");
  restore->add_option("--config,-c", r->config,
                      "Site config (storage.state_dir, security.backup.key_file)");
  restore->add_option("--key", r->key, "Key file: 32 bytes raw or 64 hex digits");
  restore->add_flag("--force-gateway", r->force_gateway,
                    "Restore even if the backup belongs to another gateway than the store it "
                    "replaces, or that store cannot be read");
  restore->add_option("--min-seq", r->min_seq,
                      "The platform's last seen outbox seq: numbering resumes above it")
      ->check(CLI::NonNegativeNumber);
  restore->add_flag("--json", r->json, "Print JSON");
  restore->callback([r] { run_restore(*r); });
}

}  // namespace estate::cli
