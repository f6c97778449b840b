// The gate's access service: decisions from the current index, lists applied from the
// platform, and every decision recorded as an outbox event ("events" stream) with its reason,
// and locally in access_events for the guard (masked credential + keyed hash, never the value;
// deleted after security.privacy.access_event_retention_days once delivered).
// Who is inside (anti-passback) and every list entry are kept by keyed hash: HMAC-SHA256 with
// the privacy key (security.privacy.key_file, else the gateway's own DIR/privacy.key, made at
// first start). The index is keyed by the same hash: a decision hashes the request's
// credential once and looks that up.
// Thread-safety: every member may be called from any thread. decide() reads the index through
// an atomic shared_ptr (a list being applied never holds it up) and takes a short mutex only
// for anti-passback presence and visitor pass use counts; the store write is queued, not
// awaited. apply_list() blocks its caller until the list is durable, so call it from the cloud
// bridge's worker, never from a gate strand.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "daemon/access/credential_hash.hpp"
#include "daemon/access/policy.hpp"
#include "daemon/audit/audit.hpp"
#include "daemon/privacy/key_file.hpp"
#include "daemon/store/store.hpp"

namespace estate::access {

struct ApplyResult {
  bool ok = false;
  std::int64_t version = 0;  // the list's version after the call
  std::string error;         // why it was refused
};

// The privacy key of the credential hashes: cfg.privacy_key_file, else DIR/privacy.key (made
// when missing). Throws privacy::KeyFileError.
privacy::Key load_privacy_key(const store::Store& store, const AccessConfig& cfg);

class AccessService {
 public:
  // Loads the index, presence and pass uses from the store (start-up; may take a second for a
  // million cards). Before that, in one transaction: a store older than hashed lists has its
  // clear list entries, presence rows and cloud bridge list items rewritten as keyed hashes,
  // then lists the cloud bridge holds in a newer version are copied (sync_from_bridge).
  // Throws privacy::KeyFileError when the privacy key cannot be read or made.
  AccessService(store::Store& store, std::string gateway_id, AccessConfig cfg,
                std::shared_ptr<const ArrearsSource> arrears);

  Decision decide(const AccessRequest& req);
  // Validated list from the platform -> hashed (CredentialHasher::protect) -> durable -> swapped
  // in. Refuses a version not newer than the applied one; a refused or failed list changes
  // nothing.
  // `audit`, when given, is appended (audit::append) in the list's own transaction: the list
  // change and its entry commit together or not at all (nothing for a refused version).
  ApplyResult apply_list(const ListUpdate& update,
                         const std::optional<audit::Entry>& audit = std::nullopt);
  ApplyResult apply_list_json(const nlohmann::json& doc,
                              const std::optional<audit::Entry>& audit = std::nullopt);
  // Swaps in a list block whose version is already durable in the store (the cloud bridge's
  // lists, published after their commit). Lock-free; a block not newer than the one in the
  // index is ignored (returns false), so a late publish never rolls a list back.
  bool install(std::shared_ptr<const ListBlock> block);

  void set_config(AccessConfig cfg);
  void set_arrears_source(std::shared_ptr<const ArrearsSource> arrears);
  std::shared_ptr<const Index> index() const { return index_.load(); }
  AccessConfig config() const;
  // The keyed hash kept instead of a credential where only matching is needed
  // (privacy::card_uid_hash, plate_hash, or keyed_hash(key, "qr", value)).
  std::string credential_hash(CredentialKind kind, std::string_view value) const;
  // The hasher of list entries (the cloud bridge's list transform shares it).
  std::shared_ptr<const CredentialHasher> hasher() const { return hasher_; }

 private:
  ApplyResult apply_owned(ListUpdate update, const std::optional<audit::Entry>& audit);
  void record(const AccessRequest& req, const std::string& hash, const Decision& d,
              bool entered, bool left, std::int64_t uses);

  store::Store& store_;
  std::string gateway_id_;
  std::shared_ptr<const CredentialHasher> hasher_;
  CredentialKeyOf key_of_;  // hasher_->hash, for evaluate()
  std::atomic<std::shared_ptr<const Index>> index_;
  std::atomic<std::shared_ptr<const AccessConfig>> config_;
  std::atomic<std::shared_ptr<const ArrearsSource>> arrears_;
  std::mutex state_mutex_;  // presence and pass uses only
  PassageState state_;
  std::mutex apply_mutex_;  // one list apply at a time
};

}  // namespace estate::access
