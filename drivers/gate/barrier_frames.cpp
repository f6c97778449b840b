#include "drivers/gate/barrier_frames.hpp"

#include <cstdio>

#include "drivers/model_table.hpp"

namespace estate::drivers::gate {

namespace {

// One row per controller model. A model whose frames fit these columns needs no code.
constexpr std::array formats{
    // RS-485 controllers sharing a line, ASCII commands: STX addr 'O'/'C'/'S' BCC ETX; the
    // answer's command in lower case with the status byte, a refusal NAK with the status.
    ControllerFormat{"generic-485", "STX addr cmd BCC(xor) ETX; answer STX addr cmd|0x20 status BCC ETX",
                     {0x02, 0x00}, 1, true, 'O', 'C', 'S', 0x20, 0x15,
                     0x01, 0x02, 0x04, 0x08, FrameCheck::xor_bcc, 0x03},
    // Binary controllers with a two-byte header and a sum check, no end byte.
    ControllerFormat{"aa55-sum", "AA 55 addr cmd SUM8; answer AA 55 addr cmd|0x80 status SUM8",
                     {0xAA, 0x55}, 2, true, 0x01, 0x02, 0x10, 0x80, std::nullopt,
                     0x10, 0x01, 0x02, 0x40, FrameCheck::sum8, std::nullopt},
};

std::uint8_t check_of(FrameCheck c, std::span<const std::uint8_t> b) {
  std::uint8_t v = 0;
  for (auto x : b) v = c == FrameCheck::xor_bcc ? static_cast<std::uint8_t>(v ^ x)
                                                : static_cast<std::uint8_t>(v + x);
  return v;
}

std::size_t answer_length(const ControllerFormat& f) {
  return f.header_len + (f.address ? 1 : 0) + 2 + 1 + (f.end ? 1 : 0);
}

bool header_at(const ControllerFormat& f, std::span<const std::uint8_t> b, std::size_t i) {
  if (b[i] != f.header[0]) return false;
  return f.header_len < 2 || i + 1 >= b.size() || b[i + 1] == f.header[1];
}

std::string hex2(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

std::vector<std::uint8_t> frame(const ControllerFormat& f, int address, std::uint8_t command,
                                std::optional<std::uint8_t> status) {
  std::vector<std::uint8_t> out(f.header.begin(), f.header.begin() + static_cast<std::ptrdiff_t>(f.header_len));
  const std::size_t body = out.size();
  if (f.address) out.push_back(static_cast<std::uint8_t>(address));
  out.push_back(command);
  if (status) out.push_back(*status);
  out.push_back(check_of(f.check, std::span(out).subspan(body)));
  if (f.end) out.push_back(*f.end);
  return out;
}

}  // namespace

std::string_view to_string(ArmPosition p) {
  switch (p) {
    case ArmPosition::unknown: return "unknown";
    case ArmPosition::open: return "open";
    case ArmPosition::closed: return "closed";
    case ArmPosition::moving: return "moving";
  }
  return "unknown";
}

const ControllerFormat* find_controller_format(std::string_view model) {
  return find_model(formats, model, &ControllerFormat::model);
}

std::string known_controller_models() { return model_names(formats, &ControllerFormat::model); }

std::uint8_t command_code(const ControllerFormat& f, ControllerCommand c) {
  switch (c) {
    case ControllerCommand::open: return f.cmd_open;
    case ControllerCommand::close: return f.cmd_close;
    case ControllerCommand::status: return f.cmd_status;
  }
  return f.cmd_status;
}

std::vector<std::uint8_t> encode_request(const ControllerFormat& f, int address, ControllerCommand c) {
  return frame(f, address, command_code(f, c), std::nullopt);
}

std::vector<std::uint8_t> encode_answer(const ControllerFormat& f, int address, ControllerCommand c,
                                        const ControllerStatus& status, bool refused) {
  std::uint8_t bits = 0;
  if (status.loop_occupied) bits |= f.loop_bit;
  if (status.arm == ArmPosition::open) bits |= f.open_bit;
  if (status.arm == ArmPosition::closed) bits |= f.closed_bit;
  if (status.arm == ArmPosition::unknown) bits |= f.open_bit | f.closed_bit;
  if (status.fault) bits |= f.fault_bit;
  const std::uint8_t command = refused && f.nak ? *f.nak
                                                : static_cast<std::uint8_t>(command_code(f, c) | f.answer_flag);
  return frame(f, address, command, bits);
}

FrameScanner answer_scanner(const ControllerFormat& f) {
  return [&f](std::span<const std::uint8_t> b) {
    FrameScan r;
    std::size_t i = 0;
    while (i < b.size() && !header_at(f, b, i)) ++i;
    r.skip = i;  // line noise before the header
    const std::size_t n = answer_length(f);
    if (b.size() - i < n) return r;
    const auto fr = b.subspan(i, n);
    if (f.end && fr[n - 1] != *f.end) {
      r.status = FrameScan::Status::invalid;
      r.message = "expected the end byte " + hex2(*f.end) + ", got " + hex2(fr[n - 1]);
      return r;
    }
    const std::size_t check_at = n - 1 - (f.end ? 1 : 0);
    const auto want = check_of(f.check, fr.subspan(f.header_len, check_at - f.header_len));
    if (fr[check_at] != want) {
      r.status = FrameScan::Status::bad_checksum;
      r.message = "check byte " + hex2(fr[check_at]) + ", expected " + hex2(want);
      return r;
    }
    r.status = FrameScan::Status::complete;
    r.length = n;
    return r;
  };
}

std::optional<ControllerAnswer> decode_answer(const ControllerFormat& f, ControllerCommand c,
                                              std::span<const std::uint8_t> fr, std::string& error) {
  if (fr.size() != answer_length(f)) {
    error = "an answer is " + std::to_string(answer_length(f)) + " bytes, got " + std::to_string(fr.size());
    return std::nullopt;
  }
  ControllerAnswer a;
  std::size_t at = f.header_len;
  if (f.address) a.address = fr[at++];
  const std::uint8_t command = fr[at++];
  const std::uint8_t bits = fr[at];
  const std::uint8_t expected = static_cast<std::uint8_t>(command_code(f, c) | f.answer_flag);
  if (f.nak && command == *f.nak) {
    a.refused = true;
  } else if (command != expected) {
    error = "command byte " + hex2(command) + " does not answer " + hex2(command_code(f, c)) +
            " (expected " + hex2(expected) + ")";
    return std::nullopt;
  }
  a.status.loop_occupied = (bits & f.loop_bit) != 0;
  const bool up = (bits & f.open_bit) != 0;
  const bool down = (bits & f.closed_bit) != 0;
  a.status.arm = up && down ? ArmPosition::unknown
                 : up       ? ArmPosition::open
                 : down     ? ArmPosition::closed
                            : ArmPosition::moving;
  a.status.fault = f.fault_bit != 0 && (bits & f.fault_bit) != 0;
  return a;
}

}  // namespace estate::drivers::gate
