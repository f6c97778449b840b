#include "drivers/pos/ecr_terminal.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/error.hpp>

namespace estate::drivers::pos {

namespace asio = boost::asio;
using boost::system::error_code;
namespace ecr = protocols::pos;

namespace {

std::int64_t parse_fen(const std::optional<std::string>& s) {
  if (!s || s->empty() || s->size() > 12) return -1;
  std::int64_t v = 0;
  for (char c : *s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string padded(std::int64_t v, std::size_t width) {
  auto s = std::to_string(v);
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

}  // namespace

Timing timing_of(const ecr::Protocol& p, milliseconds response_timeout) {
  Timing t;
  t.ack_timeout = milliseconds(p.ack_timeout_ms);
  t.response_timeout = response_timeout;
  t.sends = p.sends;
  return t;
}

std::string_view to_string(Answer::Outcome o) {
  switch (o) {
    case Answer::Outcome::approved: return "approved";
    case Answer::Outcome::declined: return "declined";
    case Answer::Outcome::not_found: return "not_found";
    case Answer::Outcome::unknown: return "unknown";
  }
  return "unknown";
}

EcrTerminal::EcrTerminal(std::unique_ptr<BlockingLink> link, const ecr::Protocol& protocol, Timing timing)
    : link_(std::move(link)), protocol_(protocol), timing_(timing) {
  if (timing_.sends < 1) timing_.sends = 1;
}

void EcrTerminal::send_control(std::uint8_t byte) {
  (void)link_->write(std::span(&byte, 1), timing_.ack_timeout);
}

std::optional<ecr::Message> EcrTerminal::transact(const ecr::Message& req, std::string_view command,
                                                  const std::string& ticket, ecr::Use use,
                                                  Answer& info) {
  auto frame = ecr::encode(protocol_, req);
  if (!frame) {
    info.message = "cannot encode request: " + frame.error().describe();
    return std::nullopt;
  }
  rx_.clear();  // what arrived before this request belongs to no one we wait for now
  // 1. Send until ACKed: a NAK or silence sends it again, `sends` times in all.
  bool acked = false;
  for (int attempt = 0; attempt < timing_.sends && !acked; ++attempt) {
    if (auto ec = link_->write(*frame, timing_.ack_timeout)) {
      info.message = "link: " + ec.message();
      continue;
    }
    auto deadline = std::chrono::steady_clock::now() + timing_.ack_timeout;
    bool answered = false;
    while (!answered) {
      auto scan = ecr::scan(protocol_, rx_);
      if (scan.kind == ecr::Scan::ack) {
        rx_.erase(rx_.begin(), rx_.begin() + 1);
        acked = answered = true;
      } else if (scan.kind == ecr::Scan::nak) {
        rx_.erase(rx_.begin(), rx_.begin() + 1);
        info.message = "terminal sent NAK";
        answered = true;
      } else if (scan.kind == ecr::Scan::garbage || scan.kind == ecr::Scan::frame) {
        // A frame before our ACK is a stale answer; drop it.
        rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(scan.size));
      } else {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left <= milliseconds(0)) {
          info.message = "no ACK from the terminal";
          break;
        }
        if (auto ec = link_->read_some(rx_, left); ec && ec != asio::error::timed_out) {
          info.message = "link: " + ec.message();
          break;
        }
      }
    }
  }
  if (!acked) return std::nullopt;
  info.delivered = true;
  // 2. Wait for the answer; NAK a damaged one so the terminal repeats it.
  auto deadline = std::chrono::steady_clock::now() + timing_.response_timeout;
  int naks = 0;
  for (;;) {
    auto scan = ecr::scan(protocol_, rx_);
    if (scan.kind == ecr::Scan::frame) {
      std::span<const std::uint8_t> bytes(rx_.data(), scan.size);
      auto msg = ecr::decode(protocol_, bytes);
      rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(scan.size));
      if (!msg) {
        spdlog::warn("pos: bad frame from the terminal: {}", msg.error().describe());
        send_control(protocol_.nak);
        if (++naks >= timing_.sends) {
          info.message = "answer damaged " + std::to_string(naks) + " times";
          return std::nullopt;
        }
        continue;
      }
      send_control(protocol_.ack);
      if (!protocol_.progress_response.empty() && msg->command == protocol_.progress_response) continue;
      if (msg->command != command) {
        spdlog::info("pos: dropped a stale {} answer", msg->command.substr(0, 8));
        continue;
      }
      auto t = msg->get("ticket");
      if (!ticket.empty() && t && *t != ticket) {
        spdlog::info("pos: dropped an answer for ticket {}", t->substr(0, 8));
        continue;
      }
      if (ecr::classify(protocol_, use, msg->get("code").value_or("")) == ecr::ResultClass::in_progress) {
        continue;  // the terminal says what it is doing; the answer follows
      }
      return std::move(*msg);
    }
    if (scan.kind != ecr::Scan::need_more) {
      rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(scan.size));
      continue;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= milliseconds(0)) {
      info.message = "no answer from the terminal";
      return std::nullopt;
    }
    if (auto ec = link_->read_some(rx_, left); ec && ec != asio::error::timed_out) {
      info.message = "link: " + ec.message();
      return std::nullopt;
    }
  }
}

Answer EcrTerminal::to_answer(const ecr::Message& m, ecr::Use use, Answer info) const {
  info.code = m.get("code").value_or("");
  info.amount_fen = parse_fen(m.get("amount"));
  info.auth_code = m.get("auth").value_or("");
  info.rrn = m.get("operation").value_or("");
  auto last4 = m.get("last4").value_or("");
  // Masked here, as it arrives: nothing after this point (journal, outbox, receipt, API, logs)
  // ever holds more of a card number than its first 6 and last 4 digits.
  info.card = last4.empty() ? "" : ecr::mask_card_number("****" + last4);
  const auto* meaning = ecr::find_code(protocol_, info.code);
  info.message = meaning ? std::string(meaning->meaning) : "";
  switch (ecr::classify(protocol_, use, info.code)) {
    case ecr::ResultClass::approved: info.outcome = Answer::Outcome::approved; break;
    case ecr::ResultClass::declined: info.outcome = Answer::Outcome::declined; break;
    case ecr::ResultClass::not_found: info.outcome = Answer::Outcome::not_found; break;
    case ecr::ResultClass::in_progress:
    case ecr::ResultClass::unknown:
      info.outcome = Answer::Outcome::unknown;
      info.message = "result code '" + ecr::mask_card_numbers_in_text(info.code.substr(0, 8)) +
                     "' is not a documented approval or decline" +
                     (info.message.empty() ? "" : " here (" + info.message + ")");
      break;
  }
  return info;
}

Answer EcrTerminal::sale(const std::string& ref, std::int64_t amount_fen) {
  Answer info;
  auto ticket = ecr::ticket_for(protocol_, ref);
  if (!ticket) {
    info.message = "reference '" + ref + "' gives no ticket";
    return info;  // unknown, nothing sent
  }
  ecr::Message req{std::string(protocol_.sale_request), {}};
  req.set("amount", padded(amount_fen, 9)).set("ticket", *ticket).set("send_status", "0");
  auto m = transact(req, protocol_.sale_response, *ticket, ecr::Use::sale, info);
  if (!m) return info;
  return to_answer(*m, ecr::Use::sale, info);
}

Answer EcrTerminal::query(const std::string& ref) {
  Answer info;
  auto ticket = ecr::ticket_for(protocol_, ref);
  if (!ticket) {
    info.message = "reference '" + ref + "' gives no ticket";
    return info;
  }
  ecr::Message req{std::string(protocol_.query_request), {}};
  auto m = transact(req, protocol_.query_response, "", ecr::Use::query, info);
  if (!m) return info;
  auto a = to_answer(*m, ecr::Use::query, info);
  if (a.outcome != Answer::Outcome::approved) return a;  // not_found (no sale at all) or unknown
  auto last = m->get("ticket").value_or("");
  if (last == *ticket) return a;
  Answer other = info;
  other.code = a.code;
  if (ecr::ticket_after(protocol_, *ticket, last)) {
    // The gateway sends one sale at a time, in ticket order: a last sale older than this
    // payment's ticket means this one never became a sale in the terminal's memory.
    other.outcome = Answer::Outcome::not_found;
    other.message = "the terminal's last sale is the earlier ticket " + last;
  } else {
    other.outcome = Answer::Outcome::unknown;
    other.message = "the terminal's last sale is ticket " + ecr::mask_card_numbers_in_text(last.substr(0, 8)) +
                    ", not " + *ticket + ": check this payment at the terminal";
  }
  return other;
}

Answer EcrTerminal::void_sale(const std::string& ref, std::int64_t, const std::string& terminal_ref) {
  Answer info;
  ecr::Message req{std::string(protocol_.void_request), {}};
  if (terminal_ref.empty()) {
    info.message = "no terminal operation number to void " + ref;
    return info;
  }
  req.set("operation", terminal_ref);
  auto m = transact(req, protocol_.void_response, "", ecr::Use::void_, info);
  if (!m) return info;
  auto a = to_answer(*m, ecr::Use::void_, info);
  // An approval of another operation than the one asked about is not this void.
  auto op = parse_fen(m->get("operation"));
  if (a.outcome == Answer::Outcome::approved && op >= 0 && op != parse_fen(terminal_ref)) {
    a.outcome = Answer::Outcome::unknown;
    a.message = "the void answer names operation " + std::to_string(op) + ", not " + terminal_ref;
  }
  return a;
}

}  // namespace estate::drivers::pos
