// The ECR (electronic cash register) link to a bank-card POS terminal: frames and messages.
//
// Frame:  STX | LEN | DATA | ETX | LRC
//   LEN   length of DATA, encoded as the format says (2-byte binary big-endian, or 2-byte BCD
//         "0123" = 123 as most UnionPay-style ECR links use);
//   DATA  a message: 2 ASCII characters of message type, then fields, each FS (0x1C), a 2-letter
//         tag and a printable-ASCII value;
//   LRC   XOR of every byte after STX up to and including ETX.
// The receiver answers each frame with ACK (0x06) or, on a bad LRC or length, NAK (0x15) and the
// sender repeats it. Everything that differs between vendors (control bytes, length encoding,
// separator, size limit, required fields per message) is in a FrameFormat / MessageSpec table,
// so supporting a vendor variant is a data change.
// Pure codec: no I/O. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::pos {

enum class LengthEncoding { binary_be16, bcd16 };

struct FrameFormat {
  std::string_view name;
  std::uint8_t stx = 0x02;
  std::uint8_t etx = 0x03;
  std::uint8_t ack = 0x06;
  std::uint8_t nak = 0x15;
  std::uint8_t field_separator = 0x1C;
  LengthEncoding length = LengthEncoding::binary_be16;
  std::size_t max_data = 1024;
};

// The known formats: "generic" (binary length) and "bcd" (BCD length).
std::span<const FrameFormat> formats();
const FrameFormat* find_format(std::string_view name);

// Message types and the tags each must carry (absent optional tags are allowed).
struct MessageSpec {
  std::string_view type;
  std::string_view meaning;
  std::span<const std::string_view> required;
};
std::span<const MessageSpec> message_specs();
const MessageSpec* find_message(std::string_view type);

// Message types of the sale/query/void/settlement exchange.
inline constexpr std::string_view sale_request = "S0", sale_response = "S1";
inline constexpr std::string_view query_request = "Q0", query_response = "Q1";
inline constexpr std::string_view void_request = "V0", void_response = "V1";
inline constexpr std::string_view settle_request = "T0", settle_response = "T1";
// Result codes (tag RC).
inline constexpr std::string_view rc_approved = "00";
inline constexpr std::string_view rc_not_found = "NF";
inline constexpr std::string_view rc_in_progress = "IP";  // query: the sale is still at the keypad

// What a result code (RC) means for the money. Fail closed: only "00" is an approval, only "NF"
// (query) says the terminal never processed the reference, and only the codes in
// decline_codes() say the card was refused and nothing was charged. Everything else - "IP",
// an empty or missing code, a code this table does not know - is `unknown`: the payment is
// asked about again and never taken as declined (a declined payment is one the resident may
// pay a second time).
enum class ResultClass { approved, declined, not_found, unknown };
ResultClass classify_result(std::string_view code);
// The refusals of ISO 8583 field 39 that UnionPay-style ECR links pass through (05 do not
// honour, 51 insufficient funds, 54 expired card, 55 wrong PIN, ...).
std::span<const std::string_view> decline_codes();

// A card number as a terminal may send it (CN), masked before anything keeps it: at most the
// first 6 and the last 4 digits stay visible, every other digit becomes '*'. Characters other
// than digits are kept ('*' already masked, spaces); the result is at most 32 characters.
std::string mask_card_number(std::string_view cn);
// Free text from a terminal (MS) with any run of 12 or more digits (a card number a terminal
// echoed) masked as mask_card_number does.
std::string mask_card_numbers_in_text(std::string_view text);

struct Message {
  std::string type;
  std::vector<std::pair<std::string, std::string>> fields;

  std::optional<std::string> get(std::string_view tag) const;
  Message& set(std::string tag, std::string value);
};

// Encodes a whole frame. Fails (DecodeError, offset 0) when the message is invalid: unknown
// type, a required tag missing, a tag not 2 uppercase letters, a value with a non-printable
// byte, or DATA longer than the format allows.
Result<Bytes> encode(const FrameFormat& format, const Message& message);

// Decodes exactly one frame (STX..LRC). Errors name the byte offset.
Result<Message> decode(const FrameFormat& format, std::span<const std::uint8_t> frame);

// Finds the next unit in a receive buffer.
struct Scan {
  enum Kind { need_more, frame, ack, nak, garbage } kind = need_more;
  std::size_t size = 0;  // bytes of this unit (frame: the whole frame; garbage: bytes to drop)
};
Scan scan(const FrameFormat& format, std::span<const std::uint8_t> buffer);

std::uint8_t lrc(std::span<const std::uint8_t> bytes);

}  // namespace estate::protocols::pos
