// The stream scan shared by the 68h ... CS 16h meter protocols (DL/T 645, CJ/T 188): optional
// FEh wake-up bytes, a 68h, a fixed header whose last byte is the data length L, L data bytes,
// the modulo-256 sum of header and data, and 16h. Length-driven: the end is found from L, so a
// checksum or data byte of 16h is never taken for the end.
// Pure functions, thread-safe; never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "protocols/common/result.hpp"

namespace estate::protocols {

struct Frame68Layout {
  std::size_t header_size = 0;                 // from the 68h up to and including L
  std::size_t length_at = 0;                   // offset of L from the 68h
  std::optional<std::size_t> second_start_at;  // offset of a second 68h (DL/T 645: 7)
};

struct Frame68Scan {
  enum class Status {
    need_more,  // a frame may start here but more bytes are needed (see `needed`)
    complete,   // a whole frame: bytes [start, start + length) (length includes FE preamble)
    error,      // the bytes at `start` cannot begin a valid frame: drop `skip` bytes, rescan
  };
  Status status = Status::need_more;
  std::size_t start = 0;     // always 0: a frame (or its FE preamble) starts the buffer
  std::size_t length = 0;    // complete: frame size including the FE preamble
  std::size_t preamble = 0;  // complete: FE bytes before the 68h
  std::size_t needed = 0;    // need_more: total bytes known to be required so far
  std::size_t skip = 0;      // error: bytes to discard before scanning again (always >= 1)
  DecodeError error;         // error: what was wrong and where (offset into the buffer)
};

// Looks for one frame at the start of `buffer`. Leading bytes that are neither FEh nor 68h
// are an error whose `skip` covers them, so a caller can count line noise.
Frame68Scan scan_frame68(std::span<const std::uint8_t> buffer, const Frame68Layout& layout);

// Exactly one frame in `bytes` (FE preamble allowed, nothing after the 16): its complete scan,
// or the error a decoder reports (a scan error; truncated, saying what the header or the length
// byte asks for; bytes after the end 16).
Result<Frame68Scan> whole_frame68(std::span<const std::uint8_t> bytes, const Frame68Layout& layout);

// Modulo-256 sum of `bytes` (the checksum of these protocols).
std::uint8_t sum8(std::span<const std::uint8_t> bytes);

}  // namespace estate::protocols
