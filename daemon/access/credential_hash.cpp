#include "daemon/access/credential_hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

#include "daemon/privacy/privacy.hpp"

namespace estate::access {

CredentialHasher::CredentialHasher(const privacy::Key& key)
    : key_id_(privacy::key_id(key, "access credential hashes")) {
  mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  keyed_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  if (!keyed_ || !EVP_MAC_init(keyed_, key.data(), key.size(), params)) {
    EVP_MAC_CTX_free(keyed_);
    EVP_MAC_free(mac_);
    throw std::runtime_error("OpenSSL HMAC-SHA256 is not available");
  }
}

CredentialHasher::~CredentialHasher() {
  EVP_MAC_CTX_free(keyed_);  // clears the key schedule
  EVP_MAC_free(mac_);
}

std::string CredentialHasher::hash(CredentialKind kind, std::string_view value) const {
  // The message of privacy::keyed_hash: "estate-edge/<kind>\0<normalised value>".
  std::string msg = "estate-edge/";
  switch (kind) {
    case CredentialKind::card: {
      msg += "card_uid";
      msg.push_back('\0');
      // A UID of up to 16 hex digits is a number: readers print one card at different widths
      // ("00AB", "AB"), and the lists always matched them as one.
      const std::string n = privacy::normalize_card_uid(value);
      std::size_t zeros = 0;
      if (n.size() <= 16) {
        while (zeros + 1 < n.size() && n[zeros] == '0') ++zeros;
      }
      msg.append(n, zeros);
      break;
    }
    case CredentialKind::plate:
      msg += "plate";
      msg.push_back('\0');
      msg += privacy::normalize_plate(value);
      break;
    case CredentialKind::qr:
      msg += "qr";
      msg.push_back('\0');
      msg += value;
      break;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_);
  const bool ok = ctx && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(msg.data()),
                                        msg.size()) &&
                  EVP_MAC_final(ctx, md, &len, sizeof md);
  EVP_MAC_CTX_free(ctx);
  OPENSSL_cleanse(msg.data(), msg.size());
  if (!ok) throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (std::size_t i = 0; i < len; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0xF]);
  }
  return out;
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
