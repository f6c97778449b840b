// What a platform command must prove before it runs (docs/mqtt-api.md, "Command envelope"):
// when it was issued and until when it is valid (issued_at, expires; a per-command max age and
// a clock skew from security.*), and, when the site configures platform keys, an Ed25519
// signature by one of them over the command's canonical form.
//
// The canonical form is the UTF-8 JSON text of
//   {"body":<the message without v,id,issued_at,expires,sig>,"expires":..,"id":..,
//    "issued_at":..,"name":<command name from the topic>,"v":1}
// with object keys sorted by their UTF-8 bytes, no whitespace, strings escaped minimally (only
// '"', '\\' and U+0000..U+001F: \b \t \n \f \r or \u00xx in lower-case hex), integers in plain
// decimal (|n| <= 2^53). Numbers with a fraction or an exponent have no canonical form here: a
// signed command carries decimals as strings.
// Pure functions and immutable key sets; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace estate::bridge {

// The members of a command message that are its envelope, not its body.
inline constexpr std::array<std::string_view, 5> envelope_fields{"v", "id", "issued_at",
                                                                  "expires", "sig"};

// The canonical text of `value` (see above). nullopt, with `error` naming the offending member's
// path, for a number that is not an integer or an integer beyond +-2^53.
std::optional<std::string> canonical_json(const nlohmann::json& value, std::string& error);

// The bytes a platform signs for the command `name` whose message (an object with v, id,
// issued_at, expires and its body members) is `message`. nullopt with `error` as above.
std::optional<std::string> signing_input(const std::string& name, const nlohmann::json& message,
                                         std::string& error);

// The platform's Ed25519 public keys (security.platform_public_keys).
class PlatformKeys {
 public:
  // From 64-hex-digit keys; nullptr with `error` naming the bad one (its position, from 0).
  static std::shared_ptr<const PlatformKeys> from_hex(const std::vector<std::string>& hex,
                                                      std::string& error);
  ~PlatformKeys();
  std::size_t size() const { return keys_.size(); }
  // True when `signature` (64 bytes) over `message` verifies under any of the keys.
  bool verify(std::string_view message, const std::array<std::uint8_t, 64>& signature) const;

 private:
  struct Key;
  PlatformKeys() = default;
  std::vector<std::unique_ptr<Key>> keys_;
};

// An Ed25519 private key for signing commands (`estate-edge sign-command`, tests).
class CommandSigner {
 public:
  // From a PEM "PRIVATE KEY" (PKCS#8, as `openssl genpkey -algorithm ed25519` writes) or the
  // 32-byte seed as 64 hex digits (surrounding whitespace ignored). nullptr with `error`.
  static std::unique_ptr<CommandSigner> from_text(std::string_view text, std::string& error);
  ~CommandSigner();
  std::string public_key_hex() const;
  // The 64-byte signature of `message`, as 128 lower-case hex digits.
  std::string sign_hex(std::string_view message) const;

 private:
  struct Key;
  explicit CommandSigner(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

// Adds "sig" to `message` (replacing one there): the signature of signing_input(name, message).
// Returns "" or why the message cannot be signed.
std::string sign_message(const CommandSigner& signer, const std::string& name,
                         nlohmann::json& message);

// issued_at and expires of a message, as UTC seconds.
struct CommandTimes {
  std::int64_t issued_at = 0;
  std::int64_t expires = 0;
};
// Reads them ("issued_at"/"expires": ISO 8601 with an offset, e.g. 2026-12-04T08:00:00+08:00 or
// ...Z); nullopt with `error` (naming the field) when missing or malformed, or when expires is
// not after issued_at.
std::optional<CommandTimes> command_times(const nlohmann::json& message, std::string& error);

// How late a command may run: at most max_age(name) seconds after issued_at and never after
// expires; issued_at may be up to clock_skew_s ahead of the gateway's clock.
struct ExpiryPolicy {
  std::map<std::string, std::int64_t, std::less<>> max_age_s;  // by command name
  std::int64_t default_max_age_s = 86400;
  std::int64_t clock_skew_s = 60;
  std::int64_t max_age(std::string_view name) const;
};
// The built-in max ages (gate-open, valve, relay 60 s; parking-pay 300 s; others a day).
ExpiryPolicy default_expiry_policy();

// Every downlink command a gateway may handle (each has docs/schemas/cmd-<name>.schema.json):
// what a site may name in security.command_max_age_s.
const std::vector<std::string_view>& downlink_command_names();

// "" when `name` issued at `t` may run at `now` (UTC seconds); else the refusal, starting with
// "expired:" for a late command and "issued_at:" for one from the future.
std::string check_times(std::string_view name, const CommandTimes& t, std::int64_t now,
                        const ExpiryPolicy& policy);
// The first second at which the command would be refused as late.
std::int64_t late_from(std::string_view name, const CommandTimes& t, const ExpiryPolicy& policy);

// What the site requires of platform commands (from security.*).
struct CommandPolicy {
  std::shared_ptr<const PlatformKeys> keys;  // null or empty: signatures are not required
  ExpiryPolicy expiry = default_expiry_policy();
  // Every command but ping needs a signature once a key is configured.
  bool needs_signature(std::string_view name) const {
    return keys && keys->size() > 0 && name != "ping";
  }
};

// "" when the message's "sig" verifies for `name` under policy.keys; else the refusal, starting
// with "signature:". Call only when policy.needs_signature(name).
std::string check_signature(const std::string& name, const nlohmann::json& message,
                            const PlatformKeys& keys);

}  // namespace estate::bridge
