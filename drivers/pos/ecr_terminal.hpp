// A bank-card POS terminal on the ECR link (protocols/pos/ecr.hpp), over TCP or a serial line:
// sale, query, void and settlement, each a request/response exchange with ACK/NAK and retries.
//
// Blocking by design: the payment service owns one worker thread per terminal (a POS does one
// transaction at a time) and calls these from it. Every read and write has a deadline.
// Answers are matched on the reference (RF): a late answer to an earlier request is dropped.
// Thread-safety: one thread at a time per EcrTerminal.
#pragma once

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "drivers/pos/blocking_link.hpp"
#include "protocols/pos/ecr.hpp"

namespace estate::drivers::pos {

using drivers::BlockingLink;

struct Timing {
  milliseconds ack_timeout{2000};       // for the terminal's ACK/NAK of our frame
  milliseconds response_timeout{60000}; // for the answer (the card holder is at the keypad)
  int retries = 3;                      // sends of one frame, and NAKs of a bad answer
};

struct Answer {
  // approved / declined: the terminal answered with "00" or a known decline code
  // (protocols::pos::classify_result). not_found: query of a reference it never processed.
  // unknown: no usable answer (the request may or may not have reached it), "IP", or a result
  // code that is neither a known approval nor a known decline (fail closed: asked again).
  // amount_fen: AM, or -1 when the answer carries none (an approval without one is not taken).
  enum class Outcome { approved, declined, not_found, unknown } outcome = Outcome::unknown;
  std::string code;        // RC
  std::int64_t amount_fen = 0;
  std::string auth_code;   // AU
  std::string rrn;         // RR
  std::string card;        // CN, masked on arrival (first 6 / last 4 digits at most)
  std::string message;     // MS, or what went wrong on the link
  bool delivered = false;  // the terminal acknowledged the request frame
};

struct SettlementAnswer {
  bool ok = false;
  std::int64_t count = 0;
  std::int64_t total_fen = 0;
  std::string message;
};

std::string_view to_string(Answer::Outcome o);

class EcrTerminal {
 public:
  EcrTerminal(std::unique_ptr<BlockingLink> link, const protocols::pos::FrameFormat& format, Timing timing);

  Answer sale(const std::string& ref, std::int64_t amount_fen);
  Answer query(const std::string& ref);
  Answer void_sale(const std::string& ref, std::int64_t amount_fen);
  SettlementAnswer settle();

 private:
  // Sends `req` until ACKed, then waits for a response of `type` (and RF == ref when given).
  std::optional<protocols::pos::Message> transact(const protocols::pos::Message& req,
                                                  std::string_view type,
                                                  const std::string& ref, Answer& info);
  Answer to_answer(const std::optional<protocols::pos::Message>& m, Answer info);

  std::unique_ptr<BlockingLink> link_;
  protocols::pos::FrameFormat format_;
  Timing timing_;
  std::vector<std::uint8_t> rx_;
};

}  // namespace estate::drivers::pos
