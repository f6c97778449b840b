#include "daemon/access/credential_hash.hpp"

#include <openssl/crypto.h>

#include "daemon/privacy/privacy.hpp"

namespace estate::access {

CredentialHasher::~CredentialHasher() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string CredentialHasher::hash(CredentialKind kind, std::string_view value) const {
  switch (kind) {
    case CredentialKind::card: return privacy::card_uid_hash(key_, value);
    case CredentialKind::plate: return privacy::plate_hash(key_, value);
    case CredentialKind::qr: break;
  }
  return privacy::keyed_hash(key_, "qr", value);
}

void CredentialHasher::protect(ListEntry& e) const {
  if (!e.shown.empty()) return;
  e.shown = shown_in_list(e.kind, e.value, e.pass_id);
  std::string h = hash(e.kind, e.value);
  OPENSSL_cleanse(e.value.data(), e.value.size());
  e.value = std::move(h);
}

void CredentialHasher::protect(ListUpdate& u) const {
  for (auto& e : u.entries) protect(e);
}

std::string shown_in_list(CredentialKind kind, std::string_view value, std::string_view pass_id) {
  switch (kind) {
    case CredentialKind::card: return privacy::mask_card(value);
    case CredentialKind::plate: return privacy::mask_plate(value);
    case CredentialKind::qr: break;
  }
  if (!pass_id.empty()) return std::string(pass_id);
  if (value.size() > 8) return "****" + std::string(value.substr(value.size() - 4));
  return "****";
}

bool is_credential_hash(std::string_view v) {
  if (v.size() != 64) return false;
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace estate::access
