// Serial (RS-485) barrier controller frames, one table row per controller model
// (barrier_frames.cpp). The gateway is the master: it sends a command (open, close, status)
// to a controller's address and every command is answered with the controller's status byte:
// the vehicle presence loop, the arm's position and a fault flag. Adding a model that differs
// only in its frame layout, command codes or status bits is one row; its captured frames go in
// tests/unit/drivers/gate/serial_barrier_test.cpp.
//
// Layouts the table can describe (fixed length, no data but the answer's status byte):
//   request   header(1..2 bytes) [addr] command check [end]
//   answer    header(1..2 bytes) [addr] command|answer_flag status check [end]
//   refusal   header [addr] nak status check [end]      (models with a NAK code)
// The check covers the bytes after the header up to the check byte.
// Thread-safety: pure functions over immutable tables; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/transports/link.hpp"

namespace estate::drivers::gate {

enum class ControllerCommand { open, close, status };
enum class FrameCheck { xor_bcc, sum8 };

struct ControllerFormat {
  std::string_view model;
  std::string_view description;
  std::array<std::uint8_t, 2> header{};
  std::size_t header_len = 1;
  bool address = true;                 // one address byte (controllers sharing a line)
  std::uint8_t cmd_open = 0, cmd_close = 0, cmd_status = 0;
  std::uint8_t answer_flag = 0;        // the answer's command byte is the request's | this
  std::optional<std::uint8_t> nak;     // command byte of a refusal, if the model has one
  std::uint8_t loop_bit = 0;           // status bits: a vehicle on the presence loop,
  std::uint8_t open_bit = 0;           //   the arm up (open),
  std::uint8_t closed_bit = 0;         //   the arm down (closed),
  std::uint8_t fault_bit = 0;          //   a fault (motor, limit switch); 0: not reported
  FrameCheck check = FrameCheck::xor_bcc;
  std::optional<std::uint8_t> end;
};

enum class ArmPosition { unknown, open, closed, moving };
std::string_view to_string(ArmPosition p);

struct ControllerStatus {
  bool loop_occupied = true;  // fail safe: unknown counts as occupied
  ArmPosition arm = ArmPosition::unknown;
  bool fault = false;
};

struct ControllerAnswer {
  int address = -1;           // -1 when the format carries none
  bool refused = false;       // a NAK: the controller did not carry out the command
  ControllerStatus status;
};

// The model table; nullptr for an unknown model.
const ControllerFormat* find_controller_format(std::string_view model);
// "generic-485, aa55-sum": for error messages.
std::string known_controller_models();
inline constexpr std::string_view default_controller_model = "generic-485";

std::uint8_t command_code(const ControllerFormat& f, ControllerCommand c);

// The request frame for `c` to the controller at `address` (ignored by formats without one).
std::vector<std::uint8_t> encode_request(const ControllerFormat& f, int address, ControllerCommand c);

// Frame scanner for Link::transact: leading bytes that cannot start a frame are skipped; a frame
// whose check byte is wrong is bad_checksum; a header followed by bytes that break the layout
// (wrong end byte) is invalid.
FrameScanner answer_scanner(const ControllerFormat& f);

// Decodes a complete answer to `c`. nullopt and `error` when it is not an answer to it (another
// command byte). The address is returned for the caller to check.
std::optional<ControllerAnswer> decode_answer(const ControllerFormat& f, ControllerCommand c,
                                              std::span<const std::uint8_t> frame,
                                              std::string& error);

// Encoders for simulators and tests: an answer (or a refusal) carrying `status`.
std::vector<std::uint8_t> encode_answer(const ControllerFormat& f, int address, ControllerCommand c,
                                        const ControllerStatus& status, bool refused = false);

}  // namespace estate::drivers::gate
