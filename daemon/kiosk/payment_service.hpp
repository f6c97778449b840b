// Drives payments through the journal: a worker thread owns the POS terminal and the receipt
// printer (both blocking, one exchange at a time) and runs, in order: recovery after a restart,
// sales queued by the API, receipt reprints, and a periodic pass that resolves `unknown`
// payments with the terminal, retries failed receipts and marks uploaded records.
//
// Recovery: intent (never sent) -> declined "abandoned"; authorising/unknown -> query the
// terminal about the payment (its ticket, drivers/pos): approved -> approved (then credited,
// receipt), declined or not found -> declined, no answer or no answer about this payment ->
// unknown (asked again later; the message says when a person must look at the terminal). An
// approval whose amount differs from the journal's is reversed (void of the terminal's
// operation number) and declined. Never a second sale for one id.
//
// QR payment codes (begin_qr): the platform charges them (the gateway holds no merchant key).
// The intent is journaled, then authorising with the charge request on the outbox; the
// platform's answer (qr_result, from cmd/qr-result) approves (credited and printed as a card
// sale is), declines or leaves it unknown. No answer within qr_answer_timeout: unknown, and a
// query record every qr_query_interval until one comes (never more than one waiting in the
// outbox). After a restart a QR payment in authorising or unknown is asked about at once.
// Thread-safety: begin()/reprint()/get() from any thread; start()/stop() from one.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/metrics.hpp"
#include "daemon/kiosk/accounts.hpp"
#include "daemon/kiosk/journal.hpp"
#include "daemon/kiosk/parking_charges.hpp"
#include "daemon/kiosk/receipt.hpp"
#include "drivers/pos/ecr_terminal.hpp"
#include "drivers/printer/escpos_printer.hpp"

namespace estate::kiosk {

struct PaymentServiceOptions {
  ReceiptHeader receipt;
  std::chrono::milliseconds tick{1000};             // upload/unknown/receipt pass
  std::chrono::milliseconds unknown_retry{5000};    // ask the terminal about unknown again
  std::chrono::milliseconds receipt_retry{30000};   // retry a failed receipt
  int receipt_max_attempts = 3;                     // then only on request
  Fen max_amount_fen = 100'000'000;                 // one million yuan
  // Sales waiting behind the one at the terminal; beyond that a new sale is refused (429)
  // before anything is journaled.
  int max_queued_sales = 2;
  // QR payment codes: taken only with a platform link (mqtt.url); the kiosk section's
  // qr_answer_timeout_ms / qr_query_interval_ms (daemon/kiosk/kiosk_config.hpp).
  bool qr_enabled = false;
  std::chrono::milliseconds qr_answer_timeout{30000};
  std::chrono::milliseconds qr_query_interval{10000};
};

// The platform's answer about a QR payment (cmd/qr-result, docs/mqtt-api.md).
struct QrResult {
  enum class Outcome { approved, declined, unknown };
  std::string payment_id;
  Outcome outcome = Outcome::unknown;
  std::optional<Fen> amount_fen;  // what the acquirer took (approved)
  std::string result_code;        // the acquirer's code
  std::string transaction_id;     // the acquirer's transaction number
  std::string message;
};

class PaymentService {
 public:
  PaymentService(Journal& journal, Accounts& accounts,
                 std::unique_ptr<drivers::pos::EcrTerminal> terminal,
                 std::unique_ptr<drivers::printer::EscposPrinter> printer,
                 PaymentServiceOptions options, http::MetricsRegistry* metrics);
  ~PaymentService();

  void start();
  void stop();
  // Without the worker (tests, tools): recovery on the first call, then every queued job and
  // one periodic pass, on the calling thread. Not while start()ed.
  void run_pending();

  struct Begin {
    std::optional<Payment> payment;
    int status = 202;
    std::string error, message;
    bool repeated = false;  // the payment `idem_key` already made, returned again
  };
  // Validates and journals the intent (durable), then queues the sale. 400 bad input, 404
  // unknown room, 503 no terminal configured, 429 the terminal's queue is full (one sale at the
  // terminal and max_queued_sales waiting). With an idempotency key (unique per source), the
  // payment the key already made is returned as it is now (repeated, status 200) and nothing is
  // queued; 409 when that payment was for another room, kind or amount.
  Begin begin(const std::string& room, const std::string& kind, const std::string& method,
              Fen amount_fen, const std::string& source, const std::string& idem_key = "");
  // A parking fee at the POS: `amount_fen` must be what the session owes now (409 otherwise, or
  // when nothing is owed; 404 no such session; 503 no car park or no terminal). Once approved
  // the session is paid, priced at the payment's creation; a payment the car park refuses for
  // good (the session was paid or closed meanwhile) is voided at the terminal and declined.
  Begin begin_parking(std::int64_t session, Fen amount_fen, const std::string& method,
                      const std::string& source, const std::string& idem_key = "");
  // A QR payment-code payment for a room (kind pay or topup): 400 a bad code (naming
  // auth_code; nothing stored), room, kind or amount; 404 unknown room; 503 no platform link.
  // The intent and then the charge request are durable before this returns (202); an
  // idempotency key works as for begin().
  Begin begin_qr(const std::string& room, const std::string& kind, const std::string& payment_code,
                 Fen amount_fen, const std::string& source, const std::string& idem_key = "");
  bool qr_payments() const { return options_.qr_enabled; }
  // Applies the platform's answer. ok false (error set, nothing changed): no QR payment with
  // that id, or an approval for another amount (the payment goes to unknown for a person).
  // changed false: the payment had finished already (or the answer says nothing new); logged.
  struct QrAnswer {
    bool ok = false;
    std::string error;
    std::optional<Payment> payment;
    bool changed = false;
  };
  QrAnswer qr_result(const QrResult& r);
  // The car park, for parking payments; before start(). Without it, parking payments are 503.
  void set_parking(std::shared_ptr<ParkingCharges> parking) { parking_ = std::move(parking); }
  bool has_parking() const { return parking_ != nullptr; }
  // Queues a reprint of an approved payment's receipt. false: no such payment or not approved.
  bool reprint(const std::string& id);
  bool has_terminal() const { return terminal_ != nullptr; }
  bool has_printer() const { return printer_ != nullptr; }

 private:
  struct Job {
    enum Kind { sale, reprint, complete } kind;  // complete: credit and print an approval
    std::string id;
  };
  void run();
  // One pass of recovery; false when something is left for the next pass.
  bool recover();
  // Each payment on its own; false when one of them (or the listing) failed.
  bool resolve_all(State state);
  bool credit_all();
  // Runs `step` for one payment; logs and returns false when it throws.
  template <typename F>
  bool guarded(std::string_view what, const std::string& id, F&& step);
  void metric_inc(const std::string& name, const std::string& help);
  void do_sale(const std::string& id);
  // from_query: `a` answers a query (the amount the terminal holds), not the sale itself.
  void finish(const Payment& p, const drivers::pos::Answer& a, bool from_query);
  void resolve(const Payment& p);
  void credit(const std::string& id);
  void credit_parking(const Payment& p);
  // The payment the key already made (a Begin to return), or nullopt.
  std::optional<Begin> repeated(const std::string& source, const std::string& idem_key,
                                const std::string& room, const std::string& kind, Fen amount_fen);
  // Journals the intent (idempotently) in a reserved queue slot and queues the sale.
  Begin journal_and_queue(const std::string& room, const std::string& kind,
                          const std::string& method, Fen amount_fen, const std::string& source,
                          const std::string& idem_key);
  Begin queue_sale(Payment p);
  static Begin refuse(int status, std::string error, std::string message);
  // A refusal when the method is not card or the amount is out of range.
  std::optional<Begin> check_card_sale(const std::string& method, Fen amount_fen) const;
  void print(const std::string& id, bool reprint);
  void periodic();
  // QR payments: authorising past the timeout -> unknown; unknown (or found after a restart)
  // -> a query record when one is due.
  void qr_pass();
  void run_job(const Job& job);
  void count(std::string_view outcome);

  Journal& journal_;
  Accounts& accounts_;
  std::unique_ptr<drivers::pos::EcrTerminal> terminal_;
  std::unique_ptr<drivers::printer::EscposPrinter> printer_;
  std::shared_ptr<ParkingCharges> parking_;
  PaymentServiceOptions options_;
  http::MetricsRegistry* metrics_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  int sales_pending_ = 0;  // sales journaled and not yet answered (queued or at the terminal)
  bool stopping_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point last_unknown_{}, last_receipt_{};
  bool recovered_ = false;
  std::set<std::string> uncredited_;  // approved payments whose credit failed, reported once
  // Payments in intent when this service was built: left by the previous process, never sent.
  // Taken before any request can add a fresh intent, so recovery never abandons a new one.
  std::vector<std::string> abandoned_;
  // QR payments in authorising/unknown this process has seen: since when (the answer timeout
  // counts from there) and when the platform was last asked. Guarded by mutex_.
  struct QrWait {
    std::chrono::steady_clock::time_point since, asked;
    bool ever_asked = false;
  };
  std::map<std::string, QrWait> qr_waits_;
};

// For crash tests: called right after each durable transition (points: intent, authorising,
// approved, declined, unknown, applied, receipt_printed). Does nothing unless a hook is set;
// only the test build of the daemon (target estate-edge-test, daemon/kiosk/test_hooks.cpp) sets
// one, which kills the process when $ESTATE_EDGE_TEST_CRASH_AFTER names the point. The
// installed binary has no such hook and ignores that variable.
using CrashHook = void (*)(std::string_view point);
void set_crash_hook(CrashHook hook);
void crash_point(std::string_view point);

}  // namespace estate::kiosk
