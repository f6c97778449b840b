// Encrypted backup and restore of the state store and the config's conf.d drop-ins
// (docs/security.md).
//
// Backup: a consistent snapshot through SQLite's online backup API, taken in one step from its
// own connection (so it runs beside the daemon's writer without stopping it), checked with
// PRAGMA quick_check, then encrypted with AES-256-GCM (OpenSSL EVP, random 96-bit nonce).
// The conf.d drop-ins (*.yaml, *.yml: the tariffs list's, cmd/config's, the admin API's and the
// technician's) travel inside the snapshot, in a table of their own, read while the store's
// write lock is held and the snapshot's read transaction opened: a list version and the
// drop-in written inside its transaction are either both in the backup or both out.
// File layout:
//   "EEBACKUP" | format u16 BE (2) | header length u32 BE | header JSON | nonce (12) |
//   ciphertext | tag (16)
// Everything before the nonce is authenticated as AAD, so the header (gateway id, schema
// versions, creation time, key id) cannot be altered without the restore noticing.
//
// Restore: refuses while a daemon holds the state directory's lock; checks the key (key id,
// then the GCM tag), decrypts to a temporary file beside the store, runs PRAGMA
// integrity_check, checks the gateway id against the store being replaced (unless forced), and
// only then replaces the store with one rename. The outbox seq resumes above the highest of:
// the backup's counter, the replaced store's counter, the high-water mark file and --min-seq,
// so no seq the platform has seen is reused. The replaced store is kept as
// estate-edge.db.pre-restore. A backup holding drop-ins puts them back into the given conf.d
// (each file whole: written beside, fsync, rename; mode and, when run as root, owner as backed
// up) and removes the drop-ins the backup did not have; the previous ones are kept in
// <state dir>/conf.d.pre-restore/. The restore itself is recorded in the audit log and announced to
// the platform on the "audit" stream.
//
// Thread-safety: free functions; a backup may run on any thread beside the daemon.
// Errors: BackupError with a kind and a message for people; nothing is replaced on error.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/privacy/key_file.hpp"

namespace estate::backup {

enum class ErrorKind {
  io,                // a file could not be read or written
  not_a_backup,      // wrong magic, truncated, unknown format version, malformed header
  wrong_key,         // the key's id differs from the one the backup was made with
  corrupted,         // authentication (GCM tag) or PRAGMA integrity_check failed
  gateway_mismatch,  // the backup belongs to another gateway than the store it would replace
  newer_schema,      // written by a newer estate-edge
  locked,            // a daemon (or another restore) holds the state directory
  no_store,          // nothing to back up
  conf_d_needed,     // the backup holds drop-ins but no conf.d to restore them to was given
};

class BackupError : public std::runtime_error {
 public:
  BackupError(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// 1: the store only; 2: the store and the conf.d drop-ins. Both are read.
inline constexpr std::uint16_t format_version = 2;
inline constexpr const char* key_purpose = "estate-edge backup key id";

struct Header {
  std::uint16_t format = format_version;
  std::string gateway;
  std::string created;                         // ISO 8601
  std::map<std::string, std::int64_t> schema;  // area -> version
  std::int64_t outbox_seq = 0;                 // counters.outbox_seq in the snapshot
  std::int64_t audit_count = 0;                // audit chain head in the snapshot
  std::string audit_head;
  std::string key_id;                          // privacy::key_id(key, key_purpose)
  std::string cipher = "AES-256-GCM";
  // The conf.d drop-ins the backup holds, by name; nullopt: none captured (format 1, or made
  // without the config's conf.d). An empty list: conf.d was captured and had none.
  std::optional<std::vector<std::string>> conf_d;
};

// The header as the file carries it (and `estate-edge backup --json` shows it): format, gateway,
// created, schema, outbox_seq, audit {count, head}, key_id, cipher, conf_d.
nlohmann::ordered_json header_json(const Header& h);

struct BackupOptions {
  // The site config's conf.d: its *.yaml and *.yml files travel with the store. Empty: the
  // store only.
  std::filesystem::path conf_d;
};

struct BackupResult {
  Header header;
  std::uint64_t bytes = 0;  // size of the backup file
};

// Snapshots the store in `state_dir` and writes the encrypted backup to `out` (atomically:
// a temporary file in the same directory, fsync, rename). `created` is the header's timestamp.
BackupResult create_backup(const std::filesystem::path& state_dir, const std::filesystem::path& out,
                           const privacy::Key& key, const std::string& created,
                           const BackupOptions& options = {});

// Reads and checks the unencrypted (but authenticated) header without the key.
Header read_header(const std::filesystem::path& file);

struct RestoreOptions {
  bool force_gateway = false;   // restore even if the gateway id differs or cannot be checked
  std::int64_t min_seq = 0;     // the platform's last seen seq, if known
  std::string actor = "local";  // recorded in the audit entry ("technician:<name>", ...)
  std::string ts;               // ISO 8601 of the restore; empty = now (UTC)
  // Where the backup's drop-ins go (the site config's conf.d). A backup holding drop-ins is
  // refused (conf_d_needed) without it unless store_only, which leaves conf.d as it is.
  std::filesystem::path conf_d;
  bool store_only = false;
};

struct RestoreResult {
  Header header;
  std::int64_t restored_seq = 0;  // the backup's outbox counter
  std::int64_t replaced_seq = -1; // the replaced store's counter (-1: none or unreadable)
  std::int64_t highwater = -1;    // the high-water mark found (-1: none)
  std::int64_t resumed_seq = 0;   // the counter the restored store continues from
  bool replaced_existing = false; // a store was replaced (and kept as .pre-restore)
  std::string replaced_gateway;
  bool conf_d_restored = false;           // conf.d now holds exactly the backup's drop-ins
  std::vector<std::string> conf_d_files;  // the drop-ins put back
  std::vector<std::string> conf_d_removed;  // drop-ins the backup did not have, removed
  std::filesystem::path conf_d_previous;  // where the drop-ins found before are kept
};

RestoreResult restore_backup(const std::filesystem::path& file,
                             const std::filesystem::path& state_dir, const privacy::Key& key,
                             const RestoreOptions& options);

}  // namespace estate::backup
