#include "daemon/access/signed_pass.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <stdexcept>
#include <vector>

#include "daemon/parking/time.hpp"
#include "protocols/common/hex.hpp"

namespace estate::access {

namespace {

constexpr std::string_view prefix = "EEP1.";

constexpr std::string_view b64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url_encode(const std::uint8_t* data, std::size_t n) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += b64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += b64[(acc << (6 - bits)) & 63];
  return out;
}

std::optional<std::vector<std::uint8_t>> b64url_decode(std::string_view s) {
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const auto p = b64.find(c);
    if (p == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero padding of the last character (no second spelling of a pass).
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

}  // namespace

struct PassVerifier::Key {
  PkeyPtr pkey{nullptr, &EVP_PKEY_free};
};

bool is_signed_pass(std::string_view qr) { return qr.substr(0, prefix.size()) == prefix; }

PassVerifier::PassVerifier(std::unique_ptr<Key> key) : key_(std::move(key)) {}
PassVerifier::~PassVerifier() = default;

std::shared_ptr<const PassVerifier> PassVerifier::from_hex(std::string_view hex,
                                                           std::string& error) {
  auto raw = protocols::parse_hex_exact<32>(hex);
  if (!raw) {
    error = "expected the platform's Ed25519 public key as 64 hex digits";
    return nullptr;
  }
  auto key = std::make_unique<Key>();
  key->pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw->data(), raw->size()));
  if (!key->pkey) {
    error = "not a usable Ed25519 public key";
    return nullptr;
  }
  return std::shared_ptr<const PassVerifier>(new PassVerifier(std::move(key)));
}

PassResult PassVerifier::verify(std::string_view qr, std::string_view site_id,
                                std::int64_t now, int offset) const {
  PassResult r;
  auto bad = [&](PassCheck s, std::string why) {
    r.status = s;
    r.reason = std::move(why);
    return r;
  };
  if (qr.size() > 2048 || !is_signed_pass(qr)) return bad(PassCheck::malformed, "not a signed pass");
  const auto dot = qr.rfind('.');
  if (dot <= prefix.size() - 1 || dot == qr.size() - 1) {
    return bad(PassCheck::malformed, "signed pass: no signature");
  }
  const std::string_view signed_text = qr.substr(0, dot);
  auto payload = b64url_decode(qr.substr(prefix.size(), dot - prefix.size()));
  auto sig = b64url_decode(qr.substr(dot + 1));
  if (!payload || !sig || sig->size() != 64) {
    return bad(PassCheck::malformed, "signed pass: not base64url, or a signature of the wrong size");
  }
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), sig->data(), sig->size(),
                       reinterpret_cast<const unsigned char*>(signed_text.data()),
                       signed_text.size()) != 1) {
    return bad(PassCheck::bad_signature, "signed pass: the signature does not match");
  }
  // Signed by the platform: the payload is trusted to be its own, but still checked for shape.
  auto j = nlohmann::json::parse(payload->begin(), payload->end(), nullptr, false);
  auto text = [&](const char* k) -> std::optional<std::string> {
    if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return std::nullopt;
    return j[k].get<std::string>();
  };
  auto number = [&](const char* k) -> std::optional<std::int64_t> {
    if (!j.is_object() || !j.contains(k) || !j[k].is_number_integer()) return std::nullopt;
    return j[k].get<std::int64_t>();
  };
  auto id = text("pass");
  auto site = text("site");
  auto from = number("from");
  auto to = number("to");
  if (!id || id->empty() || id->size() > 64 || !site || !from || !to || *to <= *from) {
    return bad(PassCheck::malformed, "signed pass: payload lacks pass, site, from < to");
  }
  r.pass.pass_id = *id;
  r.pass.site = *site;
  r.pass.valid_from = *from;
  r.pass.valid_to = *to;
  r.pass.max_uses = number("uses").value_or(0);
  r.pass.room = text("room").value_or("");
  if (r.pass.max_uses < 0) return bad(PassCheck::malformed, "signed pass: negative uses");
  if (*site != site_id) {
    return bad(PassCheck::wrong_site, "signed pass " + *id + " is for site '" + site->substr(0, 64) + "'");
  }
  if (now < *from) {
    return bad(PassCheck::not_yet_valid, "signed pass " + *id + " not valid before " +
                                             parking::format_iso8601(*from, offset));
  }
  if (now >= *to) {
    return bad(PassCheck::expired, "signed pass " + *id + " expired " +
                                       parking::format_iso8601(*to, offset));
  }
  r.status = PassCheck::ok;
  r.reason = "signed pass " + *id;
  return r;
}

std::string public_key_of(std::string_view private_key_hex) {
  auto seed = protocols::parse_hex_exact<32>(private_key_hex);
  if (!seed) throw std::invalid_argument("private key: expected 64 hex digits");
  PkeyPtr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed->data(), seed->size()),
            &EVP_PKEY_free);
  std::array<std::uint8_t, 32> pub{};
  std::size_t n = pub.size();
  if (!k || EVP_PKEY_get_raw_public_key(k.get(), pub.data(), &n) != 1) {
    throw std::invalid_argument("private key: not a usable Ed25519 key");
  }
  return protocols::to_hex(std::span(pub.data(), n));
}

std::string sign_pass(const SignedPass& p, std::string_view private_key_hex) {
  auto seed = protocols::parse_hex_exact<32>(private_key_hex);
  if (!seed) throw std::invalid_argument("private key: expected 64 hex digits");
  PkeyPtr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed->data(), seed->size()),
            &EVP_PKEY_free);
  if (!k) throw std::invalid_argument("private key: not a usable Ed25519 key");
  nlohmann::ordered_json j{{"pass", p.pass_id}, {"site", p.site}, {"from", p.valid_from},
                           {"to", p.valid_to},  {"uses", p.max_uses}};
  if (!p.room.empty()) j["room"] = p.room;
  const std::string payload = j.dump();
  std::string text = std::string(prefix) +
                     b64url_encode(reinterpret_cast<const std::uint8_t*>(payload.data()),
                                   payload.size());
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<std::uint8_t, 64> sig{};
  std::size_t n = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &n,
                     reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1) {
    throw std::runtime_error("signing the pass failed");
  }
  return text + "." + b64url_encode(sig.data(), n);
}

}  // namespace estate::access
