// Small helpers the push format parsers share (plate_push.cpp, vzenith_push.cpp,
// hikvision_push.cpp). Internal to drivers/camera.
#pragma once

#include <string>
#include <string_view>

#include "drivers/camera/plate_push.hpp"

namespace estate::drivers::camera::detail {

// False when JSON arrays/objects nest deeper than `max_depth` (checked before parsing, so a
// hostile body cannot exhaust the parser's stack).
bool json_nesting_within(std::string_view text, int max_depth);
std::string lower(std::string_view s);
std::string trim(std::string_view s);
// A plate's text: required, at most 32 bytes; else `error` names `where`.
bool plate_text_ok(const std::string& plate, const std::string& where, std::string& error);
// A parameter (`boundary`, `name`, `filename`) of a header value; "" when absent.
std::string header_param(std::string_view value, std::string_view name);
// The vzenith row of the JSON push formats (vzenith_push.cpp).
const JsonPushFormat& vzenith_push_format();

}  // namespace estate::drivers::camera::detail
