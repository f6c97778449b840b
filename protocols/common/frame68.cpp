#include "protocols/common/frame68.hpp"

#include <string>

#include "protocols/common/hex.hpp"

namespace estate::protocols {

namespace {
constexpr std::uint8_t kStart = 0x68;
constexpr std::uint8_t kEnd = 0x16;
constexpr std::uint8_t kWake = 0xFE;

Frame68Scan fail(std::size_t skip, std::string message, std::size_t offset) {
  Frame68Scan r;
  r.status = Frame68Scan::Status::error;
  r.skip = skip;
  r.error = DecodeError{std::move(message), offset};
  return r;
}
}  // namespace

std::uint8_t sum8(std::span<const std::uint8_t> bytes) {
  unsigned sum = 0;
  for (auto b : bytes) sum += b;
  return static_cast<std::uint8_t>(sum & 0xFF);
}

Frame68Scan scan_frame68(std::span<const std::uint8_t> buffer, const Frame68Layout& layout) {
  Frame68Scan r;
  std::size_t i = 0;
  while (i < buffer.size() && buffer[i] != kWake && buffer[i] != kStart) ++i;
  if (i > 0) return fail(i, "no frame start (68 or FE preamble)", 0);
  std::size_t head = 0;
  while (head < buffer.size() && buffer[head] == kWake) ++head;
  const std::size_t minimum = layout.header_size + 2;
  if (head == buffer.size()) {
    r.needed = head + minimum;
    return r;
  }
  if (buffer[head] != kStart) {
    // Drop the preamble; the next scan reports the stray byte.
    return fail(head, "expected 68 after FE preamble, got " + hex_byte(buffer[head]), head);
  }
  const std::size_t available = buffer.size() - head;
  if (layout.second_start_at && available > *layout.second_start_at &&
      buffer[head + *layout.second_start_at] != kStart) {
    // A wrong second 68 can be seen before the header is complete: fail early.
    const auto at = head + *layout.second_start_at;
    return fail(head + 1, "expected second 68, got " + hex_byte(buffer[at]), at);
  }
  if (available < layout.header_size) {
    r.needed = head + minimum;
    return r;
  }
  const std::size_t len = buffer[head + layout.length_at];
  const std::size_t total = layout.header_size + len + 2;
  if (available < total) {
    r.needed = head + total;
    return r;
  }
  const std::size_t cs_at = head + layout.header_size + len;
  const std::uint8_t cs = sum8(buffer.subspan(head, layout.header_size + len));
  if (buffer[cs_at] != cs) {
    return fail(head + 1, "bad checksum: expected " + hex_byte(cs) + ", got " + hex_byte(buffer[cs_at]),
                cs_at);
  }
  if (buffer[cs_at + 1] != kEnd) {
    return fail(head + 1,
                "expected end 16, got " + hex_byte(buffer[cs_at + 1]) + " (length byte says " +
                    std::to_string(len) + " data bytes)",
                cs_at + 1);
  }
  r.status = Frame68Scan::Status::complete;
  r.length = head + total;
  r.preamble = head;
  return r;
}

Result<Frame68Scan> whole_frame68(std::span<const std::uint8_t> bytes, const Frame68Layout& layout) {
  auto s = scan_frame68(bytes, layout);
  switch (s.status) {
    case Frame68Scan::Status::error:
      return s.error;
    case Frame68Scan::Status::need_more: {
      std::size_t head = 0;
      while (head < bytes.size() && bytes[head] == kWake) ++head;
      if (bytes.size() - head < layout.header_size) {
        return decode_error("truncated frame: " + std::to_string(bytes.size() - head) +
                                " bytes, a header needs " + std::to_string(layout.header_size),
                            bytes.size());
      }
      return decode_error("truncated frame: length byte says " +
                              std::to_string(bytes[head + layout.length_at]) +
                              " data bytes, frame needs " + std::to_string(s.needed) +
                              " bytes, got " + std::to_string(bytes.size()),
                          bytes.size());
    }
    case Frame68Scan::Status::complete:
      break;
  }
  if (s.length != bytes.size()) {
    return decode_error(std::to_string(bytes.size() - s.length) + " byte(s) after the end 16",
                        s.length);
  }
  return s;
}

}  // namespace estate::protocols
