// Exact decimal arithmetic for billing: every quantity is an integer count of a fixed unit, so
// no floating point ever touches money.
//   usage   : milli-units (1e-3 m3, 1e-3 kWh)  — meters report at most 3 decimals
//   price   : 1e-4 yuan per unit                — tariffs carry at most 4 decimals
//   amount  : 1e-7 yuan (usage x price, exact)  — never rounded inside a charge
//   money   : fen (1e-2 yuan)                   — the only unit that is stored or posted
// Rounding rule (the only one on the money path): an exact amount becomes fen by rounding
// half up (half away from zero), ONCE, on a charge's total — 0.005 yuan -> 1 fen,
// 0.0049999 yuan -> 0 fen. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace estate::billing {

using UsageMilli = std::int64_t;  // 1e-3 of the tariff's unit
using PriceE4 = std::int64_t;     // 1e-4 yuan per unit
using AmountE7 = std::int64_t;    // 1e-7 yuan
using Fen = std::int64_t;         // 1e-2 yuan
// 128-bit intermediate for exact products and ratios (GCC/Clang extension).
__extension__ typedef __int128 WideInt;

inline constexpr int usage_places = 3;
inline constexpr int price_places = 4;
inline constexpr int amount_places = 7;
inline constexpr AmountE7 e7_per_fen = 100000;

// Parses a plain decimal ("12", "12.5", "-0.125") into an integer scaled by 10^places.
// Rejects exponents, signs other than a leading '-', more than `places` decimals, empty
// digits and values beyond ~9.2e15 units. On failure returns nullopt and sets `why`.
std::optional<std::int64_t> parse_decimal(std::string_view text, int places,
                                          std::string* why = nullptr);

// Formats `scaled` / 10^places with exactly `places` decimals ("180.000", "-0.0050000").
std::string format_decimal(std::int64_t scaled, int places);

// usage x price, exact. Throws std::overflow_error beyond the int64 range (~9.2e11 yuan).
AmountE7 multiply(UsageMilli usage, PriceE4 price);

// The rounding rule above: exact 1e-7 yuan -> fen, half away from zero.
Fen round_half_up_to_fen(AmountE7 exact);

// An exact amount as yuan text, trailing zeros trimmed to at least 2 decimals:
// 9000000000 -> "900.00", 125000 -> "0.0125", 50000 -> "0.005".
std::string format_amount(AmountE7 exact);

// Fen as yuan text with two decimals: 12345 -> "123.45".
inline std::string format_fen(Fen fen) { return format_decimal(fen, 2); }

}  // namespace estate::billing
