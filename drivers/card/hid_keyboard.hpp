// USB HID keyboard reports (the boot protocol: modifier byte, reserved byte, up to six key
// usage codes) turned into the characters a keyboard-wedge card reader "types": digits,
// letters (Shift for upper case), Enter as CR. A key counts when it appears in a report, not
// again while it stays down; keys the readers never send are ignored, so the text that comes
// out is what a serial reader in text mode would send, and the card frame formats read it
// (decimal-text, hex-text). Pure and deterministic: tested with captured report streams.
// Thread-safety: none; one decoder per reader.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace estate::drivers::card {

class HidKeyboardDecoder {
 public:
  // Appends the characters this report adds to `out`. Reports shorter than 3 bytes, and the
  // "phantom" report (every key slot 0x01: too many keys down), add nothing.
  void feed(std::span<const std::uint8_t> report, std::string& out);
  void reset() { down_.fill(0); }

 private:
  std::array<std::uint8_t, 6> down_{};
};

// The character of a HID keyboard usage (0 when a reader would not send it).
char hid_usage_char(std::uint8_t usage, bool shift);

}  // namespace estate::drivers::card
