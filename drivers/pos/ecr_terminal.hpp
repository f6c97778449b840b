// A bank-card POS terminal on a serial ECR link (protocols/pos/ecr.hpp: one table row per vendor
// protocol), over a serial line or TCP (a serial server): sale, query and void, each a
// request/answer exchange with ACK/NAK and the row's retries.
//
// Blocking by design: the payment service owns one worker thread per terminal (a POS does one
// transaction at a time) and calls these from it. Every read and write has a deadline.
// The gateway's reference of a payment travels as the terminal's ticket (ticket_for); an answer
// carrying another ticket is a late answer to an earlier request and is dropped.
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
  int sends = 3;                        // sends of one frame, and NAKs of a damaged answer
};
// The row's defaults (ack timeout, sends), with the answer's deadline.
Timing timing_of(const protocols::pos::Protocol& p, milliseconds response_timeout);

struct Answer {
  // approved / declined: the result code is the protocol's approval or a documented decline.
  // not_found: the terminal shows it never took this payment (query only).
  // unknown: no usable answer (the request may or may not have reached it), or a result code
  // that is neither a documented approval nor a documented decline (fail closed: asked again,
  // and the journal's unknown state is where a person looks).
  // amount_fen: the answer's amount, or -1 when it carries none (an approval without one is
  // not taken).
  enum class Outcome { approved, declined, not_found, unknown } outcome = Outcome::unknown;
  std::string code;        // the result code as sent
  std::int64_t amount_fen = 0;
  std::string auth_code;
  std::string rrn;         // the terminal's reference of the transaction (what a void names)
  std::string card;        // masked on arrival (first 6 / last 4 digits at most)
  std::string message;     // the code's meaning, or what went wrong on the link
  bool delivered = false;  // the terminal acknowledged the request frame
};

std::string_view to_string(Answer::Outcome o);

class EcrTerminal {
 public:
  EcrTerminal(std::unique_ptr<BlockingLink> link, const protocols::pos::Protocol& protocol, Timing timing);

  Answer sale(const std::string& ref, std::int64_t amount_fen);
  // What the terminal holds of the sale `ref` (QueryKind::last_sale: its last sale, matched by
  // ticket; a last sale of an earlier gateway ticket means this one never reached its memory).
  Answer query(const std::string& ref);
  // Voids the sale the terminal knows as `terminal_ref` (Answer::rrn of its approval).
  Answer void_sale(const std::string& ref, std::int64_t amount_fen, const std::string& terminal_ref);

  const protocols::pos::Protocol& protocol() const { return protocol_; }

 private:
  // Sends `req` until ACKed, then waits for an answer `command` (with `ticket` when the answer
  // carries one and `ticket` is not empty). Intermediate status answers of a sale are
  // acknowledged and waited past.
  std::optional<protocols::pos::Message> transact(const protocols::pos::Message& req,
                                                  std::string_view command,
                                                  const std::string& ticket,
                                                  protocols::pos::Use use, Answer& info);
  Answer to_answer(const protocols::pos::Message& m, protocols::pos::Use use, Answer info) const;
  void send_control(std::uint8_t byte);

  std::unique_ptr<BlockingLink> link_;
  const protocols::pos::Protocol& protocol_;
  Timing timing_;
  std::vector<std::uint8_t> rx_;
};

}  // namespace estate::drivers::pos
