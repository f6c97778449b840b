// Parking sessions: entry opens a session; exit computes the fee from the site's rules; a fee
// above zero waits for payment; paid -> the barrier opens -> the session closes. Paying before
// reaching the exit (kiosk, QR) leaves grace_minutes to leave; later, the whole stay is priced
// again and only the difference is due. Residents and monthly-pass holders pass free. An exit
// with no entry record (lost or misread plate) and a manual open are events for the guard.
// Every step is durable in SQLite before it is reported, and an outbox event.
// A session keeps its vehicle's plate (or card) only as the keyed hash the gates match by
// (AccessService::credential_hash) and its masked form for screens and events: entry, exit and
// a kiosk's search by plate all match by hash.
// Thread-safety: all members may be called from any thread; calls are serialised by a mutex
// and block until the store has committed (call from a gate worker, not from an I/O strand).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/access/policy.hpp"
#include "daemon/audit/audit.hpp"
#include "daemon/parking/fee.hpp"
#include "daemon/record/record.hpp"
#include "daemon/store/store.hpp"

namespace estate::parking {

struct ParkingSettings {
  std::vector<FeeRule> rules;
  std::string visitor_rule = "visitor";  // access.visitor_rule
  int grace_minutes = 15;                // time to leave after paying ahead
  int utc_offset_minutes = 480;
};

struct Passage {
  access::CredentialKind kind = access::CredentialKind::plate;
  std::string credential;  // normalised
  std::string gate;
  Instant time;
  std::string snapshot;  // camera snapshot reference, may be empty
  access::Decision decision;
};

enum class ExitAction { open, wait_payment, call_guard };

struct ExitResult {
  ExitAction action = ExitAction::call_guard;
  std::int64_t session_id = 0;
  std::int64_t due_fen = 0;
  std::string reason;
  std::optional<FeeQuote> quote;
};

struct PayResult {
  bool ok = false;
  bool open_gate = false;  // the vehicle waits at the exit barrier
  bool repeated = false;   // this reference had already paid the session: nothing recorded
  std::string gate;        // the exit gate to open, when open_gate
  std::int64_t paid_fen = 0;
  std::string error;
};

// An open session as a kiosk or the platform sees it: what is due if paid now.
struct SessionView {
  std::int64_t id = 0;
  access::CredentialKind kind = access::CredentialKind::plate;
  std::string credential;  // masked, as stored ("粤B***45", "****5678")
  std::string holder;
  std::string rule;        // "" = free (resident, monthly pass)
  std::string state;       // parked, paid, awaiting_payment
  Instant entry;
  std::string entry_gate;
  std::string exit_gate;   // awaiting_payment: the exit where the vehicle waits
  std::int64_t fee_fen = 0;
  std::int64_t paid_fen = 0;
  std::int64_t due_fen = 0;
  std::optional<FeeQuote> quote;
};

class ParkingSessions {
 public:
  // The keyed hash of a normalised credential; the same function the gates' decisions use.
  using CredentialHash = std::function<std::string(access::CredentialKind, std::string_view)>;

  // Rewrites sessions of an older store that still hold a credential in clear (once).
  ParkingSessions(store::Store& store, std::string gateway_id, ParkingSettings settings,
                  CredentialHash hash);

  // Opens a session for a vehicle let in (decision.lets_through()); returns its id, or 0 when
  // the decision denied entry. A second entry of a credential with an open session closes the
  // old one as "superseded" (an event for the guard) and opens a new one.
  std::int64_t on_entry(const Passage& p);
  ExitResult on_exit(const Passage& p);
  // A payment for a session: the exact amount due (no partial or over-payment; money is
  // integer fen). At the exit barrier it opens the gate and closes the session. The same
  // reference again for a session it already paid is answered ok with `repeated` and records
  // nothing (a retried platform message is never a second payment).
  // A session still parked is priced at `priced_at` when given (a kiosk prices a payment when
  // it is started; the card terminal approves it later), else at `time`.
  // `in_transaction`, when given, runs inside the payment's own transaction once a new payment
  // was recorded (not for a refused or repeated one): the caller's audit entry commits with the
  // payment or not at all. What it throws undoes the payment.
  using PaidHook = std::function<void(store::Database& db, const PayResult& result)>;
  PayResult pay(std::int64_t session_id, std::int64_t amount_fen, const std::string& reference,
                const Instant& time, std::optional<Instant> priced_at = std::nullopt,
                const PaidHook& in_transaction = {});
  // The open session of a credential, priced at `now` (a session waiting at the exit keeps the
  // fee computed there). nullopt when it has none.
  std::optional<SessionView> find_open(access::CredentialKind kind, const std::string& credential,
                                       const Instant& now);
  // Any session by id (closed ones have nothing due), priced at `now` like find_open.
  std::optional<SessionView> find_session(std::int64_t session_id, const Instant& now);
  // The guard opened the barrier by hand: an event with the reason, and `audit` (who asked)
  // appended in the same transaction. Returns once both are durable; throws store::Error.
  void manual_open(const std::string& gate, const std::string& reason, const Instant& time,
                   const std::optional<audit::Entry>& audit = std::nullopt);

  void set_settings(ParkingSettings settings);

 private:
  struct Row;
  std::string key_of(access::CredentialKind kind, const std::string& credential) const;
  std::optional<Row> open_session(store::Database& db, access::CredentialKind kind,
                                  const std::string& credential);
  void event(store::Database& db, const Instant& time, record::ParkingSession ev);
  void manual_event(store::Database& db, const Instant& time, record::ManualOpen ev);
  std::optional<SessionView> find_view(const char* where,
                                       const std::function<void(store::Statement&)>& bind,
                                       const Instant& now);

  store::Store& store_;
  CredentialHash hash_;
  std::string gateway_id_;
  std::mutex mutex_;
  ParkingSettings settings_;
};

std::string_view to_string(ExitAction a);

}  // namespace estate::parking
