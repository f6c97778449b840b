#include "daemon/kiosk/journal.hpp"

#include "daemon/audit/audit.hpp"
#include "daemon/record/alarm_state.hpp"
#include "daemon/record/record.hpp"
#include "daemon/backup/seq_highwater.hpp"

#include <algorithm>

#include <stdexcept>

namespace estate::kiosk {

namespace {

constexpr std::string_view state_names[] = {"intent",  "authorising",     "approved", "declined",
                                            "unknown", "receipt_printed", "uploaded"};

constexpr std::string_view columns =
    "id, room, kind, method, amount_fen, state, source, created_at, updated_at, result_code, "
    "auth_code, rrn, card, message, applied, settled_fen, topped_up_fen, balance_after_fen, "
    "outbox_seq, receipt_attempts, receipt_error, uploaded_at";

Payment read_row(store::Statement& st) {
  Payment p;
  p.id = st.text(0);
  p.room = st.text(1);
  p.kind = st.text(2);
  p.method = st.text(3);
  p.amount_fen = st.int64(4);
  p.state = parse_state(st.text(5)).value_or(State::unknown);
  p.source = st.text(6);
  p.created_at = st.text(7);
  p.updated_at = st.text(8);
  p.result_code = st.text(9);
  p.auth_code = st.text(10);
  p.rrn = st.text(11);
  p.card = st.text(12);
  p.message = st.text(13);
  p.applied = st.int64(14) != 0;
  p.settled_fen = st.int64(15);
  p.topped_up_fen = st.int64(16);
  p.balance_after_fen = st.int64(17);
  if (!st.is_null(18)) p.outbox_seq = st.int64(18);
  p.receipt_attempts = static_cast<int>(st.int64(19));
  p.receipt_error = st.text(20);
  p.uploaded_at = st.text(21);
  return p;
}

std::vector<Payment> query(const store::Store& store, const std::string& where,
                           const std::string& bind = {}) {
  auto db = store.open_reader();
  auto st = db.prepare("SELECT " + std::string(columns) + " FROM payments WHERE " + where +
                       " ORDER BY seq");
  if (!bind.empty()) st.bind(1, bind);
  std::vector<Payment> out;
  while (st.step()) out.push_back(read_row(st));
  for (auto& p : out) {
    auto a = db.prepare("SELECT bill, amount_fen FROM payment_allocations WHERE payment_id = ?1 "
                        "ORDER BY rowid");
    a.bind(1, p.id);
    while (a.step()) p.allocations.emplace_back(a.text(0), a.int64(1));
  }
  return out;
}

}  // namespace

std::string_view to_string(State s) { return state_names[static_cast<int>(s)]; }

std::optional<State> parse_state(std::string_view s) {
  for (int i = 0; i < 7; ++i) {
    if (state_names[i] == s) return static_cast<State>(i);
  }
  return std::nullopt;
}

nlohmann::json Payment::to_json() const {
  nlohmann::json j{{"id", id},
                   {"room", room},
                   {"kind", kind},
                   {"method", method},
                   {"amount_fen", amount_fen},
                   {"state", to_string(state)},
                   {"created_at", created_at},
                   {"updated_at", updated_at},
                   {"applied", applied},
                   {"settled_fen", settled_fen},
                   {"topped_up_fen", topped_up_fen},
                   {"balance_after_fen", balance_after_fen},
                   {"receipt_attempts", receipt_attempts},
                   {"uploaded", !uploaded_at.empty()}};
  if (!result_code.empty()) j["result_code"] = result_code;
  if (!auth_code.empty()) j["auth_code"] = auth_code;
  if (!rrn.empty()) j["rrn"] = rrn;
  if (!card.empty()) j["card"] = card;
  if (!message.empty()) j["message"] = message;
  if (!receipt_error.empty()) j["receipt_error"] = receipt_error;
  auto alloc = nlohmann::json::array();
  for (const auto& [bill, fen] : allocations) alloc.push_back({{"bill", bill}, {"amount_fen", fen}});
  j["allocations"] = alloc;
  return j;
}

namespace {

// Every payment state change is an audit entry (money.payment, or money.reversal when the
// terminal's approval was taken back), in the transaction that makes the change.
void audit_payment(store::Database& db, const std::string& kind, const std::string& ts,
                   const std::string& actor, const std::string& id, const std::string& room,
                   std::string_view state, std::int64_t amount_fen, const std::string& detail) {
  audit::Entry e;
  e.ts = ts;
  e.kind = kind;
  e.actor = actor;
  e.subject = "payment:" + id;
  e.room = room;
  nlohmann::json d{{"state", std::string(state)}, {"amount_fen", amount_fen}};
  if (!detail.empty()) d["detail"] = detail;
  e.detail_json = d.dump();
  audit::append(db, e);
}

std::string actor_of(const std::string& source) {
  if (source.empty()) return "system";
  if (source == "pos") return "device:pos";
  return "token:" + source;
}

}  // namespace

// Numbers reserved ahead in the high-water file: one durable write per this many payments;
// a restart skips what was reserved and not used.
constexpr std::int64_t seq_reservation = 16;

Journal::Journal(store::Store& store, std::string gateway_id, int utc_offset_minutes)
    : store_(store), gateway_id_(std::move(gateway_id)), utc_offset_minutes_(utc_offset_minutes) {
  seq_reserved_ = backup::read_number_file(backup::payment_highwater_file(store_.state_dir())).value_or(0);
  next_seq_ = seq_reserved_ + 1;
}

std::string Journal::now() const { return store::iso8601_now(utc_offset_minutes_); }

Payment Journal::create(const std::string& room, const std::string& kind, const std::string& method,
                        Fen amount_fen, const std::string& source) {
  return create_once(room, kind, method, amount_fen, source, "").payment;
}

Journal::Created Journal::create_once(const std::string& room, const std::string& kind,
                                      const std::string& method, Fen amount_fen,
                                      const std::string& source, const std::string& idem_key) {
  if (amount_fen <= 0) throw std::invalid_argument("amount_fen must be positive");
  std::string id;
  bool repeated = false;
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    if (!idem_key.empty()) {
      auto f = db.prepare("SELECT id FROM payments WHERE source = ?1 AND idem_key = ?2");
      f.bind(1, source).bind(2, idem_key);
      if (f.step()) {
        id = f.text(0);
        repeated = true;
        return;
      }
    }
    std::int64_t seq = std::max(next_seq_, db.query_int("SELECT COALESCE(MAX(seq), 0) + 1 FROM payments", 1));
    if (seq > seq_reserved_) {
      // Durable before the number is used: a restore of an older store cannot hand it out again.
      seq_reserved_ = backup::raise_number_file(backup::payment_highwater_file(store_.state_dir()),
                                                seq + seq_reservation);
    }
    id = gateway_id_ + "-pay-" + std::to_string(seq);
    auto ins = db.prepare(
        "INSERT INTO payments(id, seq, room, kind, method, amount_fen, state, source, "
        "created_at, updated_at, idem_key) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'intent', ?7, ?8, ?8, ?9)");
    ins.bind(1, id).bind(2, seq).bind(3, room).bind(4, kind).bind(5, method).bind(6, amount_fen)
        .bind(7, source).bind(8, ts);
    if (!idem_key.empty()) ins.bind(9, idem_key);
    ins.run();
    db.prepare("INSERT INTO payment_transitions(payment_id, state, ts, detail) "
               "VALUES(?1, 'intent', ?2, '')")
        .bind(1, id).bind(2, ts).run();
    audit_payment(db, "money.payment", ts, actor_of(source), id, room, "intent", amount_fen,
                  kind + " by " + method);
    next_seq_ = seq + 1;
  });
  return Created{*get(id), repeated};
}

std::optional<Payment> Journal::find_by_key(const std::string& source,
                                            const std::string& idem_key) const {
  if (idem_key.empty()) return std::nullopt;
  std::string id;
  {
    auto db = store_.open_reader();
    auto f = db.prepare("SELECT id FROM payments WHERE source = ?1 AND idem_key = ?2");
    f.bind(1, source).bind(2, idem_key);
    if (!f.step()) return std::nullopt;
    id = f.text(0);
  }
  return get(id);
}

bool Journal::transition(const std::string& id, std::initializer_list<State> from, State to,
                         const std::string& detail, const TerminalResult* r, bool outbox,
                         const std::string& audit_kind,
                         const std::function<void(store::Database&)>& also) {
  bool changed = false;
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    auto cur = db.prepare("SELECT state, room, kind, method, amount_fen, source FROM payments "
                          "WHERE id = ?1");
    cur.bind(1, id);
    if (!cur.step()) return;
    auto state = parse_state(cur.text(0));
    bool allowed = false;
    for (auto f : from) allowed = allowed || (state && *state == f);
    if (!allowed) return;
    auto up = db.prepare(
        "UPDATE payments SET state = ?2, updated_at = ?3, message = ?4, "
        "result_code = COALESCE(?5, result_code), auth_code = COALESCE(?6, auth_code), "
        "rrn = COALESCE(?7, rrn), card = COALESCE(?8, card) WHERE id = ?1");
    up.bind(1, id).bind(2, to_string(to)).bind(3, ts).bind(4, detail);
    if (r) up.bind(5, r->code).bind(6, r->auth_code).bind(7, r->rrn).bind(8, r->card);
    up.run();
    if (also) also(db);
    if (outbox) {
      record::Payment rec;
      rec.ts = ts;
      rec.payment_id = id;
      rec.status = to_string(to);
      rec.room = cur.text(1);
      rec.payment_kind = cur.text(2);
      rec.method = cur.text(3);
      rec.amount_fen = cur.int64(4);
      rec.source = cur.text(5);
      if (r) {
        rec.result_code = r->code;
        rec.auth_code = r->auth_code;
        rec.rrn = r->rrn;
        rec.card = r->card;
      }
      auto appended = record::append(db, gateway_id_, rec);
      db.prepare("UPDATE payments SET outbox_seq = ?2 WHERE id = ?1")
          .bind(1, id).bind(2, appended.seq).run();
    }
    db.prepare("INSERT INTO payment_transitions(payment_id, state, ts, detail) "
               "VALUES(?1, ?2, ?3, ?4)")
        .bind(1, id).bind(2, to_string(to)).bind(3, ts).bind(4, detail).run();
    audit_payment(db, audit_kind, ts, "system", id, cur.text(1), to_string(to), cur.int64(4),
                  detail);
    // The alarm payment_attention (device: the payment id): raised when the terminal's answer is
    // unknown, cleared once the payment is resolved, in the transaction of the change.
    if ((to == State::unknown) != (*state == State::unknown)) {
      record::Alarm alarm;
      alarm.ts = ts;
      alarm.alarm = "payment_attention";
      alarm.device = id;
      if (to == State::unknown) {
        alarm.severity = record::Severity::major;
        // A QR payment is charged by the platform, a card by the terminal.
        const std::string who = cur.text(3) == "card" ? "terminal" : "platform";
        alarm.detail = "payment of " + std::to_string(cur.int64(4)) + " fen for " + cur.text(1) +
                       ": the " + who + "'s answer is unknown (" + detail + ")";
      } else {
        alarm.state = record::AlarmState::cleared;
        alarm.severity = record::Severity::info;
        alarm.detail = "payment resolved: " + std::string(to_string(to));
      }
      record::transition(db, gateway_id_, alarm);
    }
    changed = true;
  });
  return changed;
}

bool Journal::to_authorising(const std::string& id) {
  return transition(id, {State::intent}, State::authorising, "sale sent to the terminal", nullptr,
                    false);
}

namespace {

// The row's fields a request to the platform repeats.
template <typename R>
bool fill_request(store::Database& db, const std::string& id, R& r) {
  auto cur = db.prepare("SELECT room, kind, method, amount_fen FROM payments WHERE id = ?1");
  cur.bind(1, id);
  if (!cur.step()) return false;
  r.payment_id = id;
  r.room = cur.text(0);
  r.payment_kind = cur.text(1);
  r.method = cur.text(2);
  r.amount_fen = cur.int64(3);
  return true;
}

}  // namespace

bool Journal::to_authorising_qr(const std::string& id, const std::string& payment_code) {
  const auto ts = now();
  return transition(id, {State::intent}, State::authorising, "charge request sent to the platform",
                    nullptr, false, "money.payment", [&](store::Database& db) {
                      record::QrCharge r;
                      r.ts = ts;
                      fill_request(db, id, r);
                      r.auth_code = payment_code;
                      record::append(db, gateway_id_, r);
                    });
}

bool Journal::ask_qr(const std::string& id) {
  bool asked = false;
  const auto ts = now();
  store_.write_sync([&](store::Database& db) {
    auto st = db.prepare("SELECT state, method FROM payments WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) return;
    const auto state = st.text(0);
    const auto method = st.text(1);
    st.reset();
    if ((state != "authorising" && state != "unknown") || method == "card") return;
    auto waiting = db.prepare(
        "SELECT EXISTS(SELECT 1 FROM outbox WHERE stream = 'payment-requests' AND "
        "json_extract(payload, '$.payment_id') = ?1)");
    waiting.bind(1, id);
    waiting.step();
    if (waiting.int64(0) != 0) return;
    waiting.reset();
    record::QrQuery q;
    q.ts = ts;
    if (!fill_request(db, id, q)) return;
    record::append(db, gateway_id_, q);
    asked = true;
  });
  return asked;
}

bool Journal::to_unknown(const std::string& id, const std::string& why) {
  return transition(id, {State::authorising, State::unknown}, State::unknown, why, nullptr, false);
}

bool Journal::to_approved(const std::string& id, const TerminalResult& r) {
  return transition(id, {State::authorising, State::unknown}, State::approved, r.message, &r, true);
}

bool Journal::to_declined(const std::string& id, const TerminalResult& r) {
  return transition(id, {State::intent, State::authorising, State::unknown}, State::declined,
                    r.message, &r, true);
}

bool Journal::to_reversed(const std::string& id, const TerminalResult& r) {
  return transition(id, {State::authorising, State::unknown, State::approved}, State::declined,
                    r.message, &r, true, "money.reversal");
}

bool Journal::to_receipt_printed(const std::string& id) {
  bool changed = false;
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    // Uploaded before the receipt came out (a reprint after paper ran out): straight to uploaded.
    auto up = db.prepare(
        "UPDATE payments SET state = CASE WHEN uploaded_at IS NULL THEN 'receipt_printed' "
        "ELSE 'uploaded' END, receipt_attempts = receipt_attempts + 1, receipt_error = NULL, "
        "updated_at = ?2 WHERE id = ?1 AND state = 'approved' RETURNING state, room, amount_fen");
    up.bind(1, id).bind(2, ts);
    if (!up.step()) return;
    auto state = up.text(0);
    auto room = up.text(1);
    auto amount = up.int64(2);
    up.reset();
    audit_payment(db, "money.payment", ts, "system", id, room, state, amount, "receipt printed");
    db.prepare("INSERT INTO payment_transitions(payment_id, state, ts, detail) "
               "VALUES(?1, ?2, ?3, 'receipt printed')")
        .bind(1, id).bind(2, state).bind(3, ts).run();
    changed = true;
  });
  return changed;
}

void Journal::report_uncredited(const std::string& id, const std::string& error) {
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    auto cur = db.prepare("SELECT room, kind, amount_fen FROM payments WHERE id = ?1");
    cur.bind(1, id);
    if (!cur.step()) return;
    record::PaymentCreditFailed ev;
    ev.ts = ts;
    ev.payment_id = id;
    ev.room = cur.text(0);
    ev.payment_kind = cur.text(1);
    ev.amount_fen = cur.int64(2);
    ev.error = error.substr(0, 500);
    cur.reset();
    auto out = record::append(db, gateway_id_, ev);
    const std::string& text = out.payload;
    db.prepare("INSERT INTO events(ts, kind, source, detail, seq) VALUES(?1, ?2, ?3, ?4, ?5)")
        .bind(1, ts).bind(2, "payment.credit_failed").bind(3, "kiosk").bind(4, text)
        .bind(5, out.seq).run();
  });
}

void Journal::record_receipt_failure(const std::string& id, const std::string& error) {
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    db.prepare("UPDATE payments SET receipt_attempts = receipt_attempts + 1, receipt_error = ?2, "
               "updated_at = ?3 WHERE id = ?1")
        .bind(1, id).bind(2, error).bind(3, ts).run();
  });
}

void Journal::record_settlement(const std::string& id, const Settlement& s) {
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    db.prepare("UPDATE payments SET applied = 1, settled_fen = ?2, topped_up_fen = ?3, "
               "balance_after_fen = ?4, updated_at = ?5 WHERE id = ?1")
        .bind(1, id).bind(2, s.settled_fen).bind(3, s.topped_up_fen).bind(4, s.balance_after_fen)
        .bind(5, ts).run();
    for (const auto& [bill, fen] : s.paid) {
      db.prepare("INSERT OR REPLACE INTO payment_allocations(payment_id, bill, amount_fen) "
                 "VALUES(?1, ?2, ?3)")
          .bind(1, id).bind(2, bill).bind(3, fen).run();
    }
  });
}

int Journal::mark_uploaded() {
  {
    // Most passes find nothing: look with a reader before taking the writer.
    auto db = store_.open_reader();
    if (db.query_int("SELECT EXISTS(SELECT 1 FROM payments WHERE outbox_seq IS NOT NULL AND "
                     "uploaded_at IS NULL)") == 0) {
      return 0;
    }
  }
  int changed = 0;
  auto ts = now();
  store_.write_sync([&](store::Database& db) {
    auto up = db.prepare(
        "UPDATE payments SET uploaded_at = ?1, updated_at = ?1, state = CASE WHEN state = "
        "'receipt_printed' THEN 'uploaded' ELSE state END WHERE outbox_seq IS NOT NULL AND "
        "uploaded_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = "
        "payments.outbox_seq) RETURNING id, state, room, amount_fen");
    up.bind(1, ts);
    struct Row {
      std::string id, state, room;
      Fen amount_fen;
    };
    std::vector<Row> rows;
    while (up.step()) rows.push_back({up.text(0), up.text(1), up.text(2), up.int64(3)});
    up.reset();
    for (const auto& r : rows) {
      if (r.state != "uploaded") continue;
      db.prepare("INSERT INTO payment_transitions(payment_id, state, ts, detail) "
                 "VALUES(?1, 'uploaded', ?2, 'broker acknowledged')")
          .bind(1, r.id).bind(2, ts).run();
      audit_payment(db, "money.payment", ts, "system", r.id, r.room, "uploaded", r.amount_fen,
                    "broker acknowledged");
    }
    changed = static_cast<int>(rows.size());
  });
  return changed;
}

std::optional<Payment> Journal::get(const std::string& id) const {
  auto rows = query(store_, "id = ?1", id);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::vector<Payment> Journal::in_state(State s) const {
  return query(store_, "state = ?1", std::string(to_string(s)));
}

std::vector<Payment> Journal::unapplied_approved() const {
  return query(store_, "applied = 0 AND state IN ('approved', 'receipt_printed', 'uploaded')");
}

std::vector<Payment> Journal::unprinted() const {
  return query(store_, "applied = 1 AND state = 'approved' AND receipt_attempts = 0");
}

std::vector<std::pair<std::string, std::int64_t>> Journal::count_by_state() const {
  auto db = store_.open_reader();
  auto st = db.prepare("SELECT state, COUNT(*) FROM payments GROUP BY state");
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (st.step()) out.emplace_back(st.text(0), st.int64(1));
  return out;
}

}  // namespace estate::kiosk
