// Manufacturer identification (EN 13757-3 §6.3.3 / EN 62056-21 FLAG ids): three letters A-Z
// packed into 15 bits, 5 bits per letter ('A' = 1), first letter in the most significant bits.
// Thread-safety: pure functions. Errors: an empty optional for anything not three letters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace estate::protocols::mbus {

// "KAM" -> 0x2C2D. Lower-case letters are accepted.
std::optional<std::uint16_t> manufacturer_code(std::string_view letters);

// 0x2C2D -> "KAM". A 5-bit group outside 1..26 is shown as '?', so a corrupt field stays visible.
std::string manufacturer_letters(std::uint16_t code);

}  // namespace estate::protocols::mbus
