// Uplink records: the typed values every domain hands to the outbox, and their one JSON
// encoding. A record leaves as {"v":2,"id","seq","ts","kind",...members}; `kind` always names
// the record type in a dotted vocabulary ("reading", "payment", "charge", "gate.access",
// "parking.exit", "billing.low_balance", "alarm", "audit.anchor", "gateway.heartbeat"...).
// docs/mqtt-api.md documents each stream and docs/schemas/<stream>.schema.json is the contract
// (tests validate what is published against it).
//
// append(db, gateway, record) encodes the record once, inside the caller's store transaction,
// with the next gateway-wide seq (store::append_outbox_encoded): nothing is parsed or dumped
// again, so a reading's decimal text ("1234.50") reaches the platform as the meter sent it.
// Thread-safety: plain values; append() runs on the store's writer thread (inside a job).
// Errors: append() throws store::Error when the store fails, std::invalid_argument when a
// record's free-form detail would overwrite one of its typed members.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/sqlite.hpp"
#include "drivers/meter/reading.hpp"

namespace estate::record {

// The envelope's `v`. 2: `kind` names the record type on every record (v1 used `type` on most
// events), payment/charge kinds moved to `payment_kind`/`charge_kind`, reading values are
// decimal strings.
inline constexpr int envelope_version = 2;

struct Appended {
  std::int64_t seq = 0;
  std::string id;       // "<gateway>-<seq>"
  std::string payload;  // the record exactly as stored and published
};

// ---- readings -------------------------------------------------------------------------
struct Reading {
  std::string ts;
  std::string meter;
  std::string medium;
  std::string quantity;
  drivers::Decimal value;  // leaves as a JSON string: the meter's exact decimal text
  std::string unit;
  drivers::Quality quality = drivers::Quality::good;
  std::optional<drivers::Decimal> delta;  // also a decimal string
  std::uint32_t storage = 0;  // M-Bus stored value N ("storage": N); 0: current, not written
  std::uint32_t tariff = 0;   // M-Bus tariff N under the base quantity ("tariff": N); 0: not written
  std::uint32_t subunit = 0;  // M-Bus subunit N ("subunit": N); 0: the meter itself, not written
  std::string meter_time;     // the meter's own clock for the value ("meter_time"), when sent
};

// ---- alarms ---------------------------------------------------------------------------
enum class Severity { critical, major, minor, warning, info };
enum class AlarmState { raised, cleared };
std::string_view to_string(Severity s);
std::string_view to_string(AlarmState s);

// {"kind":"alarm","alarm":"backup_failed","state":"raised","severity":"critical",
//  "device":"<optional>","detail":"..."} on stream "alarms". `alarm` names the condition
// (snake_case: backup_failed, meter_offline, leak, barrier_fault, disk_pressure...); a raised
// alarm is later cleared by a record with the same `alarm` and `device`.
struct Alarm {
  std::string ts;
  std::string alarm;
  AlarmState state = AlarmState::raised;
  Severity severity = Severity::major;
  std::string device;  // empty: the gateway itself (member omitted)
  std::string detail;
};

// ---- transactions (money) ---------------------------------------------------------------
// A kiosk/POS payment moving through its journal states ("payment").
struct Payment {
  std::string ts;
  std::string payment_id;
  std::string status;        // approved, declined ... (the journal's state)
  std::string room;
  std::string payment_kind;  // topup, parking ...
  std::string method;
  std::int64_t amount_fen = 0;
  std::string source;
  std::optional<std::string> result_code;
  std::string auth_code, rrn, card;  // omitted when empty
};

// A charge posted to a room's account ("charge"): usage, shared (公摊), late_fee.
struct Charge {
  std::string ts;
  std::string charge_kind;
  std::string ref;
  std::string room;
  std::optional<std::string> meter;
  std::optional<std::int64_t> reading_seq;
  std::optional<std::string> usage;  // decimal text
  std::int64_t amount_fen = 0;
  std::int64_t balance_fen = 0;
  // The charge kind's breakdown (usage: tariff, cycle, exact, lines; shared: shared_meter,
  // period, common_usage, common_total_fen, weight; late_fee: principal_fen, days_overdue,
  // fee_to_date_fen), added as members; docs/schemas/transactions.schema.json lists them.
  nlohmann::ordered_json detail = nlohmann::ordered_json::object();
};

// Money credited to a room's account ("topup").
struct Topup {
  std::string ts;
  std::string ref;
  std::string room;
  std::string source;
  std::int64_t amount_fen = 0;
  std::int64_t balance_fen = 0;
};

// ---- payment-requests (asks to the platform) -------------------------------------------
// A QR payment-code payment the platform is asked to charge with its acquirer
// ("payment.qr_charge", stream "payment-requests"): the payer's one-time payment code travels
// here and nowhere else. And the question about one whose answer did not come
// ("payment.qr_query"): no code, the platform answers from what it holds for payment_id.
struct QrCharge {
  std::string ts;
  std::string payment_id, room, payment_kind, method;  // method: wechat | alipay
  std::int64_t amount_fen = 0;
  std::string auth_code;  // the scanned payment code
};
struct QrQuery {
  std::string ts;
  std::string payment_id, room, payment_kind, method;
  std::int64_t amount_fen = 0;
};

// ---- bills ----------------------------------------------------------------------------
// A room's bill for one billing period ("bill", stream "bills"; docs/billing.md): sent when it
// is issued and again whenever what it owes changes (`change`: issued, payment, late_fee).
// Times are ISO 8601 in site time; unpaid_fen = amount_fen + late_fee_fen - paid_fen.
struct Bill {
  std::string ts;
  std::string change;
  std::string room, period, from, to, issued, due;
  std::int64_t amount_fen = 0, late_fee_fen = 0, paid_fen = 0;
  std::string status;  // open | partially_paid | paid
};

// ---- events ---------------------------------------------------------------------------
// A gate's access decision ("gate.access").
struct AccessDecision {
  std::string ts;
  std::string gate, lane, credential_kind, credential, verdict, reason, holder;
  std::string room;                        // omitted when empty
  std::optional<int> arrears_level;
  std::string pass_id;                     // omitted when empty
  std::optional<std::int64_t> pass_uses;
  std::string credential_hash;
  // A plate camera's read: {"device", "model", "colour"?, "confidence"?, "channel"?,
  // "snapshot"?} (docs/schemas/events.schema.json); omitted for other credentials.
  std::optional<nlohmann::ordered_json> camera;
};

// An access list version applied ("access.list_applied").
struct ListApplied {
  std::string ts;
  std::string list;
  std::int64_t version = 0;
  std::int64_t entries = 0;
};

// A barrier's held close or fault ("gate.barrier_close_held", "gate.barrier_fault").
struct BarrierEvent {
  enum class What { close_held, fault };
  std::string ts;
  What what = What::fault;
  std::string gate;
  std::string detail;  // omitted when empty
};

// A gate opened by hand ("gate.manual_open").
struct ManualOpen {
  std::string ts;
  std::string gate;
  std::string reason;
};

// A parking session's steps ("parking.entry", "parking.exit", "parking.paid", ...).
struct ParkingSession {
  enum class Step { entry, exit, exit_denied, no_entry_record, superseded, rule_missing,
                    fee_error, paid };
  std::string ts;
  Step step = Step::entry;
  std::optional<std::int64_t> session;
  std::string gate, credential, holder, reason, snapshot, reference, action;  // omitted if empty
  std::optional<std::string> rule;
  std::optional<std::int64_t> fee_fen, paid_fen, due_fen, amount_fen;
  std::optional<bool> open_gate;
  std::optional<nlohmann::ordered_json> fee;  // the fee quote (parking::to_json(FeeQuote))
};

// A platform supply command's outcome ("supply.command").
struct SupplyCommand {
  std::string ts;
  std::string command_id, meter, action;
  bool ok = false;
  std::string detail;
};

// A kiosk payment whose credit to the account failed ("payment.credit_failed").
struct PaymentCreditFailed {
  std::string ts;
  std::string payment_id, room, payment_kind;
  std::int64_t amount_fen = 0;
  std::string error;
};

// Billing's events ("billing.<name>": low_balance, balance_exhausted, balance_restored,
// supply_warning, supply_action_requested, supply_action_result, shared_allocated,
// shared_waiting, shared_loss, arrears_list_applied ...). Members are omitted when unset.
struct BillingEvent {
  std::string ts;
  std::string name;  // the part after "billing."
  std::optional<std::string> room, meter, action, reason, policy, detail, shared_meter, period,
      from, to, master_usage, sub_usage, common_usage, alert_percent;
  std::optional<std::int64_t> action_id, balance_fen, threshold_fen, credit_limit_fen,
      grace_minutes, total_fen, rooms, version, entries;
  std::optional<bool> ok;
};

// Telemetry dropped under disk pressure ("storage.pressure").
struct StoragePressure {
  std::string ts;
  std::string reason;  // low_disk_space, store_over_budget
  std::int64_t free_bytes = 0, store_bytes = 0, dropped_records = 0, dropped_readings = 0;
  std::vector<std::pair<std::string, std::int64_t>> streams;  // dropped per stream
};

// The gateway's heartbeat ("gateway.heartbeat"; droppable telemetry).
// One meter bus's health in a heartbeat: the bus's state (up, down, starting), its devices per
// state and when one last answered properly (ISO 8601 in site time; absent: never).
struct BusHealth {
  std::string bus;
  std::string state;
  std::int64_t ok = 0, failing = 0, offline = 0;
  std::optional<std::string> last_success;
};
struct Heartbeat {
  std::string ts;
  std::int64_t uptime_s = 0;
  std::int64_t backlog = 0;                // undelivered outbox records
  std::optional<std::string> version;      // the daemon's version
  std::optional<std::vector<BusHealth>> buses;  // the meter buses (an empty list: none)
};

// ---- audit ----------------------------------------------------------------------------
// The audit log's head at a count ("audit.anchor").
struct AuditAnchor {
  std::string ts;
  std::int64_t count = 0;
  std::string head;
};

// A store restored from a backup ("audit.restore").
struct AuditRestore {
  std::string ts;
  std::string backup_created;
  std::int64_t restored_seq = 0, resumed_after_seq = 0, audit_count = 0;
  std::string audit_head;
};

// Encodes and appends one record on its stream (readings, alarms, transactions,
// payment-requests, bills, events, audit); see the header comment.
Appended append(store::Database& db, std::string_view gateway, const Reading& r);
Appended append(store::Database& db, std::string_view gateway, const Alarm& r);
Appended append(store::Database& db, std::string_view gateway, const Payment& r);
Appended append(store::Database& db, std::string_view gateway, const Charge& r);
Appended append(store::Database& db, std::string_view gateway, const Topup& r);
Appended append(store::Database& db, std::string_view gateway, const QrCharge& r);
Appended append(store::Database& db, std::string_view gateway, const QrQuery& r);
Appended append(store::Database& db, std::string_view gateway, const Bill& r);
Appended append(store::Database& db, std::string_view gateway, const AccessDecision& r);
Appended append(store::Database& db, std::string_view gateway, const ListApplied& r);
Appended append(store::Database& db, std::string_view gateway, const BarrierEvent& r);
Appended append(store::Database& db, std::string_view gateway, const ManualOpen& r);
Appended append(store::Database& db, std::string_view gateway, const ParkingSession& r);
Appended append(store::Database& db, std::string_view gateway, const SupplyCommand& r);
Appended append(store::Database& db, std::string_view gateway, const PaymentCreditFailed& r);
Appended append(store::Database& db, std::string_view gateway, const BillingEvent& r);
Appended append(store::Database& db, std::string_view gateway, const StoragePressure& r);
Appended append(store::Database& db, std::string_view gateway, const Heartbeat& r);
Appended append(store::Database& db, std::string_view gateway, const AuditAnchor& r);
Appended append(store::Database& db, std::string_view gateway, const AuditRestore& r);

// The record's `kind` (e.g. "parking.exit"), for local event rows that mirror the record.
std::string kind_of(const ParkingSession& r);
std::string kind_of(const BillingEvent& r);

}  // namespace estate::record
