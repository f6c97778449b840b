// Personal data kept to the minimum (PIPL; docs/security.md): where the gateway only needs to
// MATCH a card UID or a plate, it keeps a keyed hash (HMAC-SHA256 with the site's privacy key)
// instead of the value; where a person must recognise something (a kiosk greeting, a receipt),
// it shows a masked form. ID numbers and bank data are never stored.
//
// Use keyed hashes as list keys and in events/audit details; use masks on screens, receipts
// and in log lines. Thread-safety: pure functions. Errors: none besides std::bad_alloc and a
// std::runtime_error if OpenSSL fails.
#pragma once

#include <string>
#include <string_view>

#include "daemon/privacy/key_file.hpp"

namespace estate::privacy {

// Canonical forms, so the same card or plate always hashes the same however it was typed or
// read: card UIDs lose separators (space, ':', '-') and are upper-cased ("04:a3:1f" ->
// "04A31F"); plates lose spaces, '-', '.', '·', '•' and are upper-cased ("粤b·12345" ->
// "粤B12345").
std::string normalize_card_uid(std::string_view uid);
std::string normalize_plate(std::string_view plate);

// HMAC-SHA256(key, "estate-edge/<kind>\0<normalized value>") as 64 lower-case hex digits.
// The kind separates domains so a card UID never collides with a plate of the same text.
std::string card_uid_hash(const Key& key, std::string_view uid);
std::string plate_hash(const Key& key, std::string_view plate);
std::string keyed_hash(const Key& key, std::string_view kind, std::string_view value);

// Constant-time comparison of two hashes (or any two strings of equal length).
bool hash_equals(std::string_view a, std::string_view b);

// Masks (UTF-8 aware, by code point):
//   names:  "张三" -> "张*", "张三丰" -> "张*丰", "欧阳娜娜" -> "欧**娜"; Latin names word by
//           word: "John Smith" -> "J**n S***h"; one character -> "*".
//   cards:  last 4 kept behind a fixed "****" (the length is not revealed): "****5678".
//   plates: province and city code and the last two kept: "粤B12345" -> "粤B***45".
//   phones: "13812345678" -> "138****5678"; other lengths keep the last 4.
// Input that is not valid UTF-8 is masked whole ("***").
std::string mask_name(std::string_view name);
std::string mask_card(std::string_view card);
std::string mask_plate(std::string_view plate);
std::string mask_phone(std::string_view phone);

}  // namespace estate::privacy
