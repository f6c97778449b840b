// Encrypted backup and restore of the state store (docs/security.md).
//
// Backup: a consistent snapshot through SQLite's online backup API, taken in one step from its
// own connection (so it runs beside the daemon's writer without stopping it), checked with
// PRAGMA quick_check, then encrypted with AES-256-GCM (OpenSSL EVP, random 96-bit nonce).
// File layout:
//   "EEBACKUP" | format u16 BE (1) | header length u32 BE | header JSON | nonce (12) |
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
// estate-edge.db.pre-restore. The restore itself is recorded in the audit log and announced to
// the platform on the "audit" stream.
//
// Thread-safety: free functions; a backup may run on any thread beside the daemon.
// Errors: BackupError with a kind and a message for people; nothing is replaced on error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

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
};

class BackupError : public std::runtime_error {
 public:
  BackupError(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

inline constexpr std::uint16_t format_version = 1;
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
};

struct BackupResult {
  Header header;
  std::uint64_t bytes = 0;  // size of the backup file
};

// Snapshots the store in `state_dir` and writes the encrypted backup to `out` (atomically:
// a temporary file in the same directory, fsync, rename). `created` is the header's timestamp.
BackupResult create_backup(const std::filesystem::path& state_dir, const std::filesystem::path& out,
                           const privacy::Key& key, const std::string& created);

// Reads and checks the unencrypted (but authenticated) header without the key.
Header read_header(const std::filesystem::path& file);

struct RestoreOptions {
  bool force_gateway = false;   // restore even if the gateway id differs or cannot be checked
  std::int64_t min_seq = 0;     // the platform's last seen seq, if known
  std::string actor = "local";  // recorded in the audit entry ("technician:<name>", ...)
  std::string ts;               // ISO 8601 of the restore; empty = now (UTC)
};

struct RestoreResult {
  Header header;
  std::int64_t restored_seq = 0;  // the backup's outbox counter
  std::int64_t replaced_seq = -1; // the replaced store's counter (-1: none or unreadable)
  std::int64_t highwater = -1;    // the high-water mark found (-1: none)
  std::int64_t resumed_seq = 0;   // the counter the restored store continues from
  bool replaced_existing = false; // a store was replaced (and kept as .pre-restore)
  std::string replaced_gateway;
};

RestoreResult restore_backup(const std::filesystem::path& file,
                             const std::filesystem::path& state_dir, const privacy::Key& key,
                             const RestoreOptions& options);

}  // namespace estate::backup
