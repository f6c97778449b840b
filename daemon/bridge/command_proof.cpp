#include "daemon/bridge/command_proof.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "daemon/parking/time.hpp"
#include "daemon/record/json_text.hpp"
#include "protocols/common/hex.hpp"

namespace estate::bridge {

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

constexpr std::int64_t max_exact_integer = std::int64_t{1} << 53;

// Strings as nlohmann writes them; the parser has checked their UTF-8.
void append_string(std::string& out, const std::string& s) {
  estate::record::append_json_string(out, s);
}

// Recursion is bounded by the parser's depth limit (runtime::max_json_depth) on every message
// that reaches here from outside.
bool append_canonical(std::string& out, const nlohmann::json& v, const std::string& path,
                      std::string& error) {
  using T = nlohmann::json::value_t;
  switch (v.type()) {
    case T::null: out += "null"; return true;
    case T::boolean: out += v.get<bool>() ? "true" : "false"; return true;
    case T::number_integer: {
      const auto n = v.get<std::int64_t>();
      if (n > max_exact_integer || n < -max_exact_integer) {
        error = path + ": integer beyond 2^53 (send it as a string)";
        return false;
      }
      out += std::to_string(n);
      return true;
    }
    case T::number_unsigned: {
      const auto n = v.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(max_exact_integer)) {
        error = path + ": integer beyond 2^53 (send it as a string)";
        return false;
      }
      out += std::to_string(n);
      return true;
    }
    case T::number_float:
      error = path + ": a number with a fraction or exponent (a signed command carries integers; "
                     "send decimals as strings)";
      return false;
    case T::string: append_string(out, v.get_ref<const std::string&>()); return true;
    case T::array: {
      out += '[';
      std::size_t i = 0;
      for (const auto& e : v) {
        if (i) out += ',';
        if (!append_canonical(out, e, path + "[" + std::to_string(i) + "]", error)) return false;
        ++i;
      }
      out += ']';
      return true;
    }
    case T::object: {
      // nlohmann::json keeps members in a std::map<std::string>: ordered by the keys' bytes
      // (char_traits<char> compares as unsigned char), i.e. by Unicode code point.
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) out += ',';
        first = false;
        append_string(out, k);
        out += ':';
        if (!append_canonical(out, e, path + "." + k.substr(0, 64), error)) return false;
      }
      out += '}';
      return true;
    }
    default:
      error = path + ": not a JSON value";
      return false;
  }
}

}  // namespace

std::optional<std::string> canonical_json(const nlohmann::json& value, std::string& error) {
  std::string out;
  if (!append_canonical(out, value, "$", error)) return std::nullopt;
  return out;
}

std::optional<std::string> signing_input(const std::string& name, const nlohmann::json& message,
                                         std::string& error) {
  if (!message.is_object()) {
    error = "expected a JSON object";
    return std::nullopt;
  }
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [k, v] : message.items()) {
    if (std::find(envelope_fields.begin(), envelope_fields.end(), k) == envelope_fields.end()) {
      body[k] = v;
    }
  }
  nlohmann::json doc = nlohmann::json::object();
  doc["body"] = std::move(body);
  doc["name"] = name;
  for (const char* k : {"v", "id", "issued_at", "expires"}) {
    auto it = message.find(k);
    doc[k] = it != message.end() ? *it : nlohmann::json();
  }
  auto text = canonical_json(doc, error);
  if (!text) error = "cannot be signed: " + error;
  return text;
}

struct PlatformKeys::Key {
  PkeyPtr pkey{nullptr, &EVP_PKEY_free};
};

PlatformKeys::~PlatformKeys() = default;

std::shared_ptr<const PlatformKeys> PlatformKeys::from_hex(const std::vector<std::string>& hex,
                                                           std::string& error) {
  std::shared_ptr<PlatformKeys> keys(new PlatformKeys());
  for (std::size_t i = 0; i < hex.size(); ++i) {
    auto raw = protocols::parse_hex_exact<32>(hex[i]);
    auto key = std::make_unique<Key>();
    if (raw) {
      key->pkey.reset(
          EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw->data(), raw->size()));
    }
    if (!key->pkey) {
      error = "[" + std::to_string(i) + "]: expected an Ed25519 public key as 64 hex digits";
      return nullptr;
    }
    keys->keys_.push_back(std::move(key));
  }
  return keys;
}

bool PlatformKeys::verify(std::string_view message,
                          const std::array<std::uint8_t, 64>& signature) const {
  for (const auto& k : keys_) {
    CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k->pkey.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                         reinterpret_cast<const unsigned char*>(message.data()),
                         message.size()) == 1) {
      return true;
    }
  }
  return false;
}

struct CommandSigner::Key {
  PkeyPtr pkey{nullptr, &EVP_PKEY_free};
};

CommandSigner::CommandSigner(std::unique_ptr<Key> key) : key_(std::move(key)) {}
CommandSigner::~CommandSigner() = default;

std::unique_ptr<CommandSigner> CommandSigner::from_text(std::string_view text,
                                                        std::string& error) {
  auto key = std::make_unique<Key>();
  auto trimmed = text;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) {
    trimmed.remove_prefix(1);
  }
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) {
    trimmed.remove_suffix(1);
  }
  if (trimmed.substr(0, 11) == "-----BEGIN ") {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(trimmed.data(), static_cast<int>(trimmed.size())), &BIO_free);
    if (bio) key->pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key->pkey || EVP_PKEY_id(key->pkey.get()) != EVP_PKEY_ED25519) {
      error = "not an unencrypted Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)";
      return nullptr;
    }
  } else {
    auto seed = protocols::parse_hex_exact<32>(trimmed);
    if (seed) {
      key->pkey.reset(
          EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed->data(), seed->size()));
    }
    if (!key->pkey) {
      error = "expected a PEM private key or the 32-byte Ed25519 seed as 64 hex digits";
      return nullptr;
    }
  }
  return std::unique_ptr<CommandSigner>(new CommandSigner(std::move(key)));
}

std::string CommandSigner::public_key_hex() const {
  std::array<std::uint8_t, 32> pub{};
  std::size_t n = pub.size();
  if (EVP_PKEY_get_raw_public_key(key_->pkey.get(), pub.data(), &n) != 1 || n != pub.size()) {
    return {};
  }
  return protocols::to_hex(std::span(pub.data(), n));
}

std::string CommandSigner::sign_hex(std::string_view message) const {
  std::array<std::uint8_t, 64> sig{};
  std::size_t n = sig.size();
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &n,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return {};
  }
  return protocols::to_hex(std::span(sig.data(), n));
}

std::string sign_message(const CommandSigner& signer, const std::string& name,
                         nlohmann::json& message) {
  std::string error;
  auto input = signing_input(name, message, error);
  if (!input) return error;
  auto sig = signer.sign_hex(*input);
  if (sig.empty()) return "signing failed";
  message["sig"] = sig;
  return {};
}

std::optional<CommandTimes> command_times(const nlohmann::json& message, std::string& error) {
  CommandTimes t;
  for (auto [key, out] : {std::pair{"issued_at", &t.issued_at}, std::pair{"expires", &t.expires}}) {
    auto it = message.find(key);
    if (it == message.end() || !it->is_string()) {
      error = std::string(key) +
              ": expected an ISO 8601 time with an offset, e.g. 2026-12-04T08:00:00+08:00";
      return std::nullopt;
    }
    std::string why;
    auto instant = parking::parse_iso8601(it->get_ref<const std::string&>().substr(0, 64), why);
    if (!instant) {
      error = std::string(key) + ": " + why;
      return std::nullopt;
    }
    *out = instant->utc_seconds;
  }
  if (t.expires <= t.issued_at) {
    error = "expires: must be after issued_at";
    return std::nullopt;
  }
  return t;
}

std::int64_t ExpiryPolicy::max_age(std::string_view name) const {
  auto it = max_age_s.find(name);
  return it != max_age_s.end() ? it->second : default_max_age_s;
}

ExpiryPolicy default_expiry_policy() {
  ExpiryPolicy p;
  p.max_age_s = {{"gate-open", 60}, {"valve", 60}, {"relay", 60}, {"parking-pay", 300}};
  return p;
}

const std::vector<std::string_view>& downlink_command_names() {
  static const std::vector<std::string_view> names = {
      "arrears", "blocklist", "cards",   "config", "gate-open", "monthly-passes", "parking-pay",
      "ping",    "plates",    "qr-result", "relay", "tariffs", "topup",  "valve",  "visitor-passes"};
  return names;
}

std::int64_t late_from(std::string_view name, const CommandTimes& t, const ExpiryPolicy& policy) {
  return std::min(t.expires, t.issued_at + policy.max_age(name));
}

std::string check_times(std::string_view name, const CommandTimes& t, std::int64_t now,
                        const ExpiryPolicy& policy) {
  if (t.issued_at > now + policy.clock_skew_s) {
    return "issued_at: " + std::to_string(t.issued_at - now) +
           " s ahead of the gateway's clock (at most " + std::to_string(policy.clock_skew_s) +
           " s allowed: security.command_clock_skew_s)";
  }
  if (now >= t.expires) {
    return "expired: expires was " + std::to_string(now - t.expires) + " s ago";
  }
  const auto max_age = policy.max_age(name);
  if (now >= t.issued_at + max_age) {
    return "expired: issued " + std::to_string(now - t.issued_at) + " s ago, " + std::string(name) +
           " may run at most " + std::to_string(max_age) +
           " s after issued_at (security.command_max_age_s)";
  }
  return {};
}

std::string check_signature(const std::string& name, const nlohmann::json& message,
                            const PlatformKeys& keys) {
  auto sig = message.find("sig");
  if (sig == message.end()) {
    return "signature: missing; this gateway obeys only commands signed with a platform key "
           "(security.platform_public_keys)";
  }
  std::optional<std::array<std::uint8_t, 64>> raw;
  if (sig->is_string()) raw = protocols::parse_hex_exact<64>(sig->get_ref<const std::string&>());
  if (!raw) return "signature: sig: expected 128 hex digits (an Ed25519 signature)";
  std::string error;
  auto input = signing_input(name, message, error);
  if (!input) return "signature: " + error;
  if (!keys.verify(*input, *raw)) {
    return "signature: does not verify with any platform key (security.platform_public_keys)";
  }
  return {};
}

}  // namespace estate::bridge
