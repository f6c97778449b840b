// DL/T 645-2007 and DL/T 645-1997 multi-function electricity meter protocol: frames, the
// length-driven stream scanner, the data-identifier (DI) table, request encoders and the
// typed decode of a meter's answer.
//
// Frame (DL/T 645-2007 §4.1, same layout in -1997 §3.1):
//   [FE..FE] 68 A0 A1 A2 A3 A4 A5 68 C L DATA(L) CS 16
// A0 is the least significant address byte; the address is written most significant first
// (A5..A0) on the nameplate. DATA bytes are sent with 0x33 added (§4.1.5). CS is the modulo-256
// sum of every byte from the first 68 to the last DATA byte.
//
// Pure functions: no I/O, no clocks, no globals; all functions are thread-safe. Decoders never
// throw on bad input; they return a DecodeError naming what is wrong and the byte offset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/frame68.hpp"
#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::dlt645 {

enum class Version { v2007, v1997 };
std::string_view to_string(Version v);

// Six address bytes in wire order (A0 first).
using Address = std::array<std::uint8_t, 6>;

// "AAAAAAAAAAAA": the wildcard address a meter answers when asked for its own address (0x13).
inline constexpr Address kWildcardAddress = {0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA};
// "999999999999": the broadcast address of the time-sync command (DL/T 645-2007 §7.1).
inline constexpr Address kBroadcastAddress = {0x99, 0x99, 0x99, 0x99, 0x99, 0x99};

// 12 digits, most significant first, as on the nameplate ("000000000161"). Hex digits are
// accepted so that wildcard nibbles (A) can be written. Error: wrong length or non-hex digit.
Result<Address> parse_address(std::string_view digits);
std::string format_address(const Address& address);

// Control byte (DL/T 645-2007 §4.1.4): D7 direction (1 = meter's answer), D6 abnormal answer,
// D5 follow-up frame exists, D4..D0 function code.
namespace control {
inline constexpr std::uint8_t kDirectionBit = 0x80;
inline constexpr std::uint8_t kAbnormalBit = 0x40;
inline constexpr std::uint8_t kFollowUpBit = 0x20;
inline constexpr std::uint8_t kFunctionMask = 0x1F;
// DL/T 645-2007 function codes.
inline constexpr std::uint8_t kBroadcastTime = 0x08;
inline constexpr std::uint8_t kRead = 0x11;
inline constexpr std::uint8_t kReadFollowUp = 0x12;
inline constexpr std::uint8_t kReadAddress = 0x13;
inline constexpr std::uint8_t kWrite = 0x14;
inline constexpr std::uint8_t kRelayControl = 0x1C;
// DL/T 645-1997 function codes.
inline constexpr std::uint8_t kRead1997 = 0x01;
inline constexpr std::uint8_t kReadFollowUp1997 = 0x02;
inline constexpr std::uint8_t kWrite1997 = 0x04;
}  // namespace control

struct Frame {
  Address address{};
  std::uint8_t control = 0;
  std::vector<std::uint8_t> data;  // 0x33 already removed
  std::size_t preamble = 0;        // FE bytes in front of the first 68
  std::size_t data_offset = 0;     // offset of DATA in the input, for error messages

  bool is_response() const { return (control & control::kDirectionBit) != 0; }
  bool is_abnormal() const { return (control & control::kAbnormalBit) != 0; }
  bool has_follow_up() const { return (control & control::kFollowUpBit) != 0; }
  std::uint8_t function() const { return control & control::kFunctionMask; }
};

// Maximum DATA length: L is one byte. 2007 §4.1.5 limits reads to 200 bytes, but some meters
// send longer block answers, so the scanner accepts anything L can express.
inline constexpr std::size_t kHeaderSize = 10;  // 68 A0..A5 68 C L
inline constexpr std::size_t kMaxFrameSize = kHeaderSize + 255 + 2;

// Result of looking for one frame at the start of a receive buffer (the serial stream); the
// scan is the one CJ/T 188 shares (protocols/common/frame68).
using ScanResult = Frame68Scan;
inline constexpr Frame68Layout kFrameLayout{kHeaderSize, 9, 7};  // L at 9, the second 68 at 7

// Length-driven: the end of a frame is found from L, never by searching for 0x16, so a checksum
// byte of 0x16 is never taken as the end. Leading garbage before a 68 or FE is reported as an
// error with `skip` covering it, so a caller can count line noise.
inline ScanResult scan(std::span<const std::uint8_t> buffer) {
  return scan_frame68(buffer, kFrameLayout);
}

// Decodes exactly one frame (optional FE preamble, nothing after the 16). Errors: truncated,
// bad start/second 68, bad checksum, missing end 16, trailing bytes.
Result<Frame> decode_frame(std::span<const std::uint8_t> bytes);

// Builds a frame; `data` is given without the 0x33 offset. `preamble` FE bytes are put first
// (the standard's wake-up; four is customary). Data longer than 255 bytes is a programming error
// and is truncated to 255 bytes.
Bytes encode_frame(const Address& address, std::uint8_t control,
                   std::span<const std::uint8_t> data, std::size_t preamble = 4);

// ---- Data identifiers -------------------------------------------------------------------

enum class ValueFormat {
  number,     // BCD, `decimals` after the point, optionally signed (top bit of the MSB)
  date_week,  // YYMMDDWW
  time,       // hhmmss
  datetime,   // YYMMDDhhmmss (sent ss mm hh DD MM YY)
  digits,     // BCD digits shown as text (meter number, address)
  hex,        // raw bytes shown MSB first (status words, unknown DIs)
};

struct DiInfo {
  std::string name;             // "forward active energy total", "phase A voltage"
  std::string unit;             // "kWh", "V", "" for none
  ValueFormat format = ValueFormat::hex;
  std::uint8_t size = 0;        // bytes per value
  std::uint8_t decimals = 0;
  bool is_signed = false;
  std::uint8_t max_count = 1;   // >1 for block DIs (DI1 or DI0 = FF): several values in a row
};

// Looks a DI up in the built-in table (constexpr data in dlt645_di.cpp). 2007 DIs are 4 bytes
// (DI3 DI2 DI1 DI0 as a number, e.g. 0x00010000), 1997 DIs 2 bytes (e.g. 0x9010).
std::optional<DiInfo> lookup_di(Version version, std::uint32_t di);

// "00010000" for 2007, "9010" for 1997.
std::string format_di(Version version, std::uint32_t di);

struct Value {
  std::string raw;                // the BCD digits / hex as written, MSB first ("00000026")
  std::optional<double> number;   // number format: the scaled value; absent if not valid BCD
  std::optional<std::string> text;  // date/time as ISO 8601, digits, or hex
};

// Decodes the bytes after the DI. For a block DI the data is split into `size`-byte values.
// Unknown DIs decode as one raw hex value. Never fails: invalid BCD leaves `number` empty.
std::vector<Value> decode_values(const std::optional<DiInfo>& info,
                                 std::span<const std::uint8_t> data);

// ---- Messages ---------------------------------------------------------------------------

// Error word of an abnormal answer (DL/T 645-2007 §7.1 table "ERR"): bit n set => flag n.
std::vector<std::string> error_flags(std::uint8_t err);

// N1 of the remote-control command 1Ch (DL/T 645-2007 as amended for remote control: N1 = 1Ah
// trip, 1Bh close permitted — the customer closes the relay at the meter —, 1Ch direct close,
// 2Ah/2Bh alarm and its release, 3Ah/3Bh keep power and its release).
enum class RelayAction : std::uint8_t {
  trip = 0x1A,             // 跳闸
  close_permitted = 0x1B,  // 合闸允许
  direct_close = 0x1C,     // 直接合闸
  alarm = 0x2A,            // 报警
  alarm_release = 0x2B,    // 报警解除
  keep_power = 0x3A,       // 保电
  keep_power_release = 0x3B,
};
std::optional<std::string_view> relay_action_name(std::uint8_t n1);

// Meter run status word 3 (DI 04000503, DL/T 645-2007 appendix A): bit 4 relay state (1 =
// disconnected), bit 6 relay command state (1 = trip commanded), bit 7 pre-trip alarm. What a
// relay command achieved is read back from here: the answer to 1Ch only says it was accepted.
inline constexpr std::uint32_t kStatusWord3 = 0x04000503u;
struct RelayStatus {
  bool disconnected = false;    // the relay is open: no supply
  bool trip_commanded = false;  // the last command was a trip (its delay may still be running)
  bool pre_trip_alarm = false;
};
RelayStatus relay_status(std::uint16_t status_word3);

struct DateTime {
  int year = 2000, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  std::string iso8601() const;  // "2018-05-12T15:41:24"
};

// What a frame means, decoded from its control code and data.
struct Message {
  enum class Kind {
    read_request,          // 0x11/0x12 (2007), 0x01/0x02 (1997)
    read_response,         // 0x91/0xB1/0x92/0xB2, 0x81/0xA1/0x82/0xA2
    error_response,        // D6 set: 0xD1, 0xD2, 0xDC, 0xC1 ...
    read_address_request,  // 0x13
    read_address_response, // 0x93
    time_sync,             // 0x08
    relay_control,         // 0x1C
    relay_control_response,// 0x9C
    other,                 // any other function: data kept raw
  };
  Frame frame;
  Version version = Version::v2007;
  Kind kind = Kind::other;
  std::optional<std::uint32_t> di;
  std::optional<DiInfo> info;           // table entry of `di`, if known
  std::vector<Value> values;            // read_response
  bool length_mismatch = false;         // data length does not fit the table: values[0] is raw
  std::optional<std::uint8_t> seq;      // follow-up sequence number (2007 0x12/0x92)
  std::optional<std::uint8_t> error;    // error_response: ERR byte
  std::optional<Address> meter_address; // read_address_response
  std::optional<DateTime> time;         // time_sync
  // relay_control
  std::optional<std::uint8_t> relay_action;
  std::uint8_t password_level = 0;
  std::string password;                 // 6 digits
  std::string operator_code;            // 8 digits
  std::optional<DateTime> valid_until;
};

// 2007 vs 1997 is told by the function code (0x11 family vs 0x01 family, DL/T 645-1997 §4).
Version version_of(const Frame& frame);

// Decodes a frame and then its data. Errors name the byte offset in `bytes`.
Result<Message> decode(std::span<const std::uint8_t> bytes);

// The status word from a decoded read answer of kStatusWord3; nullopt when it is not one.
std::optional<std::uint16_t> status_word(const Message& m);

// ---- Request encoders (used by the bus driver) -------------------------------------------

Bytes encode_read(Version version, const Address& address, std::uint32_t di,
                  std::size_t preamble = 4);
// 2007: 0x12 with DI and the sequence number of the wanted follow-up frame; 1997: 0x02 + DI.
Bytes encode_read_follow_up(Version version, const Address& address, std::uint32_t di,
                            std::uint8_t seq, std::size_t preamble = 4);
// 0x13 to AAAAAAAAAAAA: only one meter may be on the line.
Bytes encode_read_address(std::size_t preamble = 4);
// 0x08 with ss mm hh DD MM YY; normally to kBroadcastAddress (meters do not answer).
Bytes encode_time_sync(const DateTime& time, const Address& address = kBroadcastAddress,
                       std::size_t preamble = 4);

struct RelayCommand {
  RelayAction action = RelayAction::trip;
  std::uint8_t password_level = 0x02;  // PA: 02 for remote-control passwords, 04 for others
  std::string password = "000000";     // P0..P2 as 6 digits
  std::string operator_code = "00000000";  // C0..C3 as 8 digits
  DateTime valid_until;                // N3..N8: the command expires at this time
};
// 0x1C (DL/T 645-2007 §7.5 as amended for remote control): PA P0P1P2 C0..C3 N1 N2 N3..N8.
// Error: password/operator not 6/8 hex digits.
Result<Bytes> encode_relay_control(const Address& address, const RelayCommand& command,
                                   std::size_t preamble = 4);

}  // namespace estate::protocols::dlt645
