// The payment journal: one row per payment (table `payments`, schema area "payments"), moving
// through explicit states, each transition durable (Store::write_sync) before the next step:
//
//   intent -> authorising -> approved | declined | unknown
//   unknown -> approved | declined            (resolved with the terminal: query or reversal)
//   approved -> receipt_printed -> uploaded   (uploaded: the broker acknowledged its record)
//   approved -> declined                      (not credited: a parking payment the car park
//                                              refused, voided at the terminal)
//
// intent is written before the terminal hears of the payment, authorising before the sale is
// sent, so after a crash a row in intent was never sent (abandoned) and a row in authorising or
// unknown is asked about. The approval, its outbox record (stream "transactions") and the
// state change commit in one transaction. Crediting the room (`applied`) is a separate,
// idempotent step recorded on the row. Amounts are integer fen. Every state change is an audit
// entry (money.payment / money.reversal) committed with it.
//
// QR payment-code payments (method wechat / alipay, daemon/kiosk/payment_code.hpp) go through
// the same states; the platform charges them with its acquirer instead of the terminal:
// authorising commits with the charge request (stream "payment-requests", the only place the
// payer's code is written), the platform's answer (cmd/qr-result) moves the row to approved,
// declined or unknown, and an unknown one is asked about with a query record (ask_qr).
// Thread-safety: all members may be called from any thread except the store's writer.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/kiosk/accounts.hpp"
#include "daemon/store/store.hpp"

namespace estate::kiosk {

enum class State { intent, authorising, approved, declined, unknown, receipt_printed, uploaded };
std::string_view to_string(State s);
std::optional<State> parse_state(std::string_view s);

struct Payment {
  std::string id;
  std::string room;
  std::string kind;    // pay | topup | parking (room: "parking-<session id>")
  std::string method;  // card
  Fen amount_fen = 0;
  State state = State::intent;
  std::string source;  // the kiosk's token name, or "pos"
  std::string created_at, updated_at;
  std::string result_code, auth_code, rrn, card, message;
  bool applied = false;
  Fen settled_fen = 0, topped_up_fen = 0, balance_after_fen = 0;
  std::vector<std::pair<std::string, Fen>> allocations;
  std::optional<std::int64_t> outbox_seq;
  int receipt_attempts = 0;
  std::string receipt_error;
  std::string uploaded_at;

  nlohmann::json to_json() const;
};

// The terminal's word on a payment, as the journal records it.
struct TerminalResult {
  std::string code, auth_code, rrn, card, message;
};

class Journal {
 public:
  // Reads the payment high-water file; std::runtime_error naming it when it is unreadable.
  Journal(store::Store& store, std::string gateway_id, int utc_offset_minutes);

  // A new payment in state intent; its id is "<gateway>-pay-<n>". std::invalid_argument on
  // amount <= 0. n is above every n this state directory issued, even after a restore brought
  // back an older store: the journal keeps <state_dir>/payment-seq.highwater (a reservation of
  // n ahead, written durably before an n above it is issued) and starts above it.
  Payment create(const std::string& room, const std::string& kind, const std::string& method,
                 Fen amount_fen, const std::string& source);
  // The same with an idempotency key: when `source` already created a payment with `idem_key`,
  // that payment is returned (repeated = true) and nothing is created. Atomic: two requests
  // with one key make one payment.
  struct Created {
    Payment payment;
    bool repeated = false;
  };
  Created create_once(const std::string& room, const std::string& kind, const std::string& method,
                      Fen amount_fen, const std::string& source, const std::string& idem_key);
  // The payment `source` created with `idem_key`, if any.
  std::optional<Payment> find_by_key(const std::string& source, const std::string& idem_key) const;

  // Moves `id` to `to` if its current state allows it; false (and nothing changed) otherwise.
  bool to_authorising(const std::string& id);
  // intent -> authorising for a QR payment, with its charge request (record::QrCharge carrying
  // `payment_code`) on the outbox in the same transaction. The code is not kept in the row.
  bool to_authorising_qr(const std::string& id, const std::string& payment_code);
  // A query record (record::QrQuery) for a QR payment in authorising or unknown, unless a
  // request or query of this payment is still waiting in the outbox (not yet acknowledged by
  // the broker): at most one question per payment is ever pending. true when one was appended.
  bool ask_qr(const std::string& id);
  bool to_unknown(const std::string& id, const std::string& why);
  // approved/declined: with the terminal's result and the outbox record, in one transaction.
  bool to_approved(const std::string& id, const TerminalResult& r);
  bool to_declined(const std::string& id, const TerminalResult& r);
  // declined after the terminal's approval was voided (audited as money.reversal); from
  // approved only for a payment not credited.
  bool to_reversed(const std::string& id, const TerminalResult& r);
  // The room was credited: settlement recorded, applied = 1.
  void record_settlement(const std::string& id, const Settlement& s);
  // An approved payment that could not be credited (room removed, the car park's void failed):
  // an events row (kind payment.credit_failed) and an outbox record on stream "events"
  // ({"kind":"payment.credit_failed","payment_id","room","payment_kind","amount_fen","error"}).
  void report_uncredited(const std::string& id, const std::string& error);
  bool to_receipt_printed(const std::string& id);
  void record_receipt_failure(const std::string& id, const std::string& error);
  // Marks as uploaded every payment whose outbox record the broker acknowledged (no longer in
  // the outbox). Returns how many changed.
  int mark_uploaded();

  std::optional<Payment> get(const std::string& id) const;
  std::vector<Payment> in_state(State s) const;
  std::vector<Payment> unapplied_approved() const;  // approved, not yet credited
  std::vector<Payment> unprinted() const;           // approved, credited, no receipt yet
  std::vector<std::pair<std::string, std::int64_t>> count_by_state() const;

 private:
  bool transition(const std::string& id, std::initializer_list<State> from, State to,
                  const std::string& detail, const TerminalResult* result, bool outbox,
                  const std::string& audit_kind = "money.payment",
                  const std::function<void(store::Database&)>& also = {});
  std::string now() const;

  store::Store& store_;
  std::string gateway_id_;
  int utc_offset_minutes_;
  // Payment numbers: the next is at least next_seq_; seq_reserved_ is what the high-water file
  // holds (no number above it was issued). Used on the store's writer only.
  std::int64_t next_seq_ = 1;
  std::int64_t seq_reserved_ = 0;
};

}  // namespace estate::kiosk
