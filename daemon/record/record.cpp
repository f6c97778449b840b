#include "daemon/record/record.hpp"

#include <stdexcept>

#include "daemon/store/store.hpp"

namespace estate::record {

namespace {

using json = nlohmann::ordered_json;

// One record: the envelope first, then `kind`, then the type's members in a fixed order.
class Body {
 public:
  explicit Body(std::string_view kind) { j_["kind"] = kind; }
  template <class T>
  Body& put(const char* key, const T& v) {
    j_[key] = v;
    return *this;
  }
  Body& text(const char* key, const std::string& v) {  // omitted when empty
    if (!v.empty()) j_[key] = v;
    return *this;
  }
  template <class T>
  Body& opt(const char* key, const std::optional<T>& v) {
    if (v) j_[key] = *v;
    return *this;
  }
  // Free-form members (a breakdown) after the typed ones; they never replace a typed member.
  Body& merge(const json& extra) {
    if (!extra.is_object()) throw std::invalid_argument("record detail is not a JSON object");
    for (const auto& [k, v] : extra.items()) {
      if (j_.contains(k) || k == "v" || k == "id" || k == "seq" || k == "ts") {
        throw std::invalid_argument("record detail would overwrite '" + k + "'");
      }
      j_[k] = v;
    }
    return *this;
  }
  const json& members() const { return j_; }

 private:
  json j_;
};

Appended emit(store::Database& db, std::string_view gateway, std::string_view stream,
              bool droppable, const std::string& ts, const Body& body) {
  Appended out;
  auto a = store::append_outbox_encoded(db, stream, droppable, gateway,
                                        [&](const store::OutboxAppend& e) {
                                          json env;
                                          env["v"] = envelope_version;
                                          env["id"] = e.id;
                                          env["seq"] = e.seq;
                                          env["ts"] = ts;
                                          for (const auto& [k, v] : body.members().items()) {
                                            env[k] = v;
                                          }
                                          out.payload = env.dump();
                                          return out.payload;
                                        });
  out.seq = a.seq;
  out.id = std::move(a.id);
  return out;
}

std::string_view step_name(ParkingSession::Step s) {
  using S = ParkingSession::Step;
  switch (s) {
    case S::entry: return "entry";
    case S::exit: return "exit";
    case S::exit_denied: return "exit_denied";
    case S::no_entry_record: return "no_entry_record";
    case S::superseded: return "superseded";
    case S::rule_missing: return "rule_missing";
    case S::fee_error: return "fee_error";
    case S::paid: return "paid";
  }
  return "unknown";
}

}  // namespace

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::critical: return "critical";
    case Severity::major: return "major";
    case Severity::minor: return "minor";
    case Severity::warning: return "warning";
    case Severity::info: return "info";
  }
  return "info";
}

std::string_view to_string(AlarmState s) {
  return s == AlarmState::raised ? "raised" : "cleared";
}

std::string kind_of(const ParkingSession& r) { return "parking." + std::string(step_name(r.step)); }
std::string kind_of(const BillingEvent& r) { return "billing." + r.name; }

Appended append(store::Database& db, std::string_view gateway, const Reading& r) {
  Body b("reading");
  b.put("meter", r.meter).put("medium", r.medium).put("quantity", r.quantity);
  b.put("value", r.value.to_string()).put("unit", r.unit);
  b.put("quality", drivers::to_string(r.quality));
  if (r.delta) b.put("delta", r.delta->to_string());
  if (r.storage != 0) b.put("storage", static_cast<std::int64_t>(r.storage));
  if (r.tariff != 0) b.put("tariff", static_cast<std::int64_t>(r.tariff));
  if (r.subunit != 0) b.put("subunit", static_cast<std::int64_t>(r.subunit));
  b.text("meter_time", r.meter_time);
  return emit(db, gateway, "readings", true, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const Alarm& r) {
  if (r.alarm.empty()) throw std::invalid_argument("an alarm record needs its alarm name");
  Body b("alarm");
  b.put("alarm", r.alarm).put("state", to_string(r.state)).put("severity", to_string(r.severity));
  b.text("device", r.device).put("detail", r.detail);
  return emit(db, gateway, "alarms", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const Payment& r) {
  Body b("payment");
  b.put("payment_id", r.payment_id).put("status", r.status).put("room", r.room);
  b.put("payment_kind", r.payment_kind).put("method", r.method).put("amount_fen", r.amount_fen);
  b.put("source", r.source).opt("result_code", r.result_code);
  b.text("auth_code", r.auth_code).text("rrn", r.rrn).text("card", r.card);
  return emit(db, gateway, "transactions", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const Charge& r) {
  Body b("charge");
  b.put("charge_kind", r.charge_kind).put("ref", r.ref).put("room", r.room);
  b.opt("meter", r.meter).opt("reading_seq", r.reading_seq).opt("usage", r.usage);
  b.put("amount_fen", r.amount_fen).put("balance_fen", r.balance_fen).merge(r.detail);
  return emit(db, gateway, "transactions", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const Topup& r) {
  Body b("topup");
  b.put("ref", r.ref).put("room", r.room).put("source", r.source);
  b.put("amount_fen", r.amount_fen).put("balance_fen", r.balance_fen);
  return emit(db, gateway, "transactions", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const QrCharge& r) {
  Body b("payment.qr_charge");
  b.put("payment_id", r.payment_id).put("room", r.room).put("payment_kind", r.payment_kind);
  b.put("method", r.method).put("amount_fen", r.amount_fen).put("auth_code", r.auth_code);
  return emit(db, gateway, "payment-requests", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const QrQuery& r) {
  Body b("payment.qr_query");
  b.put("payment_id", r.payment_id).put("room", r.room).put("payment_kind", r.payment_kind);
  b.put("method", r.method).put("amount_fen", r.amount_fen);
  return emit(db, gateway, "payment-requests", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const Bill& r) {
  Body b("bill");
  b.put("change", r.change).put("room", r.room).put("period", r.period);
  b.put("from", r.from).put("to", r.to).put("issued", r.issued).put("due", r.due);
  b.put("amount_fen", r.amount_fen).put("late_fee_fen", r.late_fee_fen);
  b.put("paid_fen", r.paid_fen).put("unpaid_fen", r.amount_fen + r.late_fee_fen - r.paid_fen);
  b.put("status", r.status);
  return emit(db, gateway, "bills", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const AccessDecision& r) {
  Body b("gate.access");
  b.put("gate", r.gate).put("lane", r.lane).put("credential_kind", r.credential_kind);
  b.put("credential", r.credential).put("verdict", r.verdict).put("reason", r.reason);
  b.put("holder", r.holder).text("room", r.room).opt("arrears_level", r.arrears_level);
  b.text("pass_id", r.pass_id).opt("pass_uses", r.pass_uses);
  b.put("credential_hash", r.credential_hash);
  if (r.camera) b.put("camera", *r.camera);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const ListApplied& r) {
  Body b("access.list_applied");
  b.put("list", r.list).put("version", r.version).put("entries", r.entries);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const BarrierEvent& r) {
  Body b(r.what == BarrierEvent::What::fault ? "gate.barrier_fault" : "gate.barrier_close_held");
  b.put("gate", r.gate).text("detail", r.detail);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const ManualOpen& r) {
  Body b("gate.manual_open");
  b.put("gate", r.gate).put("reason", r.reason);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const ParkingSession& r) {
  Body b(kind_of(r));
  b.opt("session", r.session).text("gate", r.gate).text("credential", r.credential);
  b.text("holder", r.holder).opt("rule", r.rule).text("snapshot", r.snapshot);
  b.opt("fee", r.fee).opt("fee_fen", r.fee_fen).opt("paid_fen", r.paid_fen);
  b.opt("due_fen", r.due_fen).opt("amount_fen", r.amount_fen).text("reference", r.reference);
  b.opt("open_gate", r.open_gate).text("action", r.action).text("reason", r.reason);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const SupplyCommand& r) {
  Body b("supply.command");
  b.put("command_id", r.command_id).put("meter", r.meter).put("action", r.action);
  b.put("ok", r.ok).put("detail", r.detail);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const PaymentCreditFailed& r) {
  Body b("payment.credit_failed");
  b.put("payment_id", r.payment_id).put("room", r.room).put("payment_kind", r.payment_kind);
  b.put("amount_fen", r.amount_fen).put("error", r.error);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const BillingEvent& r) {
  if (r.name.empty()) throw std::invalid_argument("a billing event needs its name");
  Body b(kind_of(r));
  b.opt("action_id", r.action_id).opt("room", r.room).opt("meter", r.meter);
  b.opt("shared_meter", r.shared_meter).opt("period", r.period).opt("from", r.from);
  b.opt("to", r.to).opt("action", r.action).opt("ok", r.ok).opt("reason", r.reason);
  b.opt("policy", r.policy).opt("threshold_fen", r.threshold_fen);
  b.opt("balance_fen", r.balance_fen).opt("credit_limit_fen", r.credit_limit_fen);
  b.opt("grace_minutes", r.grace_minutes).opt("master_usage", r.master_usage);
  b.opt("sub_usage", r.sub_usage).opt("common_usage", r.common_usage);
  b.opt("alert_percent", r.alert_percent).opt("total_fen", r.total_fen).opt("rooms", r.rooms);
  b.opt("version", r.version).opt("entries", r.entries).opt("detail", r.detail);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const StoragePressure& r) {
  Body b("storage.pressure");
  json streams = json::object();
  for (const auto& [stream, n] : r.streams) streams[stream] = n;
  b.put("source", "disk").put("reason", r.reason).put("free_bytes", r.free_bytes);
  b.put("store_bytes", r.store_bytes).put("dropped_records", r.dropped_records);
  b.put("dropped_readings", r.dropped_readings).put("streams", streams);
  return emit(db, gateway, "events", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const Heartbeat& r) {
  Body b("gateway.heartbeat");
  b.put("source", "gateway").put("uptime_s", r.uptime_s).put("backlog", r.backlog);
  b.opt("version", r.version);
  if (r.buses) {
    json buses = json::array();
    for (const auto& h : *r.buses) {
      json j{{"bus", h.bus}, {"state", h.state}, {"ok", h.ok}, {"failing", h.failing},
             {"offline", h.offline}};
      if (h.last_success) j["last_success"] = *h.last_success;
      buses.push_back(std::move(j));
    }
    b.put("buses", buses);
  }
  return emit(db, gateway, "events", true, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const AuditAnchor& r) {
  Body b("audit.anchor");
  b.put("count", r.count).put("head", r.head);
  return emit(db, gateway, "audit", false, r.ts, b);
}

Appended append(store::Database& db, std::string_view gateway, const AuditRestore& r) {
  Body b("audit.restore");
  b.put("backup_created", r.backup_created).put("restored_seq", r.restored_seq);
  b.put("resumed_after_seq", r.resumed_after_seq).put("audit_count", r.audit_count);
  b.put("audit_head", r.audit_head);
  return emit(db, gateway, "audit", false, r.ts, b);
}

}  // namespace estate::record
