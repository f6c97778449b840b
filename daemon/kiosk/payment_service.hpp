// Drives payments through the journal: a worker thread owns the POS terminal and the receipt
// printer (both blocking, one exchange at a time) and runs, in order: recovery after a restart,
// sales queued by the API, receipt reprints, and a periodic pass that resolves `unknown`
// payments with the terminal, retries failed receipts and marks uploaded records.
//
// Recovery: intent (never sent) -> declined "abandoned"; authorising/unknown -> query the
// terminal by the payment id: approved -> approved (then credited, receipt), declined or
// not found -> declined, no answer -> unknown (asked again later). An approval whose amount
// differs from the journal's is reversed (void) and declined. Never a second sale for one id.
// Thread-safety: begin()/reprint()/get() from any thread; start()/stop() from one.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
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
  };
  // Validates and journals the intent (durable), then queues the sale. 400 bad input, 404
  // unknown room, 503 no terminal configured.
  Begin begin(const std::string& room, const std::string& kind, const std::string& method,
              Fen amount_fen, const std::string& source);
  // A parking fee at the POS: `amount_fen` must be what the session owes now (409 otherwise, or
  // when nothing is owed; 404 no such session; 503 no car park or no terminal). Once approved
  // the session is paid, priced at the payment's creation; a payment the car park refuses for
  // good (the session was paid or closed meanwhile) is voided at the terminal and declined.
  Begin begin_parking(std::int64_t session, Fen amount_fen, const std::string& method,
                      const std::string& source);
  // The car park, for parking payments; before start(). Without it, parking payments are 503.
  void set_parking(std::shared_ptr<ParkingCharges> parking) { parking_ = std::move(parking); }
  bool has_parking() const { return parking_ != nullptr; }
  // Queues a reprint of an approved payment's receipt. false: no such payment or not approved.
  bool reprint(const std::string& id);
  bool has_terminal() const { return terminal_ != nullptr; }
  bool has_printer() const { return printer_ != nullptr; }

 private:
  struct Job {
    enum Kind { sale, reprint } kind;
    std::string id;
  };
  void run();
  void recover();
  void do_sale(const std::string& id);
  void finish(const Payment& p, const drivers::pos::Answer& a);
  void resolve(const Payment& p);
  void credit(const std::string& id);
  void credit_parking(const Payment& p);
  Begin queue_sale(Payment p);
  static Begin refuse(int status, std::string error, std::string message);
  // A refusal when the method is not card or the amount is out of range.
  std::optional<Begin> check_card_sale(const std::string& method, Fen amount_fen) const;
  void print(const std::string& id, bool reprint);
  void periodic();
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
  bool stopping_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point last_unknown_{}, last_receipt_{};
  bool recovered_ = false;
  // Payments in intent when this service was built: left by the previous process, never sent.
  // Taken before any request can add a fresh intent, so recovery never abandons a new one.
  std::vector<std::string> abandoned_;
};

// For crash tests: when $ESTATE_EDGE_TEST_CRASH_AFTER names `point`, the process kills itself
// (SIGKILL) right after that durable transition. Points: intent, authorising, approved,
// declined, unknown, applied, receipt_printed. Unset in production.
void crash_point(std::string_view point);

}  // namespace estate::kiosk
