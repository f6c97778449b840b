// IC card reader frames: what a serial / RS-485 reader sends when a card is presented, one
// table row per reader model (card_frames.cpp). Adding a model that differs only in its frame
// layout is one row; its captured frames and expected numbers go in
// tests/unit/drivers/card/card_frames_test.cpp.
//
// Layouts the table can describe:
//   binary UID      STX [addr] [len] uid(len bytes) [check] [ETX]
//   ASCII hex UID   STX hex-digits... CR LF ETX        (desktop readers in "serial text" mode)
//   Wiegand bits    STX [addr] bits(26|34) data(ceil(bits/8) bytes, MSB first) [check] [ETX]
//                   (RS-485 converters behind Wiegand-26/34 readers; parity checked here)
//   text line       printable ASCII... CR [LF]   (QR / barcode scanners in serial mode: the
//                   decoded text of a visitor pass; min_uid/max_uid bound its length)
//   number line     digits... CR [LF] or hex-digits... CR [LF]   (keyboard-wedge readers, USB
//                   HID or serial: the UID typed as a decimal or hex number, then Enter;
//                   min_uid/max_uid bound the digits)
// Card numbers are returned as upper-case hex without separators, the form access lists use.
// Thread-safety: pure functions over immutable tables; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/transports/link.hpp"

namespace estate::drivers::card {

enum class Payload { uid_binary, uid_ascii_hex, wiegand, text_line, uid_decimal_line, uid_hex_line };
enum class Check { none, xor_bcc, sum8 };  // over the bytes between STX and the check byte

struct FrameFormat {
  std::string_view model;
  std::string_view description;
  Payload payload = Payload::uid_binary;
  std::uint8_t start = 0x02;
  std::optional<std::uint8_t> end = 0x03;
  bool address = false;        // one address byte after STX (readers sharing an RS-485 line)
  bool length = false;         // one byte: UID length (binary) or bit count (Wiegand)
  Check check = Check::none;
  std::size_t min_uid = 4;     // binary / ASCII: UID bytes allowed (ISO 14443: 4, 7 or 10)
  std::size_t max_uid = 10;
};

struct CardFrame {
  std::optional<int> address;  // the reader's bus address, when the format carries one
  std::string card;            // upper-case hex
  int wiegand_bits = 0;        // 26 or 34 for Wiegand frames
  bool qr = false;             // a scanned code (text line), not a card number
};

// The model table; nullptr for an unknown model.
const FrameFormat* find_format(std::string_view model);
// "generic-485, ascii-hex, wiegand-485, qr-text": for error messages.
std::string known_models();
// The model used when a card_reader device names none.
inline constexpr std::string_view default_model = "generic-485";

// Frame scanner for Link::receive: need_more until a whole frame is there; invalid with
// `skip` = the bytes to drop (up to the next STX) for bytes that cannot start or continue a
// frame; bad_checksum for a frame whose check byte or Wiegand parity is wrong.
FrameScan scan_frame(const FrameFormat& f, std::span<const std::uint8_t> bytes);
FrameScanner scanner(const FrameFormat& f);

// Decodes a frame the scanner called complete. nullopt and `error` when it is not one.
std::optional<CardFrame> decode_frame(const FrameFormat& f, std::span<const std::uint8_t> frame,
                                      std::string& error);

// Encoders for simulators and tests (the inverse of decode_frame).
std::vector<std::uint8_t> encode_uid(const FrameFormat& f, int address,
                                     std::span<const std::uint8_t> uid);
// Wiegand-26: 8-bit facility code, 16-bit card number; Wiegand-34: 32-bit card number
// (facility ignored). Parity bits as the standard sets them (even over the first half, odd
// over the second).
std::vector<std::uint8_t> encode_wiegand(const FrameFormat& f, int address, int bits,
                                         std::uint32_t facility, std::uint32_t number);

}  // namespace estate::drivers::card
