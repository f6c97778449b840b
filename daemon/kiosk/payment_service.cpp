#include "daemon/kiosk/payment_service.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>

#include <unistd.h>

namespace estate::kiosk {

using drivers::pos::Answer;

std::string parking_room(std::int64_t session) { return "parking-" + std::to_string(session); }

std::optional<std::int64_t> parking_session_of(const std::string& room) {
  constexpr std::string_view prefix = "parking-";
  if (!room.starts_with(prefix) || room.size() == prefix.size() || room.size() > prefix.size() + 18) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (char c : room.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v > 0 ? std::optional(v) : std::nullopt;
}

void crash_point(std::string_view point) {
  static const std::string target = [] {
    const char* v = std::getenv("ESTATE_EDGE_TEST_CRASH_AFTER");
    return std::string(v ? v : "");
  }();
  if (!target.empty() && target == point) {
    spdlog::default_logger()->flush();
    ::kill(::getpid(), SIGKILL);
  }
}

PaymentService::PaymentService(Journal& journal, Accounts& accounts,
                               std::unique_ptr<drivers::pos::EcrTerminal> terminal,
                               std::unique_ptr<drivers::printer::EscposPrinter> printer,
                               PaymentServiceOptions options, http::MetricsRegistry* metrics)
    : journal_(journal),
      accounts_(accounts),
      terminal_(std::move(terminal)),
      printer_(std::move(printer)),
      options_(std::move(options)),
      metrics_(metrics) {
  for (const auto& p : journal_.in_state(State::intent)) abandoned_.push_back(p.id);
}

PaymentService::~PaymentService() { stop(); }

void PaymentService::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void PaymentService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PaymentService::count(std::string_view outcome) {
  if (!metrics_) return;
  metrics_->counter("estate_payments_total", "payments finished at the terminal, by outcome",
                    {{"outcome", std::string(outcome)}})
      .inc();
}

namespace {
bool valid_room(const std::string& r) {
  if (r.empty() || r.size() > 32) return false;
  for (char c : r) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

PaymentService::Begin PaymentService::refuse(int status, std::string error, std::string message) {
  Begin b;
  b.status = status;
  b.error = std::move(error);
  b.message = std::move(message);
  return b;
}

std::optional<PaymentService::Begin> PaymentService::check_card_sale(const std::string& method,
                                                                     Fen amount_fen) const {
  if (method != "card") {
    return refuse(400, "bad_request", "method must be card (QR payments are made online)");
  }
  if (amount_fen <= 0 || amount_fen > options_.max_amount_fen) {
    return refuse(400, "bad_request",
                  "amount_fen must be 1.." + std::to_string(options_.max_amount_fen));
  }
  return std::nullopt;
}

PaymentService::Begin PaymentService::begin(const std::string& room, const std::string& kind,
                                            const std::string& method, Fen amount_fen,
                                            const std::string& source) {
  if (!valid_room(room)) return refuse(400, "bad_request", "room must be 1-32 of [0-9A-Za-z_-]");
  if (kind != "pay" && kind != "topup") {
    return refuse(400, "bad_request", "kind must be pay or topup");
  }
  if (auto bad = check_card_sale(method, amount_fen)) return *bad;
  if (!terminal_) return refuse(503, "no_terminal", "no POS terminal is configured");
  if (!accounts_.lookup(room)) return refuse(404, "not_found", "no such room: " + room);
  return queue_sale(journal_.create(room, kind, method, amount_fen, source));
}

PaymentService::Begin PaymentService::begin_parking(std::int64_t session, Fen amount_fen,
                                                    const std::string& method,
                                                    const std::string& source) {
  const std::string which = "parking session " + std::to_string(session);
  if (session <= 0) return refuse(400, "bad_request", "session must be a positive integer");
  if (auto bad = check_card_sale(method, amount_fen)) return *bad;
  if (!parking_) return refuse(503, "no_parking", "no car park is run by this gateway");
  if (!terminal_) return refuse(503, "no_terminal", "no POS terminal is configured");
  auto due = parking_->due(session);
  if (!due) return refuse(404, "not_found", "no " + which);
  if (due->due_fen <= 0) return refuse(409, "nothing_due", which + " owes nothing");
  if (due->due_fen != amount_fen) {
    // The fee went up since the page asked (a new unit started): ask again.
    return refuse(409, "fee_changed", which + " now owes " + std::to_string(due->due_fen) + " fen");
  }
  return queue_sale(journal_.create(parking_room(session), "parking", method, amount_fen, source));
}

PaymentService::Begin PaymentService::queue_sale(Payment p) {
  crash_point("intent");
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({Job::sale, p.id});
  }
  cv_.notify_one();
  Begin b;
  b.payment = std::move(p);
  return b;
}

bool PaymentService::reprint(const std::string& id) {
  auto p = journal_.get(id);
  if (!p || !p->applied ||
      (p->state != State::approved && p->state != State::receipt_printed && p->state != State::uploaded)) {
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({Job::reprint, id});
  }
  cv_.notify_one();
  return true;
}

void PaymentService::run_pending() {
  if (!recovered_) {
    recovered_ = true;
    recover();
  }
  for (;;) {
    std::optional<Job> job;
    {
      std::lock_guard lock(mutex_);
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    if (job->kind == Job::sale) do_sale(job->id);
    else print(job->id, true);
  }
  periodic();
}

void PaymentService::run() {
  try {
    recovered_ = true;
    recover();
  } catch (const std::exception& e) {
    spdlog::error("payments: recovery failed: {} (retried on the next pass)", e.what());
  }
  for (;;) {
    std::optional<Job> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, options_.tick, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      if (!jobs_.empty()) {
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
    }
    try {
      if (job && job->kind == Job::sale) do_sale(job->id);
      else if (job) print(job->id, true);
      periodic();
    } catch (const std::exception& e) {
      // The journal row keeps its state; the periodic pass picks it up again.
      spdlog::error("payments: {}", e.what());
    }
  }
}

void PaymentService::recover() {
  for (const auto& id : abandoned_) {
    // intent is written before anything is sent: the terminal never saw this payment.
    if (journal_.to_declined(id, {"", "", "", "", "abandoned: the gateway restarted before the sale was sent"})) {
      spdlog::info("payments: {} abandoned before authorisation", id);
    }
  }
  abandoned_.clear();
  if (terminal_) {
    for (auto state : {State::authorising, State::unknown}) {
      for (const auto& p : journal_.in_state(state)) resolve(p);
    }
  }
  for (const auto& p : journal_.unapplied_approved()) credit(p.id);
  for (const auto& p : journal_.unprinted()) print(p.id, false);
}

void PaymentService::do_sale(const std::string& id) {
  auto p = journal_.get(id);
  if (!p || p->state != State::intent) return;
  if (!journal_.to_authorising(id)) return;
  crash_point("authorising");
  spdlog::info("payments: {} sale of {} fen for room {}", id, p->amount_fen, p->room);
  auto a = terminal_->sale(id, p->amount_fen);
  finish(*p, a);
}

void PaymentService::finish(const Payment& p, const Answer& a) {
  TerminalResult r{a.code, a.auth_code, a.rrn, a.card, a.message};
  switch (a.outcome) {
    case Answer::Outcome::approved:
      if (a.amount_fen >= 0 && a.amount_fen != p.amount_fen) {
        // Approved for another amount than the journal holds: take it back.
        auto v = terminal_->void_sale(p.id, a.amount_fen);
        if (v.outcome == Answer::Outcome::approved) {
          r.message = "reversed: terminal approved " + std::to_string(a.amount_fen) +
                      " fen, expected " + std::to_string(p.amount_fen);
          journal_.to_reversed(p.id, r);
          count("reversed");
        } else {
          journal_.to_unknown(p.id, "amount mismatch and the reversal failed: " + v.message);
        }
        return;
      }
      if (journal_.to_approved(p.id, r)) {
        count("approved");
        crash_point("approved");
        credit(p.id);
        print(p.id, false);
      }
      return;
    case Answer::Outcome::declined:
    case Answer::Outcome::not_found:
      if (a.outcome == Answer::Outcome::not_found && r.message.empty()) {
        r.message = "the terminal has no record of this payment";
      }
      if (journal_.to_declined(p.id, r)) {
        count("declined");
        crash_point("declined");
      }
      return;
    case Answer::Outcome::unknown:
      journal_.to_unknown(p.id, a.message.empty() ? "no answer from the terminal" : a.message);
      crash_point("unknown");
      last_unknown_ = std::chrono::steady_clock::now();
      return;
  }
}

void PaymentService::resolve(const Payment& p) {
  auto q = terminal_->query(p.id);
  spdlog::info("payments: {} ({}) resolved with the terminal: {}", p.id, to_string(p.state),
               drivers::pos::to_string(q.outcome));
  if (q.outcome == Answer::Outcome::unknown) {
    if (p.state != State::unknown) journal_.to_unknown(p.id, "query unanswered: " + q.message);
    return;
  }
  finish(p, q);
}

void PaymentService::credit(const std::string& id) {
  auto p = journal_.get(id);
  if (!p || p->applied) return;
  if (p->kind == "parking") return credit_parking(*p);
  auto s = accounts_.apply_payment(p->room, p->amount_fen, p->id);
  journal_.record_settlement(id, s);
  crash_point("applied");
}

void PaymentService::credit_parking(const Payment& p) {
  auto session = parking_session_of(p.room);
  if (!session) throw std::runtime_error("payment " + p.id + ": not a parking room: " + p.room);
  if (!parking_) throw std::runtime_error("payment " + p.id + ": no car park to credit (yet)");
  auto r = parking_->pay(*session, p.amount_fen, p.id, p.created_at);
  if (r.ok) {
    Settlement s;
    s.paid.emplace_back(p.room, p.amount_fen);
    s.settled_fen = p.amount_fen;
    journal_.record_settlement(p.id, s);
    crash_point("applied");
    return;
  }
  if (r.retry || !terminal_) {
    throw std::runtime_error("payment " + p.id + ": parking session " + std::to_string(*session) +
                             " not credited yet: " + r.error);
  }
  // The car park will not take it (paid or closed meanwhile): give the money back.
  spdlog::warn("payments: {} refused by the car park ({}); voiding the sale", p.id, r.error);
  auto v = terminal_->void_sale(p.id, p.amount_fen);
  if (v.outcome != Answer::Outcome::approved) {
    throw std::runtime_error("payment " + p.id + ": void after the car park refused it failed: " +
                             v.message);
  }
  journal_.to_reversed(p.id, {v.code, v.auth_code, v.rrn, v.card,
                              "reversed: the car park refused it: " + r.error});
  count("reversed");
}

void PaymentService::print(const std::string& id, bool reprint) {
  auto p = journal_.get(id);
  if (!p || !p->applied) return;
  if (!printer_) {
    journal_.record_receipt_failure(id, "no receipt printer configured");
    return;
  }
  auto out = printer_->print(render_receipt(*p, options_.receipt, reprint || p->receipt_attempts > 0));
  if (out.printed) {
    if (p->state == State::approved) {
      journal_.to_receipt_printed(id);
      crash_point("receipt_printed");
    }
    return;
  }
  spdlog::warn("payments: receipt of {} not printed: {}", id, out.error);
  journal_.record_receipt_failure(id, out.error);
  if (metrics_) {
    metrics_->counter("estate_receipt_failures_total", "receipts that could not be printed").inc();
  }
}

void PaymentService::periodic() {
  journal_.mark_uploaded();
  auto now = std::chrono::steady_clock::now();
  if (terminal_ && now - last_unknown_ >= options_.unknown_retry) {
    auto unknown = journal_.in_state(State::unknown);
    if (!unknown.empty()) {
      last_unknown_ = now;
      for (const auto& p : unknown) resolve(p);
    }
  }
  if (printer_ && now - last_receipt_ >= options_.receipt_retry) {
    last_receipt_ = now;
    for (const auto& p : journal_.in_state(State::approved)) {
      if (p.applied && p.receipt_attempts > 0 && p.receipt_attempts < options_.receipt_max_attempts) {
        print(p.id, true);
      }
    }
  }
  for (const auto& p : journal_.unapplied_approved()) credit(p.id);
}

}  // namespace estate::kiosk
