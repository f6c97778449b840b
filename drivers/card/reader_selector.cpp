#include <charconv>
#include <cstdio>

#include "drivers/card/usb_hid_stream.hpp"

namespace estate::drivers::card {

std::optional<UsbSelector> parse_usb_selector(const std::string& text, std::string& error) {
  UsbSelector s;
  const auto at = text.find('@');
  const std::string ids = text.substr(0, at);
  if (at != std::string::npos) {
    s.port_path = text.substr(at + 1);
    const bool ok = !s.port_path.empty() &&
                    s.port_path.find_first_not_of("0123456789-.") == std::string::npos &&
                    s.port_path.find('-') != std::string::npos;
    if (!ok) {
      error = "USB port path '" + s.port_path + "' is not BUS-PORT[.PORT...] (e.g. 1-1.4)";
      return std::nullopt;
    }
  }
  auto hex16 = [](std::string_view v, std::uint16_t& out) {
    if (v.size() != 4) return false;
    auto r = std::from_chars(v.data(), v.data() + v.size(), out, 16);
    return r.ec == std::errc{} && r.ptr == v.data() + v.size();
  };
  const auto colon = ids.find(':');
  if (colon == std::string::npos ||
      !hex16(std::string_view(ids).substr(0, colon), s.vendor) ||
      !hex16(std::string_view(ids).substr(colon + 1), s.product)) {
    error = "USB device '" + ids + "' is not VID:PID in hex (e.g. ffff:0035)";
    return std::nullopt;
  }
  return s;
}

std::string to_string(const UsbSelector& s) {
  char ids[10];
  std::snprintf(ids, sizeof ids, "%04x:%04x", s.vendor, s.product);
  return std::string(ids) + (s.port_path.empty() ? "" : "@" + s.port_path);
}

}  // namespace estate::drivers::card
