#include "daemon/parking/sessions.hpp"

#include "daemon/access/credential_hash.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

namespace estate::parking {

std::string_view to_string(ExitAction a) {
  switch (a) {
    case ExitAction::open: return "open";
    case ExitAction::wait_payment: return "wait_payment";
    case ExitAction::call_guard: return "call_guard";
  }
  return "call_guard";
}

struct ParkingSessions::Row {
  std::int64_t id = 0;
  std::string holder;
  std::string rule;
  std::string vehicle_class;
  Instant entry;
  std::string state;
  std::int64_t fee_fen = 0;
  std::int64_t paid_fen = 0;
  std::optional<std::int64_t> paid_utc;
};

ParkingSessions::ParkingSessions(store::Store& store, std::string gateway_id,
                                 ParkingSettings settings, CredentialHash hash)
    : store_(store),
      hash_(std::move(hash)),
      gateway_id_(std::move(gateway_id)),
      settings_(std::move(settings)) {
  // Sessions written before parking schema 3 hold the plate or card itself.
  store_.write_sync([this](store::Database& db) {
    std::vector<std::tuple<std::int64_t, std::string, std::string>> clear;
    auto st = db.prepare(
        "SELECT id, credential_kind, credential FROM parking_sessions WHERE shown = ''");
    while (st.step()) {
      if (!access::is_credential_hash(st.text(2))) clear.emplace_back(st.int64(0), st.text(1), st.text(2));
    }
    auto up = db.prepare("UPDATE parking_sessions SET credential = ?2, shown = ?3 WHERE id = ?1");
    for (const auto& [id, kind_text, value] : clear) {
      const auto kind = access::kind_from_string(kind_text).value_or(access::CredentialKind::plate);
      up.bind(1, id).bind(2, key_of(kind, value)).bind(3, access::shown_credential(kind, value)).run();
    }
    if (!clear.empty()) spdlog::info("parking: {} sessions now keep their credential hashed", clear.size());
  });
}

std::string ParkingSessions::key_of(access::CredentialKind kind,
                                    const std::string& credential) const {
  return hash_(kind, credential);
}

void ParkingSessions::set_settings(ParkingSettings settings) {
  std::lock_guard lock(mutex_);
  settings_ = std::move(settings);
}

std::optional<ParkingSessions::Row> ParkingSessions::open_session(store::Database& db,
                                                                  access::CredentialKind kind,
                                                                  const std::string& credential) {
  auto st = db.prepare(
      "SELECT id, holder, rule, vehicle_class, entry_utc, entry_offset, state, "
      "coalesce(fee_fen, 0), paid_fen, paid_utc FROM parking_sessions "
      "WHERE credential_kind = ?1 AND credential = ?2 AND state != 'closed' "
      "ORDER BY id DESC LIMIT 1");
  st.bind(1, access::to_string(kind)).bind(2, credential);
  if (!st.step()) return std::nullopt;
  Row r;
  r.id = st.int64(0);
  r.holder = st.text(1);
  r.rule = st.text(2);
  r.vehicle_class = st.text(3);
  r.entry = Instant{st.int64(4), static_cast<int>(st.int64(5))};
  r.state = st.text(6);
  r.fee_fen = st.int64(7);
  r.paid_fen = st.int64(8);
  if (!st.is_null(9)) r.paid_utc = st.int64(9);
  return r;
}

void ParkingSessions::event(store::Database& db, const Instant& time, record::ParkingSession ev) {
  ev.ts = format_iso8601(time.utc_seconds, time.offset_minutes);
  record::append(db, gateway_id_, ev);
}

void ParkingSessions::manual_event(store::Database& db, const Instant& time, record::ManualOpen ev) {
  ev.ts = format_iso8601(time.utc_seconds, time.offset_minutes);
  record::append(db, gateway_id_, ev);
}

namespace {
record::ParkingSession step(record::ParkingSession::Step s, std::optional<std::int64_t> session,
                            const std::string& gate) {
  record::ParkingSession ev;
  ev.step = s;
  ev.session = session;
  ev.gate = gate;
  return ev;
}
}  // namespace

std::int64_t ParkingSessions::on_entry(const Passage& p) {
  if (!p.decision.lets_through()) return 0;
  std::lock_guard lock(mutex_);
  const bool charged = p.decision.verdict == access::Verdict::charge_as_visitor;
  std::string rule = charged ? settings_.visitor_rule : "";
  std::string vclass;
  if (charged) {
    // A class the visitor rule does not price is charged at the rule's own prices.
    if (const FeeRule* r = find_rule(settings_.rules, rule);
        r && r->find_class(p.decision.vehicle_class)) {
      vclass = p.decision.vehicle_class;
    }
  }
  std::int64_t id = 0;
  store_.write_sync([&](store::Database& db) {
    const std::string key = key_of(p.kind, p.credential);
    if (auto old = open_session(db, p.kind, key)) {
      auto st = db.prepare(
          "UPDATE parking_sessions SET state = 'closed', closed_utc = ?2 WHERE id = ?1");
      st.bind(1, old->id).bind(2, p.time.utc_seconds);
      st.run();
      auto ev = step(record::ParkingSession::Step::superseded, old->id, p.gate);
      ev.credential = access::shown_credential(p.kind, p.credential);
      ev.reason = "entered again without a recorded exit";
      event(db, p.time, std::move(ev));
    }
    auto st = db.prepare(
        "INSERT INTO parking_sessions(credential_kind, credential, holder, rule, vehicle_class, "
        "entry_lane, entry_utc, entry_offset, snapshot, state, shown) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'parked', ?10)");
    st.bind(1, access::to_string(p.kind)).bind(2, key);
    st.bind(10, access::shown_credential(p.kind, p.credential));
    st.bind(3, access::to_string(p.decision.holder)).bind(4, rule).bind(5, vclass);
    st.bind(6, p.gate).bind(7, p.time.utc_seconds).bind(8, p.time.offset_minutes);
    st.bind(9, p.snapshot);
    st.run();
    id = sqlite3_last_insert_rowid(db.handle());
    auto ev = step(record::ParkingSession::Step::entry, id, p.gate);
    ev.credential = access::shown_credential(p.kind, p.credential);
    ev.holder = access::to_string(p.decision.holder);
    ev.rule = rule;
    ev.snapshot = p.snapshot;
    event(db, p.time, std::move(ev));
  });
  return id;
}

ExitResult ParkingSessions::on_exit(const Passage& p) {
  std::lock_guard lock(mutex_);
  ExitResult out;
  store_.write_sync([&](store::Database& db) {
    out = ExitResult{};
    const std::string shown = access::shown_credential(p.kind, p.credential);
    auto close = [&](std::int64_t id) {
      auto st = db.prepare(
          "UPDATE parking_sessions SET state = 'closed', exit_lane = ?2, exit_utc = ?3, "
          "closed_utc = ?3 WHERE id = ?1");
      st.bind(1, id).bind(2, p.gate).bind(3, p.time.utc_seconds);
      st.run();
    };
    if (!p.decision.lets_through()) {
      out.action = ExitAction::call_guard;
      out.reason = "exit denied: " + p.decision.reason;
      auto ev = step(record::ParkingSession::Step::exit_denied, std::nullopt, p.gate);
      ev.credential = shown;
      ev.reason = p.decision.reason;
      event(db, p.time, std::move(ev));
      return;
    }
    auto row = open_session(db, p.kind, key_of(p.kind, p.credential));
    if (!row) {
      out.action = ExitAction::call_guard;
      out.reason = "no entry record (lost or misread plate)";
      auto ev = step(record::ParkingSession::Step::no_entry_record, std::nullopt, p.gate);
      ev.credential = shown;
      ev.snapshot = p.snapshot;
      event(db, p.time, std::move(ev));
      return;
    }
    out.session_id = row->id;
    if (row->rule.empty()) {
      out.action = ExitAction::open;
      out.reason = "free (" + row->holder + ")";
      close(row->id);
      auto ev = step(record::ParkingSession::Step::exit, row->id, p.gate);
      ev.credential = shown;
      ev.fee_fen = 0;
      ev.reason = out.reason;
      event(db, p.time, std::move(ev));
      return;
    }
    if (row->paid_utc && p.time.utc_seconds - *row->paid_utc <=
                             static_cast<std::int64_t>(settings_.grace_minutes) * 60) {
      out.action = ExitAction::open;
      out.reason = "paid; within " + std::to_string(settings_.grace_minutes) + " min grace";
      close(row->id);
      auto ev = step(record::ParkingSession::Step::exit, row->id, p.gate);
      ev.credential = shown;
      ev.fee_fen = row->paid_fen;
      ev.reason = out.reason;
      event(db, p.time, std::move(ev));
      return;
    }
    const FeeRule* rule = find_rule(settings_.rules, row->rule);
    if (!rule) {
      out.action = ExitAction::call_guard;
      out.reason = "parking rule '" + row->rule + "' is not configured";
      auto ev = step(record::ParkingSession::Step::rule_missing, row->id, p.gate);
      ev.rule = row->rule;
      event(db, p.time, std::move(ev));
      return;
    }
    FeeError fe;
    auto q = compute_fee(*rule, row->entry, p.time, row->vehicle_class, fe);
    if (!q) {
      out.action = ExitAction::call_guard;
      out.reason = fe.message;
      auto ev = step(record::ParkingSession::Step::fee_error, row->id, p.gate);
      ev.reason = fe.message;
      event(db, p.time, std::move(ev));
      return;
    }
    out.quote = q;
    out.due_fen = q->fee_fen - row->paid_fen;
    auto ev = step(record::ParkingSession::Step::exit, row->id, p.gate);
    ev.credential = shown;
    ev.fee = to_json(*q);
    ev.paid_fen = row->paid_fen;
    ev.due_fen = std::max<std::int64_t>(out.due_fen, 0);
    if (out.due_fen <= 0) {
      out.due_fen = 0;
      out.action = ExitAction::open;
      out.reason = row->paid_fen > 0 ? "paid" : "free";
      close(row->id);
    } else {
      out.action = ExitAction::wait_payment;
      out.reason = "fee due";
      auto st = db.prepare(
          "UPDATE parking_sessions SET state = 'awaiting_payment', exit_lane = ?2, "
          "exit_utc = ?3, fee_fen = ?4 WHERE id = ?1");
      st.bind(1, row->id).bind(2, p.gate).bind(3, p.time.utc_seconds).bind(4, q->fee_fen);
      st.run();
    }
    ev.action = std::string(to_string(out.action));
    event(db, p.time, std::move(ev));
  });
  return out;
}

PayResult ParkingSessions::pay(std::int64_t session_id, std::int64_t amount_fen,
                               const std::string& reference, const Instant& time,
                               std::optional<Instant> priced_at, const PaidHook& in_transaction) {
  std::lock_guard lock(mutex_);
  PayResult out;
  store_.write_sync([&](store::Database& db) {
    out = PayResult{};
    auto st = db.prepare(
        "SELECT state, rule, vehicle_class, entry_utc, entry_offset, coalesce(fee_fen, 0), "
        "paid_fen, coalesce(payment_ref, ''), coalesce(exit_lane, '') FROM parking_sessions "
        "WHERE id = ?1");
    st.bind(1, session_id);
    if (!st.step()) {
      out.error = "no parking session " + std::to_string(session_id);
      return;
    }
    const std::string state = st.text(0);
    const std::string rule_id = st.text(1);
    const std::string vclass = st.text(2);
    const Instant entry{st.int64(3), static_cast<int>(st.int64(4))};
    std::int64_t fee = st.int64(5);
    const std::int64_t paid = st.int64(6);
    const std::string last_ref = st.text(7);
    const std::string exit_gate = st.text(8);
    if (!reference.empty() && reference == last_ref) {
      out.ok = true;
      out.repeated = true;
      out.paid_fen = paid;
      return;
    }
    if (amount_fen <= 0) {
      out.error = "amount_fen must be above zero";
      return;
    }
    if (state == "closed" || state == "paid") {
      out.error = "session " + std::to_string(session_id) + " is " + state;
      return;
    }
    if (state == "parked") {
      // Paying ahead (kiosk or QR before driving to the exit): priced at the time of payment.
      const FeeRule* rule = find_rule(settings_.rules, rule_id);
      FeeError fe;
      std::optional<FeeQuote> q;
      if (rule) q = compute_fee(*rule, entry, priced_at.value_or(time), vclass, fe);
      if (!q) {
        out.error = rule ? fe.message : "session " + std::to_string(session_id) + " is free";
        return;
      }
      fee = q->fee_fen;
    }
    const std::int64_t due = fee - paid;
    if (amount_fen != due) {
      out.error = "amount " + std::to_string(amount_fen) + " fen does not match the " +
                  std::to_string(due) + " fen due";
      return;
    }
    out.ok = true;
    out.open_gate = state == "awaiting_payment";
    out.paid_fen = paid + amount_fen;
    if (out.open_gate) out.gate = exit_gate;
    auto up = db.prepare(
        "UPDATE parking_sessions SET state = ?2, fee_fen = ?3, paid_fen = paid_fen + ?4, "
        "paid_utc = ?5, payment_ref = ?6, closed_utc = CASE WHEN ?2 = 'closed' THEN ?5 END "
        "WHERE id = ?1");
    up.bind(1, session_id).bind(2, out.open_gate ? "closed" : "paid").bind(3, fee);
    up.bind(4, amount_fen).bind(5, time.utc_seconds).bind(6, reference);
    up.run();
    auto ev = step(record::ParkingSession::Step::paid, session_id, "");
    ev.amount_fen = amount_fen;
    ev.reference = reference;
    ev.open_gate = out.open_gate;
    event(db, time, std::move(ev));
    if (in_transaction) in_transaction(db, out);
  });
  return out;
}

std::optional<SessionView> ParkingSessions::find_open(access::CredentialKind kind,
                                                      const std::string& credential,
                                                      const Instant& now) {
  return find_view("credential_kind = ?1 AND credential = ?2 AND state != 'closed'",
                   [&](store::Statement& st) {
                     st.bind(1, access::to_string(kind)).bind(2, key_of(kind, credential));
                   },
                   now);
}

std::optional<SessionView> ParkingSessions::find_session(std::int64_t session_id,
                                                         const Instant& now) {
  return find_view("id = ?1", [&](store::Statement& st) { st.bind(1, session_id); }, now);
}

std::optional<SessionView> ParkingSessions::find_view(
    const char* where, const std::function<void(store::Statement&)>& bind, const Instant& now) {
  std::lock_guard lock(mutex_);
  std::optional<SessionView> out;
  store_.write_sync([&](store::Database& db) {
    out.reset();
    auto st = db.prepare(
        std::string("SELECT id, holder, rule, vehicle_class, entry_utc, entry_offset, state, "
                    "coalesce(fee_fen, 0), paid_fen, entry_lane, coalesce(exit_lane, ''), "
                    "credential_kind, shown FROM parking_sessions WHERE ") +
        where + " ORDER BY id DESC LIMIT 1");
    bind(st);
    if (!st.step()) return;
    SessionView v;
    v.id = st.int64(0);
    v.kind = access::kind_from_string(st.text(11)).value_or(access::CredentialKind::plate);
    v.credential = st.text(12);
    v.holder = st.text(1);
    v.rule = st.text(2);
    const std::string vclass = st.text(3);
    v.entry = Instant{st.int64(4), static_cast<int>(st.int64(5))};
    v.state = st.text(6);
    v.fee_fen = st.int64(7);
    v.paid_fen = st.int64(8);
    v.entry_gate = st.text(9);
    if (v.state == "awaiting_payment") v.exit_gate = st.text(10);
    if (!v.rule.empty() && (v.state == "parked" || v.state == "paid")) {
      if (const FeeRule* rule = find_rule(settings_.rules, v.rule)) {
        FeeError fe;
        v.quote = compute_fee(*rule, v.entry, now, vclass, fe);
        if (v.quote) v.fee_fen = v.quote->fee_fen;
      }
    }
    v.due_fen = v.state == "closed" ? 0 : std::max<std::int64_t>(0, v.fee_fen - v.paid_fen);
    out = std::move(v);
  });
  return out;
}

void ParkingSessions::manual_open(const std::string& gate, const std::string& reason,
                                  const Instant& time, const std::optional<audit::Entry>& audit) {
  spdlog::warn("gate {}: opened by hand ({})", gate, reason);
  store_.write_sync([&](store::Database& db) {
    record::ManualOpen ev;
    ev.gate = gate;
    ev.reason = reason;
    manual_event(db, time, std::move(ev));
    if (audit) audit::append(db, *audit);
  });
}

}  // namespace estate::parking
