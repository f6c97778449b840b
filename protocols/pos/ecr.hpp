// The ECR (electronic cash register) link to a bank-card POS terminal, as a table of vendor
// protocols: each row (`Protocol`) is one documented serial ECR protocol — its control bytes,
// check, separator, message layouts, retry rule and result-code map — so supporting another
// vendor's variant is a data change, not code.
//
// Frame (every row so far):  STX | DATA | ETX | LRC
//   DATA  printable ASCII: a command code, then positional fields, each preceded by the row's
//         separator ('|' for Transbank). No length field: the frame ends at ETX.
//   LRC   XOR of every byte after STX up to and including ETX, starting from the row's seed.
// The receiver answers each frame with ACK or, when the LRC or layout is wrong, NAK; the sender
// repeats it (the row's `sends` in all).
//
// Rows: "transbank-integrado", the POS Integrado protocol Transbank publishes for its RS-232
// integrated terminals (transbankdevelopers.cl/referencia/posintegrado; facts and example frames
// in protocols/pos/testdata/README.md). No Chinese acquirer's MIS-POS serial interface is
// published in full; a site's terminal that speaks another layout is a new row.
// Pure codec: no I/O, no clocks. Thread-safe (immutable tables).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/hex.hpp"
#include "protocols/common/result.hpp"

namespace estate::protocols::pos {

// One positional field of a message. `key` is the gateway's name for it (the same key means
// the same thing in every row): code, amount, ticket, auth, operation, last4, ...
struct Field {
  std::string_view key;
  std::size_t max = 0;    // most characters the field may carry
  bool numeric = false;   // digits only
  bool required = false;  // must be present and non-empty
};

struct MessageLayout {
  std::string_view command;  // the command code that starts DATA ("0200")
  std::string_view meaning;
  std::span<const Field> fields;
  bool trailing_separator = false;  // the encoder ends DATA with a separator (decoders accept both)
};

// What a result code means for the money, per use. Fail closed: a code a row does not list is
// unknown (never a decline: a declined payment is one the resident may pay a second time).
enum class ResultClass { approved, declined, not_found, in_progress, unknown };
std::string_view to_string(ResultClass c);

struct ResultCode {
  std::string_view code;
  std::string_view meaning;  // short English gloss of the document's table
  ResultClass sale;          // in a sale's answer
  ResultClass query;         // in the answer to the query of a sale
  ResultClass void_;         // in a void's answer (approved: the money went back)
};

// How a sale is looked up after the fact.
//   last_sale: the terminal reports only its last sale; the gateway matches the ticket.
enum class QueryKind { last_sale };

struct Protocol {
  std::string_view name;
  std::string_view description;
  std::string_view source;  // the public document the row follows
  std::uint8_t stx = 0x02, etx = 0x03, ack = 0x06, nak = 0x15;
  std::uint8_t lrc_seed = 0x00;
  std::uint8_t separator = '|';
  std::size_t max_data = 1024;
  int sends = 3;                  // sends of one frame (first + retries after NAK or silence)
  int ack_timeout_ms = 2000;      // default wait for ACK/NAK (bus timeout_ms overrides)
  std::string_view sale_request, sale_response;
  std::string_view query_request, query_response;
  std::string_view void_request, void_response;
  std::string_view poll_request;  // answered by ACK alone
  std::string_view progress_response;  // intermediate status message ("" when none)
  QueryKind query = QueryKind::last_sale;
  std::size_t ticket_width = 6;   // the gateway's reference as the terminal keeps it:
  std::string_view ticket_prefix = "E";  // this prefix, then the payment's sequence digits
  std::span<const MessageLayout> messages;
  std::span<const ResultCode> codes;
};

// The known protocols; nullptr for an unknown name.
std::span<const Protocol> protocols();
const Protocol* find_protocol(std::string_view name);
// "transbank-integrado": for error messages.
std::string known_protocols();
inline constexpr std::string_view default_protocol = "transbank-integrado";

const MessageLayout* find_message(const Protocol& p, std::string_view command);

enum class Use { sale, query, void_ };
ResultClass classify(const Protocol& p, Use use, std::string_view code);
const ResultCode* find_code(const Protocol& p, std::string_view code);

// A message: command and fields by key, in layout order.
struct Message {
  std::string command;
  std::vector<std::pair<std::string, std::string>> fields;

  std::optional<std::string> get(std::string_view key) const;
  Message& set(std::string key, std::string value);
};

// Encodes a whole frame. Fails (offset 0) for an unknown command, a required field missing or
// empty, a field the layout does not have, a value too long, not digits where digits are
// required, or holding the separator or a non-printable byte.
Result<Bytes> encode(const Protocol& p, const Message& m);

// Decodes exactly one frame (STX..LRC). Errors name the byte offset. Fields past the layout's
// end are ignored (newer firmware appends fields); fields missing at the end are absent.
Result<Message> decode(const Protocol& p, std::span<const std::uint8_t> frame);

// Finds the next unit in a receive buffer.
struct Scan {
  enum Kind { need_more, frame, ack, nak, garbage } kind = need_more;
  std::size_t size = 0;  // bytes of this unit (frame: the whole frame; garbage: bytes to drop)
};
Scan scan(const Protocol& p, std::span<const std::uint8_t> buffer);

std::uint8_t lrc(const Protocol& p, std::span<const std::uint8_t> bytes);

// The ticket the terminal keeps for the gateway's reference `ref` (a payment id ending in its
// sequence number): ticket_prefix, then the last n digits of that number, zero-padded, where n
// is ticket_width minus the prefix. nullopt when `ref` does not end in a digit. The prefix tells
// the gateway's sales from those keyed in at the terminal by hand.
std::optional<std::string> ticket_for(const Protocol& p, std::string_view ref);
// Whether gateway ticket `a` was issued after gateway ticket `b`, in serial-number arithmetic
// modulo 10^n (RFC 1982): true when a - b (mod 10^n) is in 1 .. 10^n/2 - 1. A ticket that is
// not the prefix and n digits (a sale keyed in by hand) is never ordered: false.
bool ticket_after(const Protocol& p, std::string_view a, std::string_view b);

// A card number as a terminal may send it, masked before anything keeps it: at most the
// first 6 and the last 4 digits stay visible, every other digit becomes '*'. Characters other
// than digits are kept ('*' already masked, spaces); the result is at most 32 characters.
std::string mask_card_number(std::string_view cn);
// Free text from a terminal with any run of 12 or more digits (a card number a terminal
// echoed) masked as mask_card_number does.
std::string mask_card_numbers_in_text(std::string_view text);

}  // namespace estate::protocols::pos
