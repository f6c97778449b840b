#pragma once
// JSON text written by hand where it must be fast (readings) or byte-exact (the canonical form a
// command's signature covers).

#include <string>
#include <string_view>

namespace estate::record {

// `s` as a JSON string the way nlohmann::json::dump() writes it for ASCII text: ", \ and the
// control characters escaped (\b \f \n \r \t, else \u00xx lower-case). Bytes >= 0x80 are copied
// as they are: the caller has checked they are UTF-8.
void append_json_string(std::string& out, std::string_view s);

}  // namespace estate::record
