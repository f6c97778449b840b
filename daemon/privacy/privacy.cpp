#include "daemon/privacy/privacy.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "protocols/common/hex.hpp"

namespace estate::privacy {

namespace {

// Splits UTF-8 text into code points (as byte strings); nullopt when it is not valid UTF-8.
std::optional<std::vector<std::string_view>> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return std::nullopt;
    }
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string mask_word(const std::vector<std::string_view>& cps) {
  std::string out;
  if (cps.size() <= 1) return cps.empty() ? "" : "*";
  out += cps.front();
  if (cps.size() == 2) return out + "*";
  out.append(cps.size() - 2, '*');
  out += cps.back();
  return out;
}

}  // namespace

std::string normalize_card_uid(std::string_view uid) {
  std::string out;
  for (char c : uid) {
    if (c == ' ' || c == ':' || c == '-' || c == '\t') continue;
    out.push_back(upper(c));
  }
  return out;
}

std::string normalize_plate(std::string_view plate) {
  auto cps = code_points(plate);
  std::string out;
  if (!cps) {
    for (char c : plate) out.push_back(upper(c));
    return out;
  }
  for (auto cp : *cps) {
    if (cp == " " || cp == "-" || cp == "." || cp == "\t" || cp == "\u00B7" || cp == "\u2022" ||
        cp == "\u30FB") {
      continue;
    }
    if (cp.size() == 1) out.push_back(upper(cp[0]));
    else out += cp;
  }
  return out;
}

std::string keyed_hash(const Key& key, std::string_view kind, std::string_view value) {
  std::string msg = "estate-edge/";
  msg += kind;
  msg.push_back('\0');
  msg += value;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &len)) {
    OPENSSL_cleanse(msg.data(), msg.size());
    throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  }
  OPENSSL_cleanse(msg.data(), msg.size());
  return protocols::to_hex(std::span(md, len));
}

std::string card_uid_hash(const Key& key, std::string_view uid) {
  return keyed_hash(key, "card_uid", normalize_card_uid(uid));
}

std::string plate_hash(const Key& key, std::string_view plate) {
  return keyed_hash(key, "plate", normalize_plate(plate));
}

bool hash_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string mask_name(std::string_view name) {
  auto cps = code_points(name);
  if (!cps) return "***";
  std::string out;
  std::vector<std::string_view> word;
  for (auto cp : *cps) {
    if (cp == " ") {
      out += mask_word(word);
      out += ' ';
      word.clear();
    } else {
      word.push_back(cp);
    }
  }
  out += mask_word(word);
  return out;
}

std::string mask_card(std::string_view card) {
  auto n = normalize_card_uid(card);
  if (n.size() <= 4) return "****";
  return "****" + n.substr(n.size() - 4);
}

std::string mask_plate(std::string_view plate) {
  auto n = normalize_plate(plate);
  auto cps = code_points(n);
  if (!cps) return "***";
  if (cps->size() <= 4) {
    std::string out;
    if (!cps->empty()) out += cps->front();
    out.append(cps->size() > 1 ? cps->size() - 1 : 0, '*');
    return out;
  }
  std::string out;
  out += (*cps)[0];
  out += (*cps)[1];
  out.append(cps->size() - 4, '*');
  out += (*cps)[cps->size() - 2];
  out += (*cps)[cps->size() - 1];
  return out;
}

std::string mask_phone(std::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (digits.size() >= 11) {
    return digits.substr(0, 3) + std::string(digits.size() - 7, '*') +
           digits.substr(digits.size() - 4);
  }
  if (digits.size() <= 4) return std::string(digits.size(), '*');
  return std::string(digits.size() - 4, '*') + digits.substr(digits.size() - 4);
}

}  // namespace estate::privacy
