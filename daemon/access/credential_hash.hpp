// The keyed hashes the access lists keep instead of card UIDs, plates and QR pass codes
// (docs/security.md): a list entry is hashed when it is received, before anything is written,
// and the index is keyed by the same hash, so a decision looks a credential up by the hash
// AccessService::decide() computes anyway. Beside the hash, each entry keeps what a technician
// may see of it (`ListEntry::shown`): the masked card or plate, or the visitor pass id.
// Thread-safety: immutable after construction; share it through std::shared_ptr<const ...>.
#pragma once

#include <string>
#include <string_view>

typedef struct evp_mac_st EVP_MAC;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

#include "daemon/access/lists.hpp"
#include "daemon/privacy/key_file.hpp"

namespace estate::access {

class CredentialHasher {
 public:
  // Throws std::runtime_error when OpenSSL has no HMAC-SHA256.
  explicit CredentialHasher(const privacy::Key& key);
  ~CredentialHasher();
  CredentialHasher(const CredentialHasher&) = delete;
  CredentialHasher& operator=(const CredentialHasher&) = delete;

  // privacy::card_uid_hash, privacy::plate_hash, or privacy::keyed_hash(key, "qr", value):
  // 64 lower-case hex digits, the same digits those give, except that a card UID of up to 16
  // hex digits loses its leading zeros first ("00AB" and "AB" are one card, as readers print
  // UIDs at different widths). From an HMAC keyed once (a copy of it per call: about half the
  // time of the one-shot functions, which fetch and key it each call).
  std::string hash(CredentialKind kind, std::string_view value) const;
  // A clear entry (`shown` empty) becomes its stored form: `shown` = shown_in_list(), `value` =
  // its hash. An entry already in stored form is left as it is.
  void protect(ListEntry& e) const;
  void protect(ListUpdate& u) const;
  // A public name of the key (privacy::key_id): tells whether stored hashes were made under it.
  const std::string& key_id() const { return key_id_; }

 private:
  std::string key_id_;
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* keyed_ = nullptr;  // initialised with the key; only ever copied
};

// What a list keeps beside the hash for a technician to recognise an entry: cards
// privacy::mask_card ("****5678"), plates privacy::mask_plate ("粤B***45"), QR codes the visitor
// pass id when there is one, else "****" and the last four of a code longer than eight.
std::string shown_in_list(CredentialKind kind, std::string_view value, std::string_view pass_id);

// True for 64 lower-case hex digits: the form of a stored credential. A clear card UID (upper
// case, at most 20 digits) or a normalised plate (upper case) never has it.
bool is_credential_hash(std::string_view v);

}  // namespace estate::access
