#include "drivers/card/hid_keyboard.hpp"

#include <algorithm>

namespace estate::drivers::card {

char hid_usage_char(std::uint8_t usage, bool shift) {
  // HID Usage Tables, Keyboard/Keypad page (0x07).
  if (usage >= 0x04 && usage <= 0x1D) return static_cast<char>((shift ? 'A' : 'a') + (usage - 0x04));
  if (usage >= 0x1E && usage <= 0x26) return static_cast<char>('1' + (usage - 0x1E));
  if (usage == 0x27) return '0';
  if (usage == 0x28 || usage == 0x58) return '\r';  // Enter, keypad Enter
  if (usage >= 0x59 && usage <= 0x61) return static_cast<char>('1' + (usage - 0x59));  // keypad 1-9
  if (usage == 0x62) return '0';                                                       // keypad 0
  return 0;
}

void HidKeyboardDecoder::feed(std::span<const std::uint8_t> report, std::string& out) {
  if (report.size() < 3) return;
  const bool shift = (report[0] & 0x22) != 0;  // left or right Shift
  const auto keys = report.subspan(2, std::min<std::size_t>(6, report.size() - 2));
  if (std::all_of(keys.begin(), keys.end(), [](std::uint8_t k) { return k == 0x01; })) return;
  std::array<std::uint8_t, 6> now{};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint8_t k = keys[i];
    now[i] = k;
    if (k < 0x04) continue;
    if (std::find(down_.begin(), down_.end(), k) != down_.end()) continue;  // still held
    if (char c = hid_usage_char(k, shift)) out += c;
  }
  down_ = now;
}

}  // namespace estate::drivers::card
