// Visitor passes the platform signs, shown as a QR code on the visitor's phone. The gate checks
// them offline with the platform's Ed25519 public key (access.qr_pass_public_key), so a pass
// issued after the last list sync still opens, and a copied screenshot of an expired pass, or a
// pass whose dates were edited, fails.
//
//   EEP1.<base64url(payload)>.<base64url(signature)>
//   payload: {"pass": "V-20260301-7", "site": "sunrise-garden", "from": 1772323200,
//             "to": 1772409600, "uses": 2, "room": "3-1-402"}   (from/to: Unix seconds, to
//             exclusive; uses: entries allowed, 0 = unlimited; room optional)
//   signature: Ed25519 (RFC 8032) over the ASCII text "EEP1.<base64url(payload)>"
// Thread-safety: a PassVerifier is immutable after construction; verify() is safe from any
// thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace estate::access {

struct SignedPass {
  std::string pass_id;
  std::string site;
  std::int64_t valid_from = 0;
  std::int64_t valid_to = 0;
  std::int64_t max_uses = 0;
  std::string room;
};

enum class PassCheck { ok, malformed, bad_signature, wrong_site, not_yet_valid, expired };

struct PassResult {
  PassCheck status = PassCheck::malformed;
  SignedPass pass;      // filled from ok on (and for the time checks, so reasons can name it)
  std::string reason;   // for people and events
};

// True when the text has the signed pass prefix (the gate then never treats it as a plain code).
bool is_signed_pass(std::string_view qr);

class PassVerifier {
 public:
  // From the 32-byte Ed25519 public key as 64 hex digits. nullptr and `error` when malformed.
  static std::shared_ptr<const PassVerifier> from_hex(std::string_view public_key_hex,
                                                      std::string& error);
  ~PassVerifier();

  // Reasons write times in `utc_offset_minutes` (the site's offset).
  PassResult verify(std::string_view qr, std::string_view site_id, std::int64_t now_utc,
                    int utc_offset_minutes = 0) const;

 private:
  struct Key;
  explicit PassVerifier(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

// The platform's side, for tests and the demo: signs a pass with a 32-byte Ed25519 private key
// seed given as 64 hex digits. Throws std::invalid_argument on a malformed key.
std::string sign_pass(const SignedPass& pass, std::string_view private_key_hex);
// The public key (64 hex digits) of a private key seed.
std::string public_key_of(std::string_view private_key_hex);

}  // namespace estate::access
