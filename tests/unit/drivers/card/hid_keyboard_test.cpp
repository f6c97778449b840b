// Keyboard-wedge card readers: HID boot keyboard reports as a USB reader sends them (press,
// release, rollover, Shift, the phantom state), decoded into the text it types, and that text
// read by the decimal-text / hex-text frame formats into the card number access lists use.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

#include "drivers/card/card_frames.hpp"
#include "drivers/card/hid_keyboard.hpp"
#include "drivers/card/usb_hid_stream.hpp"

namespace estate::drivers::card {
namespace {

using Report = std::vector<std::uint8_t>;

Report key(std::uint8_t usage, std::uint8_t modifiers = 0) { return {modifiers, 0, usage, 0, 0, 0, 0, 0}; }
const Report released{0, 0, 0, 0, 0, 0, 0, 0};

// What a reader sends for a string: each key pressed and released, Enter at the end.
std::vector<Report> typed(std::string_view text) {
  std::vector<Report> out;
  for (char c : text) {
    std::uint8_t u = 0, mod = 0;
    if (c >= '1' && c <= '9') u = static_cast<std::uint8_t>(0x1E + (c - '1'));
    if (c == '0') u = 0x27;
    if (c >= 'A' && c <= 'Z') u = static_cast<std::uint8_t>(0x04 + (c - 'A')), mod = 0x02;
    if (c == '\r') u = 0x28;
    out.push_back(key(u, mod));
    out.push_back(released);
  }
  return out;
}

std::string decode(const std::vector<Report>& reports) {
  HidKeyboardDecoder d;
  std::string out;
  for (const auto& r : reports) d.feed(r, out);
  return out;
}

std::optional<CardFrame> card_of(std::string_view model, const std::string& text, std::string& err) {
  const auto* f = find_format(model);
  std::vector<std::uint8_t> b(text.begin(), text.end());
  return decode_frame(*f, b, err);
}

TEST(HidKeyboard, PressReleaseSequencesGiveTheTypedText) {
  EXPECT_EQ(decode(typed("0004128974\r")), "0004128974\r");
  EXPECT_EQ(decode(typed("04A1B2C3\r")), "04A1B2C3\r");
  // Keypad digits and keypad Enter (some readers use the numeric pad).
  EXPECT_EQ(decode({{0, 0, 0x62, 0, 0, 0, 0, 0}, released, {0, 0, 0x59, 0, 0, 0, 0, 0}, released,
                    {0, 0, 0x58, 0, 0, 0, 0, 0}}),
            "01\r");
}

TEST(HidKeyboard, HeldKeysCountOnceAndRolloverCountsTheNewKey) {
  // '1' held over three reports, then '2' pressed while '1' is still down, then both released.
  EXPECT_EQ(decode({key(0x1E), key(0x1E), {0, 0, 0x1E, 0x1F, 0, 0, 0, 0}, released}), "12");
  // The same digit twice needs a release in between (as readers send it).
  EXPECT_EQ(decode({key(0x1E), released, key(0x1E), released}), "11");
}

TEST(HidKeyboard, PhantomShortAndUnknownReportsAddNothing) {
  EXPECT_EQ(decode({{0, 0, 1, 1, 1, 1, 1, 1}}), "");  // too many keys down
  EXPECT_EQ(decode({{0, 0}}), "");
  EXPECT_EQ(decode({key(0x3A), released, key(0x2C), released}), "");  // F1, space
  EXPECT_EQ(hid_usage_char(0x04, false), 'a');
  EXPECT_EQ(hid_usage_char(0x04, true), 'A');
}

TEST(HidKeyboard, TypedNumbersReadAsCardNumbers) {
  std::string err;
  // A 10-digit decimal is the 4-byte UID: 4128974 = 0x003F00CE.
  auto c = card_of("decimal-text", decode(typed("0004128974\r")), err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->card, "003F00CE");
  EXPECT_FALSE(c->qr);
  c = card_of("decimal-text", "3735928559\r", err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->card, "DEADBEEF");
  // Wider than 4 bytes: a 7-byte UID.
  c = card_of("decimal-text", "1234605616436508552\r", err);  // 0x1122334455667788 > 7 bytes
  EXPECT_FALSE(c);
  c = card_of("decimal-text", "4822678189205111\r", err);  // 0x11223344556677
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->card, "11223344556677");
  c = card_of("hex-text", decode(typed("04A1B2C3\r")), err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->card, "04A1B2C3");
  c = card_of("hex-text", "4a1b2c3d\r", err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->card, "4A1B2C3D");
  // Not a number, or too short / too long, is refused with a reason.
  EXPECT_FALSE(card_of("decimal-text", "00041289A4\r", err));
  EXPECT_EQ(err, "not a decimal card number");
  EXPECT_FALSE(card_of("hex-text", "04A1B2G3\r", err));
  EXPECT_EQ(err, "not a hex card number");
  EXPECT_FALSE(card_of("decimal-text", "1234\r", err));
  EXPECT_FALSE(card_of("decimal-text", "123456789012345678901\r", err));
}

TEST(UsbSelector, ParsesVendorProductAndPortPath) {
  std::string err;
  auto s = parse_usb_selector("ffff:0035", err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ((s->vendor << 16) | s->product, 0xffff0035u);
  EXPECT_EQ(s->port_path, "");
  s = parse_usb_selector("08ff:0009@1-1.4", err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->port_path, "1-1.4");
  EXPECT_EQ(to_string(*s), "08ff:0009@1-1.4");
  for (const char* bad : {"ffff", "ffff:35", "fffg:0035", "ffff:0035@", "ffff:0035@x", ":"}) {
    EXPECT_FALSE(parse_usb_selector(bad, err)) << bad;
    EXPECT_FALSE(err.empty());
  }
}

#ifdef ESTATE_EDGE_WITH_USB
TEST(UsbHidStream, AMissingReaderFailsToOpenAndReadsNothing) {
  // No USB device has this id (0xfffe is not assigned to readers): the open fails with an
  // error the card line logs and retries with backoff; nothing is read.
  boost::asio::io_context io;
  auto s = make_usb_hid_stream(io.get_executor(), UsbSelector{0xffff, 0xfffe, "9-9.9"});
  EXPECT_EQ(s->describe(), "usb ffff:fffe@9-9.9");
  boost::system::error_code opened, read;
  bool open_done = false, read_done = false;
  s->async_open([&](boost::system::error_code ec) { opened = ec, open_done = true; });
  std::array<std::uint8_t, 16> buf{};
  s->async_read_some(boost::asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
    read = ec, read_done = true;
    EXPECT_EQ(n, 0u);
  });
  io.run();
  EXPECT_TRUE(open_done && read_done);
  EXPECT_TRUE(opened);
  EXPECT_TRUE(read);
  EXPECT_FALSE(s->is_open());
}
#endif

}  // namespace
}  // namespace estate::drivers::card
