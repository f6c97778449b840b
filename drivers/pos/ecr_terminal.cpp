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

}  // namespace

std::string_view to_string(Answer::Outcome o) {
  switch (o) {
    case Answer::Outcome::approved: return "approved";
    case Answer::Outcome::declined: return "declined";
    case Answer::Outcome::not_found: return "not_found";
    case Answer::Outcome::unknown: return "unknown";
  }
  return "unknown";
}

EcrTerminal::EcrTerminal(std::unique_ptr<BlockingLink> link, const ecr::FrameFormat& format, Timing timing)
    : link_(std::move(link)), format_(format), timing_(timing) {}

std::optional<ecr::Message> EcrTerminal::transact(const ecr::Message& req, std::string_view type,
                                                  const std::string& ref, Answer& info) {
  auto frame = ecr::encode(format_, req);
  if (!frame) {
    info.message = "cannot encode request: " + frame.error().describe();
    return std::nullopt;
  }
  rx_.clear();  // what arrived before this request belongs to no one we wait for now
  // 1. Send until ACKed.
  bool acked = false;
  for (int attempt = 0; attempt < timing_.retries && !acked; ++attempt) {
    if (auto ec = link_->write(*frame, timing_.ack_timeout)) {
      info.message = "link: " + ec.message();
      continue;
    }
    auto deadline = std::chrono::steady_clock::now() + timing_.ack_timeout;
    bool answered = false;
    while (!answered) {
      auto scan = ecr::scan(format_, rx_);
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
    auto scan = ecr::scan(format_, rx_);
    if (scan.kind == ecr::Scan::frame) {
      std::span<const std::uint8_t> bytes(rx_.data(), scan.size);
      auto msg = ecr::decode(format_, bytes);
      rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(scan.size));
      if (!msg) {
        spdlog::warn("pos: bad frame from the terminal: {}", msg.error().describe());
        std::uint8_t nak = format_.nak;
        (void)link_->write(std::span(&nak, 1), timing_.ack_timeout);
        if (++naks >= timing_.retries) {
          info.message = "answer damaged " + std::to_string(naks) + " times";
          return std::nullopt;
        }
        continue;
      }
      std::uint8_t ack = format_.ack;
      (void)link_->write(std::span(&ack, 1), timing_.ack_timeout);
      if (msg->type != type || (!ref.empty() && msg->get("RF") != ref)) {
        spdlog::info("pos: dropped a stale {} answer", msg->type);
        continue;
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

Answer EcrTerminal::to_answer(const std::optional<ecr::Message>& m, Answer info) {
  if (!m) {
    info.outcome = Answer::Outcome::unknown;
    return info;
  }
  info.code = m->get("RC").value_or("");
  info.amount_fen = parse_fen(m->get("AM"));
  info.auth_code = m->get("AU").value_or("");
  info.rrn = m->get("RR").value_or("");
  // Masked here, as it arrives: nothing after this point (journal, outbox, receipt, API, logs)
  // ever holds more of a card number than its first 6 and last 4 digits.
  info.card = ecr::mask_card_number(m->get("CN").value_or(""));
  info.message = ecr::mask_card_numbers_in_text(m->get("MS").value_or(""));
  switch (ecr::classify_result(info.code)) {
    case ecr::ResultClass::approved: info.outcome = Answer::Outcome::approved; break;
    case ecr::ResultClass::declined: info.outcome = Answer::Outcome::declined; break;
    case ecr::ResultClass::not_found: info.outcome = Answer::Outcome::not_found; break;
    case ecr::ResultClass::unknown:
      info.outcome = Answer::Outcome::unknown;
      if (info.code != ecr::rc_in_progress) {
        info.message = "result code '" + info.code.substr(0, 8) + "' is not a known approval or " +
                       "decline" + (info.message.empty() ? "" : ": " + info.message);
      }
      break;
  }
  return info;
}

Answer EcrTerminal::sale(const std::string& ref, std::int64_t amount_fen) {
  ecr::Message req{std::string(ecr::sale_request), {}};
  req.set("RF", ref).set("AM", std::to_string(amount_fen));
  Answer info;
  auto m = transact(req, ecr::sale_response, ref, info);
  return to_answer(m, info);
}

Answer EcrTerminal::query(const std::string& ref) {
  ecr::Message req{std::string(ecr::query_request), {}};
  req.set("RF", ref);
  Answer info;
  auto m = transact(req, ecr::query_response, ref, info);
  return to_answer(m, info);
}

Answer EcrTerminal::void_sale(const std::string& ref, std::int64_t amount_fen) {
  ecr::Message req{std::string(ecr::void_request), {}};
  req.set("RF", ref).set("AM", std::to_string(amount_fen));
  Answer info;
  auto m = transact(req, ecr::void_response, ref, info);
  return to_answer(m, info);
}

SettlementAnswer EcrTerminal::settle() {
  ecr::Message req{std::string(ecr::settle_request), {}};
  Answer info;
  auto m = transact(req, ecr::settle_response, "", info);
  SettlementAnswer out;
  if (!m) {
    out.message = info.message;
    return out;
  }
  out.ok = m->get("RC") == ecr::rc_approved;
  out.count = parse_fen(m->get("CT"));
  out.total_fen = parse_fen(m->get("TT"));
  out.message = m->get("MS").value_or("");
  return out;
}

}  // namespace estate::drivers::pos
