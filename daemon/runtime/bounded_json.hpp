// JSON from outside the gateway (MQTT commands, HTTP request bodies) parsed with its nesting
// depth bounded before anything walks it: nlohmann's dump, copy and comparison recurse once per
// level, so 1 MiB of '[' would overflow the stack in the first of them. The depth is checked by
// a linear scan of the text (strings skipped), before the parser builds anything.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

namespace estate::runtime {

// Deeper arrays/objects than this are refused (a command or request needs a handful of levels).
inline constexpr int max_json_depth = 64;

// The byte offset of the first '[' or '{' that opens level max_depth + 1, or nullopt when the
// text nests no deeper than max_depth. Says nothing else about the text's validity.
std::optional<std::size_t> json_too_deep(std::string_view text, int max_depth = max_json_depth);

// As nlohmann::json::parse(text, nullptr, false): a discarded value when the text is not valid
// JSON, and also when it nests deeper than max_depth (then nothing is parsed).
nlohmann::json parse_json_bounded(std::string_view text, int max_depth = max_json_depth);

}  // namespace estate::runtime
