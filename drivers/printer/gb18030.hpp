// UTF-8 -> GB18030 for Chinese receipt printers, with glibc's iconv (no extra dependency).
// Thread-safe: each call opens its own conversion descriptor.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace estate::drivers::printer {

// nullopt when `utf8` is not valid UTF-8 (GB18030 covers all of Unicode).
std::optional<std::vector<std::uint8_t>> to_gb18030(std::string_view utf8);

}  // namespace estate::drivers::printer
