#include "daemon/kiosk/payment_service.hpp"

#include "daemon/kiosk/payment_code.hpp"

#include <spdlog/spdlog.h>

#include <atomic>

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

namespace {
// Set before main() by the test build's hook (daemon/kiosk/test_hooks.cpp); null otherwise.
std::atomic<CrashHook> crash_hook{nullptr};
}  // namespace

void set_crash_hook(CrashHook hook) { crash_hook.store(hook); }

void crash_point(std::string_view point) {
  if (auto hook = crash_hook.load()) hook(point);
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

void PaymentService::metric_inc(const std::string& name, const std::string& help) {
  if (metrics_) metrics_->counter(name, help).inc();
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
    return refuse(400, "bad_request",
                  "method must be card (a WeChat Pay / Alipay payment code: POST /api/payments/qr)");
  }
  if (amount_fen <= 0 || amount_fen > options_.max_amount_fen) {
    return refuse(400, "bad_request",
                  "amount_fen must be 1.." + std::to_string(options_.max_amount_fen));
  }
  return std::nullopt;
}

std::optional<PaymentService::Begin> PaymentService::repeated(const std::string& source,
                                                             const std::string& idem_key,
                                                             const std::string& room,
                                                             const std::string& kind,
                                                             Fen amount_fen) {
  auto p = journal_.find_by_key(source, idem_key);
  if (!p) return std::nullopt;
  if (p->room != room || p->kind != kind || p->amount_fen != amount_fen) {
    return refuse(409, "idempotency_key_reused",
                  "this Idempotency-Key started payment " + p->id + " for another sale");
  }
  Begin b;
  b.payment = std::move(*p);
  b.status = 200;
  b.repeated = true;
  return b;
}

PaymentService::Begin PaymentService::journal_and_queue(const std::string& room,
                                                        const std::string& kind,
                                                        const std::string& method,
                                                        Fen amount_fen, const std::string& source,
                                                        const std::string& idem_key) {
  {
    // The slot is taken before the intent is journaled, so a full queue stores nothing.
    std::lock_guard lock(mutex_);
    if (sales_pending_ >= 1 + options_.max_queued_sales) {
      return refuse(429, "terminal_busy",
                    "the POS terminal has a sale in progress and " +
                        std::to_string(options_.max_queued_sales) + " waiting; try again shortly");
    }
    ++sales_pending_;
  }
  Journal::Created c;
  try {
    c = journal_.create_once(room, kind, method, amount_fen, source, idem_key);
  } catch (...) {
    std::lock_guard lock(mutex_);
    --sales_pending_;
    throw;
  }
  if (c.repeated) {
    {
      std::lock_guard lock(mutex_);
      --sales_pending_;
    }
    // Two requests with one key raced: the other one made it.
    return *repeated(source, idem_key, room, kind, amount_fen);
  }
  return queue_sale(std::move(c.payment));
}

PaymentService::Begin PaymentService::begin(const std::string& room, const std::string& kind,
                                            const std::string& method, Fen amount_fen,
                                            const std::string& source, const std::string& idem_key) {
  if (!valid_room(room)) return refuse(400, "bad_request", "room must be 1-32 of [0-9A-Za-z_-]");
  if (kind != "pay" && kind != "topup") {
    return refuse(400, "bad_request", "kind must be pay or topup");
  }
  if (auto bad = check_card_sale(method, amount_fen)) return *bad;
  if (auto again = repeated(source, idem_key, room, kind, amount_fen)) return *again;
  if (!terminal_) return refuse(503, "no_terminal", "no POS terminal is configured");
  if (!accounts_.lookup(room)) return refuse(404, "not_found", "no such room: " + room);
  return journal_and_queue(room, kind, method, amount_fen, source, idem_key);
}

PaymentService::Begin PaymentService::begin_parking(std::int64_t session, Fen amount_fen,
                                                    const std::string& method,
                                                    const std::string& source,
                                                    const std::string& idem_key) {
  const std::string which = "parking session " + std::to_string(session);
  if (session <= 0) return refuse(400, "bad_request", "session must be a positive integer");
  if (auto bad = check_card_sale(method, amount_fen)) return *bad;
  // Before the checks below: once the first request paid, the session owes nothing.
  if (auto again = repeated(source, idem_key, parking_room(session), "parking", amount_fen)) {
    return *again;
  }
  if (!parking_) return refuse(503, "no_parking", "no car park is run by this gateway");
  if (!terminal_) return refuse(503, "no_terminal", "no POS terminal is configured");
  auto due = parking_->due(session);
  if (!due) return refuse(404, "not_found", "no " + which);
  if (due->due_fen <= 0) return refuse(409, "nothing_due", which + " owes nothing");
  if (due->due_fen != amount_fen) {
    // The fee went up since the page asked (a new unit started): ask again.
    return refuse(409, "fee_changed", which + " now owes " + std::to_string(due->due_fen) + " fen");
  }
  return journal_and_queue(parking_room(session), "parking", method, amount_fen, source, idem_key);
}

PaymentService::Begin PaymentService::begin_qr(const std::string& room, const std::string& kind,
                                               const std::string& payment_code, Fen amount_fen,
                                               const std::string& source,
                                               const std::string& idem_key) {
  // The code first: a bad scan is refused before anything else is looked at or stored.
  auto code = classify_payment_code(payment_code);
  if (!code.wallet) return refuse(400, "bad_request", "auth_code: " + code.error);
  if (!valid_room(room)) return refuse(400, "bad_request", "room must be 1-32 of [0-9A-Za-z_-]");
  if (kind != "pay" && kind != "topup") {
    return refuse(400, "bad_request", "kind must be pay or topup");
  }
  if (amount_fen <= 0 || amount_fen > options_.max_amount_fen) {
    return refuse(400, "bad_request",
                  "amount_fen must be 1.." + std::to_string(options_.max_amount_fen));
  }
  if (auto again = repeated(source, idem_key, room, kind, amount_fen)) return *again;
  if (!options_.qr_enabled) {
    return refuse(503, "no_platform",
                  "QR payments are charged by the platform and this gateway has no platform link "
                  "(mqtt.url)");
  }
  if (!accounts_.lookup(room)) return refuse(404, "not_found", "no such room: " + room);
  const std::string method(to_string(*code.wallet));
  auto c = journal_.create_once(room, kind, method, amount_fen, source, idem_key);
  if (c.repeated) return *repeated(source, idem_key, room, kind, amount_fen);
  const auto id = c.payment.id;
  crash_point("intent");
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    qr_waits_[id] = QrWait{now, now, true};  // the charge request is the first question
  }
  try {
    journal_.to_authorising_qr(id, payment_code);
  } catch (...) {
    // Never sent: the code was only in this request. Declined, so it is not left in intent.
    guarded("declining", id, [&] {
      journal_.to_declined(id, {"", "", "", "", "not sent: the store refused the charge request"});
    });
    throw;
  }
  crash_point("authorising");
  spdlog::info("payments: {} {} payment of {} fen for room {} sent to the platform", id, method,
               amount_fen, room);
  Begin b;
  b.payment = journal_.get(id);
  return b;
}

PaymentService::QrAnswer PaymentService::qr_result(const QrResult& r) {
  QrAnswer out;
  auto p = journal_.get(r.payment_id);
  if (!p || p->method == "card") {
    spdlog::warn("payments: a QR result for '{}', which is no QR payment of this gateway: ignored",
                 r.payment_id.substr(0, 128));
    out.error = "payment_id: no QR payment '" + r.payment_id.substr(0, 128) + "' on this gateway";
    return out;
  }
  TerminalResult t{r.result_code, "", r.transaction_id, "", r.message};
  const char* outcome = "unknown";
  switch (r.outcome) {
    case QrResult::Outcome::approved:
      outcome = "approved";
      if (!r.amount_fen || *r.amount_fen != p->amount_fen) {
        // Fail closed: an approval for another amount is not taken; a person settles it.
        const auto said = r.amount_fen ? std::to_string(*r.amount_fen) + " fen" : "no amount";
        if (p->state == State::authorising || p->state == State::unknown) {
          journal_.to_unknown(p->id, "the platform approved " + said + ", " +
                                         std::to_string(p->amount_fen) +
                                         " fen asked: check with the acquirer");
        }
        spdlog::error("payments: {} approved by the platform for {}, {} fen asked: left unknown",
                      p->id, said, p->amount_fen);
        out.error = "amount_fen: payment " + p->id + " is for " + std::to_string(p->amount_fen) +
                    " fen, the approval says " + said;
        out.payment = journal_.get(p->id);
        return out;
      }
      if (t.message.empty()) t.message = "approved by the platform";
      out.changed = journal_.to_approved(p->id, t);
      if (out.changed) {
        count("approved");
        crash_point("approved");
        {
          std::lock_guard lock(mutex_);
          jobs_.push_back({Job::complete, p->id});
        }
        cv_.notify_one();
      }
      break;
    case QrResult::Outcome::declined:
      outcome = "declined";
      if (t.message.empty()) t.message = "declined by the platform";
      if (p->state == State::authorising || p->state == State::unknown) {
        out.changed = journal_.to_declined(p->id, t);
      }
      if (out.changed) {
        count("declined");
        crash_point("declined");
      }
      break;
    case QrResult::Outcome::unknown:
      // Still in progress (the payer is confirming, the acquirer did not say): ask again later.
      if (p->state == State::authorising) {
        out.changed = journal_.to_unknown(
            p->id, "the platform has no result yet" + (r.message.empty() ? "" : ": " + r.message));
        if (out.changed) crash_point("unknown");
      }
      {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        auto& w = qr_waits_.try_emplace(p->id, QrWait{now, now, true}).first->second;
        w.asked = now;
        w.ever_asked = true;
      }
      break;
  }
  out.ok = true;
  out.payment = journal_.get(p->id);
  if (!out.changed && !(r.outcome == QrResult::Outcome::unknown && p->state == State::unknown)) {
    spdlog::warn("payments: QR result '{}' for {} changes nothing: the payment is {}", outcome,
                 p->id, to_string(out.payment->state));
  }
  return out;
}

void PaymentService::qr_pass() {
  const auto now = std::chrono::steady_clock::now();
  std::set<std::string> pending;
  for (State state : {State::authorising, State::unknown}) {
    guarded("listing", std::string(to_string(state)), [&] {
      for (const auto& p : journal_.in_state(state)) {
        if (p.method == "card") continue;
        pending.insert(p.id);
        guarded("asking the platform about", p.id, [&] {
          bool due = false, late = false;
          {
            std::lock_guard lock(mutex_);
            auto [it, fresh] = qr_waits_.try_emplace(p.id, QrWait{now, now, false});
            auto& w = it->second;
            // Found after a restart: asked at once. Otherwise authorising waits for the answer
            // until the timeout, unknown asks again every interval.
            late = state == State::authorising && now - w.since >= options_.qr_answer_timeout;
            due = !w.ever_asked || late ||
                  (state == State::unknown && now - w.asked >= options_.qr_query_interval);
            (void)fresh;
          }
          if (late) {
            journal_.to_unknown(p.id, "no answer from the platform within " +
                                          std::to_string(options_.qr_answer_timeout.count()) +
                                          " ms");
            crash_point("unknown");
          }
          if (!due) return;
          if (journal_.ask_qr(p.id)) {
            spdlog::info("payments: {} ({}) asked about at the platform", p.id,
                         late ? "unknown" : std::string(to_string(state)));
          }
          std::lock_guard lock(mutex_);
          auto& w = qr_waits_[p.id];
          w.asked = now;
          w.ever_asked = true;
        });
      }
    });
  }
  // Finished ones go; one begun while this pass listed (since after `now`) stays.
  std::lock_guard lock(mutex_);
  std::erase_if(qr_waits_, [&](const auto& kv) {
    return !pending.count(kv.first) && kv.second.since <= now;
  });
}

PaymentService::Begin PaymentService::queue_sale(Payment p) {
  crash_point("intent");
  // Callers hold a slot (sales_pending_) for this sale; do_sale gives it back.
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

template <typename F>
bool PaymentService::guarded(std::string_view what, const std::string& id, F&& step) {
  try {
    step();
    return true;
  } catch (const std::exception& e) {
    spdlog::error("payments: {} {}: {} (tried again on the next pass)", what, id, e.what());
    return false;
  }
}

void PaymentService::run_pending() {
  if (!recovered_) recovered_ = recover();
  for (;;) {
    std::optional<Job> job;
    {
      std::lock_guard lock(mutex_);
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // As the worker does: a sale that throws stays in the journal for the periodic pass.
    guarded("running a job for", job->id, [&] { run_job(*job); });
  }
  periodic();
}

void PaymentService::run() {
  for (;;) {
    // Until it has gone through once, recovery runs again on every pass.
    if (!recovered_) recovered_ = recover();
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
      if (job) run_job(*job);
      periodic();
    } catch (const std::exception& e) {
      // The journal row keeps its state; the periodic pass picks it up again.
      spdlog::error("payments: {}", e.what());
    }
  }
}

void PaymentService::run_job(const Job& job) {
  switch (job.kind) {
    case Job::sale: return do_sale(job.id);
    case Job::reprint: return print(job.id, true);
    case Job::complete:
      // A QR approval: the same completion as a card sale's (a throw leaves it for credit_all).
      credit(job.id);
      return print(job.id, false);
  }
}

bool PaymentService::recover() {
  // Each payment on its own: one that fails stays for the next pass, the others go on.
  bool ok = true;
  std::vector<std::string> left;
  for (const auto& id : abandoned_) {
    // intent is written before anything is sent: the terminal never saw this payment.
    bool done = guarded("abandoning", id, [&] {
      if (journal_.to_declined(id, {"", "", "", "", "abandoned: the gateway restarted before the sale was sent"})) {
        spdlog::info("payments: {} abandoned before authorisation", id);
      }
    });
    if (!done) left.push_back(id);
  }
  abandoned_ = std::move(left);
  ok = abandoned_.empty();
  ok &= resolve_all(State::authorising);
  ok &= resolve_all(State::unknown);
  ok &= credit_all();
  ok &= guarded("listing", "unprinted", [&] {
    for (const auto& p : journal_.unprinted()) {
      if (!guarded("printing", p.id, [&] { print(p.id, false); })) ok = false;
    }
  });
  if (!ok) {
    metric_inc("estate_payment_recovery_failures_total",
               "passes in which recovery after a restart did not complete (retried)");
  }
  return ok;
}

bool PaymentService::resolve_all(State state) {
  if (!terminal_) return true;
  bool ok = true;
  ok &= guarded("listing", std::string(to_string(state)), [&] {
    for (const auto& p : journal_.in_state(state)) {
      if (p.method != "card") continue;  // QR payments are the platform's to answer (qr_pass)
      if (!guarded("resolving", p.id, [&] { resolve(p); })) ok = false;
    }
  });
  return ok;
}

bool PaymentService::credit_all() {
  bool ok = true;
  ok &= guarded("listing", "uncredited", [&] {
    for (const auto& p : journal_.unapplied_approved()) {
      std::string error;
      try {
        credit(p.id);
        uncredited_.erase(p.id);
        // Credited late (not right after the approval): its receipt now.
        guarded("printing", p.id, [&] { print(p.id, false); });
        continue;
      } catch (const std::exception& e) {
        error = e.what();
      }
      ok = false;
      spdlog::error("payments: crediting {}: {} (tried again on the next pass)", p.id, error);
      metric_inc("estate_payment_credit_failures_total",
                 "attempts to credit an approved payment that failed (retried on the next pass)");
      if (!uncredited_.insert(p.id).second) continue;
      // Reported once per payment and process (an event for the platform and the dashboard);
      // the payment is tried again on every pass and the others go on.
      guarded("reporting", p.id, [&] { journal_.report_uncredited(p.id, error); });
    }
  });
  return ok;
}

void PaymentService::do_sale(const std::string& id) {
  struct Slot {
    PaymentService& s;
    ~Slot() {
      std::lock_guard lock(s.mutex_);
      --s.sales_pending_;
    }
  } slot{*this};
  auto p = journal_.get(id);
  if (!p || p->state != State::intent) return;
  // A terminal whose query reports its last sale only: ask about the payments in doubt while
  // that can still be theirs, before this sale becomes the last one.
  if (terminal_->protocol().query == protocols::pos::QueryKind::last_sale) {
    resolve_all(State::unknown);
  }
  if (!journal_.to_authorising(id)) return;
  crash_point("authorising");
  spdlog::info("payments: {} sale of {} fen for room {}", id, p->amount_fen, p->room);
  auto a = terminal_->sale(id, p->amount_fen);
  finish(*p, a, false);
}

void PaymentService::finish(const Payment& p, const Answer& a, bool from_query) {
  TerminalResult r{a.code, a.auth_code, a.rrn, a.card, a.message};
  switch (a.outcome) {
    case Answer::Outcome::approved:
      if (a.amount_fen < 0 || (!from_query && a.amount_fen != p.amount_fen)) {
        // Fail closed: an approval that does not say it took what was asked is not taken. The
        // query that follows says what the terminal holds; a wrong amount there is reversed.
        journal_.to_unknown(p.id, a.amount_fen < 0
                                      ? "approval without an amount: asking the terminal again"
                                      : "approved for " + std::to_string(a.amount_fen) +
                                            " fen, " + std::to_string(p.amount_fen) +
                                            " fen asked: asking the terminal again");
        crash_point("unknown");
        last_unknown_ = std::chrono::steady_clock::now();
        return;
      }
      if (a.amount_fen != p.amount_fen) {
        // Approved for another amount than the journal holds: take it back.
        auto v = terminal_->void_sale(p.id, a.amount_fen, a.rrn);
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
  finish(p, q, true);
}

void PaymentService::credit(const std::string& id) {
  // Everything in this function runs on the worker; a throw leaves the row approved, unapplied.
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
  auto v = terminal_->void_sale(p.id, p.amount_fen, p.rrn);
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
  guarded("marking uploaded", "payments", [&] { journal_.mark_uploaded(); });
  qr_pass();
  // The worker sends one sale at a time and is not in one now: a row in authorising was left by
  // a sale that failed on the way (an exception after the journal moved it); ask the terminal.
  resolve_all(State::authorising);
  auto now = std::chrono::steady_clock::now();
  if (terminal_ && now - last_unknown_ >= options_.unknown_retry) {
    last_unknown_ = now;
    resolve_all(State::unknown);
  }
  if (printer_ && now - last_receipt_ >= options_.receipt_retry) {
    last_receipt_ = now;
    guarded("listing", "receipts", [&] {
      for (const auto& p : journal_.in_state(State::approved)) {
        if (p.applied && p.receipt_attempts > 0 && p.receipt_attempts < options_.receipt_max_attempts) {
          guarded("printing", p.id, [&] { print(p.id, true); });
        }
      }
    });
  }
  credit_all();
}

}  // namespace estate::kiosk
