// M-Bus link layer (EN 13757-2 §5, FT 1.2 frame format): recognising frames in a byte stream,
// parsing a complete frame, and encoding the master's requests.
//
// scan_frame() is a length-driven state machine a driver calls on its receive buffer after
// every read: it says "need N more bytes", "complete frame of L bytes" or "error at byte K",
// without ever trusting a 0x16 byte as the end of a frame. parse_frame() takes exactly one
// complete frame. The encoders return the bytes to write to the bus.
//
// Thread-safety: pure functions over caller-owned buffers; safe from any thread.
// Errors: DecodeError values (never exceptions) naming the fault and its byte offset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::mbus {

inline constexpr std::uint8_t kAck = 0xE5;           // single character acknowledgement
inline constexpr std::uint8_t kShortStart = 0x10;
inline constexpr std::uint8_t kLongStart = 0x68;
inline constexpr std::uint8_t kStop = 0x16;

// Primary addresses with a special meaning (EN 13757-2 §5.4).
inline constexpr std::uint8_t kAddressNetworkLayer = 0xFD;   // talk to the selected slave
inline constexpr std::uint8_t kAddressBroadcastReply = 0xFE; // every slave answers
inline constexpr std::uint8_t kAddressBroadcast = 0xFF;      // no slave answers

// C-field values (EN 13757-2 §5.3). REQ_UD*/SND_UD carry the FCB in bit 5 (0x20), FCV in 0x10.
inline constexpr std::uint8_t kControlSndNke = 0x40;
inline constexpr std::uint8_t kControlSndUd = 0x53;
inline constexpr std::uint8_t kControlReqUd2 = 0x5B;
inline constexpr std::uint8_t kControlReqUd1 = 0x5A;
inline constexpr std::uint8_t kControlFcb = 0x20;
inline constexpr std::uint8_t kControlRspUd = 0x08;

// CI-field values used by the master (EN 13757-3 Table 2).
inline constexpr std::uint8_t kCiApplicationReset = 0x50;
inline constexpr std::uint8_t kCiSelectSecondary = 0x52;

enum class FrameKind {
  ack,      // E5
  short_,   // 10 C A CS 16
  control,  // 68 03 03 68 C A CI CS 16 (long frame without user data)
  long_,    // 68 L L 68 C A CI data CS 16
};

std::string_view to_string(FrameKind kind);

struct Frame {
  FrameKind kind = FrameKind::ack;
  std::uint8_t control = 0;      // C field (not for ack)
  std::uint8_t address = 0;      // A field (not for ack)
  std::uint8_t ci = 0;           // CI field (control and long frames)
  std::span<const std::uint8_t> data;  // user data after CI; views the buffer given to parse_frame
  std::size_t data_offset = 0;   // offset of data[0] in that buffer (for error offsets)
};

struct FrameScan {
  enum class Status { complete, need_more, error };
  Status status = Status::need_more;
  // complete: the frame's length in bytes (it starts at buffer[0]).
  // need_more: the least number of further bytes needed before scanning again.
  std::size_t length = 0;
  DecodeError error;  // error: what is wrong and where; the driver drops byte 0 and rescans
};

// Looks at the start of `buffer` (the first byte must be a frame's first byte). Never reads
// beyond buffer.size(). Checks start bytes, the repeated L field, checksum and stop byte.
FrameScan scan_frame(std::span<const std::uint8_t> buffer);

// Parses exactly one complete frame; trailing bytes, truncation, a bad L field, checksum or
// stop byte are errors with the offset of the offending byte.
Result<Frame> parse_frame(std::span<const std::uint8_t> bytes);

// --- Request encoders (master -> slave) ---

// SND_NKE: link reset of the slave at `address` (10 40 A CS 16). The slave answers E5.
Bytes encode_snd_nke(std::uint8_t address);

// REQ_UD2: request class 2 data (10 5B|FCB A CS 16). Toggle `fcb` for each new request to the
// same slave; repeat the same value when retrying after a timeout (EN 13757-2 §5.5).
Bytes encode_req_ud2(std::uint8_t address, bool fcb);

// REQ_UD1: request class 1 (alarm) data.
Bytes encode_req_ud1(std::uint8_t address, bool fcb);

// SND_UD with CI 50: application reset, with an optional subcode byte (EN 13757-3 §6.5.2).
Bytes encode_application_reset(std::uint8_t address, std::optional<std::uint8_t> subcode = {},
                               bool fcb = false);

// SND_UD with arbitrary CI and user data (e.g. a set-baud-rate or data-send request).
Bytes encode_snd_ud(std::uint8_t address, std::uint8_t ci, std::span<const std::uint8_t> data,
                    bool fcb = false);

// Secondary address for selection (EN 13757-3 §6.6 / EN 13757-2 §5.7.3): identification number
// as 8 BCD digits where any digit may be the wildcard F, manufacturer (FFFF = any), version
// (FF = any) and medium (FF = any). Stored in wire order-independent form.
struct SecondaryAddress {
  std::array<std::uint8_t, 8> id_digits{};  // most significant first; 0x0..0x9 or 0xF wildcard
  std::uint16_t manufacturer = 0xFFFF;
  std::uint8_t version = 0xFF;
  std::uint8_t medium = 0xFF;
};

// Parses the 16-hex-digit form technicians use (as libmbus and mbus tools print it):
// IIIIIIII MMMM VV TT, e.g. "12345678A7320704", "1234FFFFFFFFFFFF". The manufacturer may also
// be given as three letters: "12345678LUG0704". Errors name the character offset.
Result<SecondaryAddress> parse_secondary_address(std::string_view text);

// SND_UD to address FD with CI 52 and the 8-byte selection (68 0B 0B 68 53 FD 52 ...). The
// selected slave answers E5; afterwards REQ_UD2 to address FD reads it.
Bytes encode_select_secondary(const SecondaryAddress& address, bool fcb = false);

}  // namespace estate::protocols::mbus
