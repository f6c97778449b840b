#include "daemon/store/schema.hpp"

#include <array>

namespace estate::store {

namespace {

// meta: gateway identity and settings. counters: monotonic numbers that must survive deletes
// (outbox_seq is never reused). outbox: every record for the platform, in seq order, until the
// broker acknowledged it. events: what happened on site (device faults, actions, decisions).
constexpr std::array<std::string_view, 1> core{{R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters(name, value) VALUES ('outbox_seq', 0);
CREATE TABLE outbox(
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  payload TEXT NOT NULL,
  droppable INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL);
CREATE TABLE stream_counts(
  stream TEXT PRIMARY KEY,
  appended INTEGER NOT NULL DEFAULT 0,
  acknowledged INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  detail TEXT NOT NULL,
  seq INTEGER);
CREATE INDEX events_ts ON events(ts);
)sql"}};

// bridge: downlink lists as the platform last sent them (versioned, applied atomically), the
// chunks of a list version still being received, and the answers given to command ids (a
// command re-delivered with the same id gets the same answer and is not applied twice).
// 2: bridge_commands holds every platform command's id, not only the lists': `state` is
// 'running' from before its handler runs until its answer is stored ('done'), and keep_until
// (UTC seconds) is when the command would be refused as late anyway.
constexpr std::array<std::string_view, 2> bridge{{R"sql(
CREATE TABLE bridge_lists(
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  items INTEGER NOT NULL,
  command_id TEXT NOT NULL,
  applied_at TEXT NOT NULL);
CREATE TABLE bridge_list_items(
  name TEXT NOT NULL,
  key TEXT NOT NULL,
  item TEXT NOT NULL,
  PRIMARY KEY(name, key)) WITHOUT ROWID;
CREATE TABLE bridge_list_chunks(
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  chunk INTEGER NOT NULL,
  chunks INTEGER NOT NULL,
  items TEXT NOT NULL,
  PRIMARY KEY(name, version, chunk));
CREATE TABLE bridge_commands(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL,
  result TEXT NOT NULL,
  received_at TEXT NOT NULL);
)sql",
                                                 R"sql(
ALTER TABLE bridge_commands ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
ALTER TABLE bridge_commands ADD COLUMN keep_until INTEGER NOT NULL DEFAULT 0;
)sql"}};

// billing (daemon/billing, docs/billing.md): money in integer fen only.
// accounts: one row per room: prepaid balance, supply state, low-balance thresholds announced,
// when the available balance reached zero and when the balance went below zero (overdue).
// cycles: running usage and exact amount (1e-7 yuan) per room/meter/tariff/cycle, and the fen
// already posted, so a charge posts round(total) - posted: splitting readings never changes a sum.
// charges: one row per money movement out; a reading's charge is UNIQUE on (meter, reading_seq),
// so it is posted exactly once however often it is offered. topups: UNIQUE ref (idempotent).
// actions: supply actions (valve/relay) and the device's answer. arrears_pushed: the platform's
// list (replaced whole, versioned in settings). shared_periods: one row per (shared meter,
// period): 'waiting' (a meter's readings do not yet cover the period; why) or 'allocated',
// written in the transaction that posts the shares, so a period is allocated exactly once.
// bills: one row per (room, billing period), UNIQUE, written with its charges' bill_id in one
// transaction, so a bill is issued exactly once; paid_fen and status follow the balance (oldest
// bill first), late fees accrue per bill (fee_days counted, fee_exact_e6 in 1e-6 fen). A charge's
// bill_id is NULL until a bill takes it (0: posted before bills existed); at_s its UTC seconds.
constexpr std::array<std::string_view, 3> billing{{R"sql(
CREATE TABLE billing_accounts(
  room TEXT PRIMARY KEY,
  balance_fen INTEGER NOT NULL DEFAULT 0,
  supply TEXT NOT NULL DEFAULT 'open',
  low_level INTEGER NOT NULL DEFAULT 0,
  exhausted_since INTEGER,
  overdue_since INTEGER,
  late_fee_fen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE billing_cycles(
  room TEXT NOT NULL,
  meter TEXT NOT NULL,
  tariff TEXT NOT NULL,
  cycle TEXT NOT NULL,
  usage_milli INTEGER NOT NULL,
  exact_e7 INTEGER NOT NULL,
  posted_fen INTEGER NOT NULL,
  PRIMARY KEY(room, meter, tariff, cycle));
CREATE TABLE billing_charges(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL UNIQUE,
  room TEXT NOT NULL,
  meter TEXT,
  reading_seq INTEGER,
  ts TEXT NOT NULL,
  usage_milli INTEGER,
  amount_fen INTEGER NOT NULL,
  balance_after_fen INTEGER NOT NULL,
  detail TEXT NOT NULL,
  UNIQUE(meter, reading_seq));
CREATE INDEX billing_charges_room ON billing_charges(room, id);
CREATE TABLE billing_topups(
  id INTEGER PRIMARY KEY,
  ref TEXT NOT NULL UNIQUE,
  room TEXT NOT NULL,
  amount_fen INTEGER NOT NULL,
  source TEXT NOT NULL,
  ts TEXT NOT NULL,
  balance_after_fen INTEGER NOT NULL);
CREATE TABLE billing_actions(
  id INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  meter TEXT NOT NULL,
  action TEXT NOT NULL,
  reason TEXT NOT NULL,
  state TEXT NOT NULL,
  requested_ts TEXT NOT NULL,
  answered_ts TEXT,
  detail TEXT);
CREATE TABLE billing_arrears_pushed(
  room TEXT PRIMARY KEY,
  level INTEGER NOT NULL);
CREATE TABLE billing_settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql", R"sql(
CREATE TABLE billing_shared_periods(
  shared_meter TEXT NOT NULL,
  period TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  master_usage_milli INTEGER,
  common_usage_milli INTEGER,
  total_fen INTEGER,
  ts TEXT NOT NULL,
  PRIMARY KEY(shared_meter, period));
)sql", R"sql(
ALTER TABLE billing_charges ADD COLUMN bill_id INTEGER;
ALTER TABLE billing_charges ADD COLUMN at_s INTEGER;
UPDATE billing_charges SET bill_id = 0;
CREATE INDEX billing_charges_bill ON billing_charges(room, bill_id);
CREATE TABLE billing_bills(
  id INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  period TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  issued_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  amount_fen INTEGER NOT NULL,
  late_fee_fen INTEGER NOT NULL DEFAULT 0,
  fee_days INTEGER NOT NULL DEFAULT 0,
  fee_exact_e6 INTEGER NOT NULL DEFAULT 0,
  paid_fen INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK(status IN ('open', 'partially_paid', 'paid')),
  UNIQUE(room, period));
CREATE INDEX billing_bills_room ON billing_bills(room, period_end);
)sql"}};

// audit (daemon/audit, docs/security.md): the hash-chained log, append-only. audit_head is the
// last entry (count + hash), moved forward by one with each entry; audit_anchors the heads sent
// to the platform. Triggers make UPDATE/DELETE fail (defence in depth: `audit verify` does not
// rely on them, the hash chain and the anchors catch tampering with the triggers dropped).
constexpr std::array<std::string_view, 1> audit{{R"sql(
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  unix_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  subject TEXT NOT NULL,
  room TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX audit_log_time ON audit_log(unix_ms);
CREATE INDEX audit_log_kind ON audit_log(kind, seq);
CREATE INDEX audit_log_room ON audit_log(room, seq) WHERE room <> '';
CREATE TABLE audit_head(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL);
INSERT INTO audit_head(id, seq, hash)
  VALUES(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit_anchors(
  id INTEGER PRIMARY KEY,
  count INTEGER NOT NULL,
  hash TEXT NOT NULL,
  ts TEXT NOT NULL,
  outbox_seq INTEGER NOT NULL);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
  BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
  BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head WHEN NEW.seq <> OLD.seq + 1
  BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward, one entry at a time'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
  BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END;
)sql"}};

// readings: validated meter readings (exact decimal text, quality, the billed delta) with the
// outbox seq of their record; bus_status/device_status: the meter buses' health counters,
// rewritten by the running daemon for `status` and /metrics.
// 2: quantities are the vocabulary's (drivers/meter/quantity.hpp): the old names are renamed so
// each register keeps its baseline; `billed` marks the meter's billed register (billing charges
// only from it), set for the registers the old name list billed (M-Bus "energy" becomes
// heat_energy: an M-Bus electricity meter's first reading after the upgrade is a new baseline).
// meter_alarms: the meter alarms raised and not yet cleared, one per (alarm, device)
// (daemon/metering/meter_alarms.hpp).
constexpr std::array<std::string_view, 2> readings{{R"sql(
CREATE TABLE readings(
  id INTEGER PRIMARY KEY,
  seq INTEGER,
  meter TEXT NOT NULL,
  quantity TEXT NOT NULL,
  value TEXT NOT NULL,
  unit TEXT NOT NULL,
  delta TEXT,
  quality TEXT NOT NULL,
  cumulative INTEGER NOT NULL DEFAULT 0,
  ts TEXT NOT NULL,
  ts_ms INTEGER NOT NULL);
CREATE INDEX readings_register ON readings(meter, quantity, id);
CREATE INDEX readings_time ON readings(ts_ms);
CREATE TABLE bus_status(
  bus TEXT PRIMARY KEY,
  protocol TEXT NOT NULL,
  link TEXT NOT NULL,
  state TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  timeouts INTEGER NOT NULL DEFAULT 0,
  crc_errors INTEGER NOT NULL DEFAULT 0,
  frame_errors INTEGER NOT NULL DEFAULT 0,
  polls_skipped INTEGER NOT NULL DEFAULT 0,
  last_success TEXT,
  updated_at TEXT NOT NULL);
CREATE TABLE device_status(
  device TEXT PRIMARY KEY,
  bus TEXT NOT NULL,
  state TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  timeouts INTEGER NOT NULL DEFAULT 0,
  crc_errors INTEGER NOT NULL DEFAULT 0,
  frame_errors INTEGER NOT NULL DEFAULT 0,
  polls INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  readings INTEGER NOT NULL DEFAULT 0,
  last_success TEXT,
  last_error TEXT,
  updated_at TEXT NOT NULL);
)sql",
                                                   R"sql(
ALTER TABLE readings ADD COLUMN billed INTEGER NOT NULL DEFAULT 0;
UPDATE readings SET quantity = CASE quantity
  WHEN 'energy_import' THEN 'active_energy_import'
  WHEN 'import_active_energy' THEN 'active_energy_import'
  WHEN 'export_active_energy' THEN 'active_energy_export'
  WHEN 'total_active_energy' THEN 'active_energy_total'
  WHEN 'import_reactive_energy' THEN 'reactive_energy_import'
  WHEN 'export_reactive_energy' THEN 'reactive_energy_export'
  WHEN 'total_reactive_energy' THEN 'reactive_energy_total'
  WHEN 'energy' THEN 'heat_energy'
  WHEN 'valve_open' THEN 'valve_state'
  WHEN 'active_power_total' THEN 'active_power'
  WHEN 'reactive_power_total' THEN 'reactive_power'
  WHEN 'apparent_power_total' THEN 'apparent_power'
  WHEN 'power_factor_total' THEN 'power_factor'
  WHEN 'neutral_current' THEN 'current_n'
  ELSE quantity END;
UPDATE readings SET billed = 1
  WHERE quantity IN ('active_energy_import', 'volume', 'heat_energy') AND cumulative = 1;
CREATE TABLE meter_alarms(
  alarm TEXT NOT NULL,
  device TEXT NOT NULL,
  quantity TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL,
  raised_at TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY(alarm, device)) WITHOUT ROWID;
)sql"}};

// access: the platform's lists (cards, plates, monthly and visitor passes, blocklist) with
// their versions, visitor pass uses and who is inside (anti-passback), so gate decisions are
// the same after a restart.
// 2: access_events, the guard's record of each decision: the credential masked and as a keyed
// hash, never in clear; the outbox seq of its event, so retention deletes a row only once that
// record was delivered. access_presence.value holds the keyed hash from then on (rewritten by
// the access service at start).
// 3: access_entries.value holds the credential's keyed hash, `shown` its masked form (or the
// visitor pass id); rows of an older store (shown NULL) are rewritten by the access service at
// start, which alone knows the key.
// 4: access_events keeps a plate camera's read: the camera, plate colour, confidence, video
// channel and the snapshot's file (relative to the state dir; the picture is a file, never a
// row), deleted with the event by retention (the gates sweep files of expired days).
constexpr std::array<std::string_view, 4> access{{R"sql(
CREATE TABLE access_lists(
  list TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  applied_at TEXT NOT NULL,
  entries INTEGER NOT NULL);
CREATE TABLE access_entries(
  list TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  room TEXT NOT NULL DEFAULT '',
  vehicle_class TEXT NOT NULL DEFAULT '',
  pass_id TEXT NOT NULL DEFAULT '',
  valid_from INTEGER,
  valid_to INTEGER,
  max_uses INTEGER NOT NULL DEFAULT 0,
  note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(list, kind, value)) WITHOUT ROWID;
CREATE TABLE access_pass_uses(
  pass_id TEXT PRIMARY KEY,
  uses INTEGER NOT NULL);
CREATE TABLE access_presence(
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  inside INTEGER NOT NULL,
  ts TEXT NOT NULL,
  PRIMARY KEY(kind, value)) WITHOUT ROWID;
)sql",
                                                 R"sql(
CREATE TABLE access_events(
  id INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  unix_s INTEGER NOT NULL,
  gate TEXT NOT NULL,
  lane TEXT NOT NULL,
  credential_kind TEXT NOT NULL,
  credential TEXT NOT NULL,
  credential_hash TEXT NOT NULL,
  verdict TEXT NOT NULL,
  reason TEXT NOT NULL,
  holder TEXT NOT NULL,
  room TEXT NOT NULL DEFAULT '',
  outbox_seq INTEGER NOT NULL);
CREATE INDEX access_events_time ON access_events(unix_s);
)sql",
                                                 R"sql(
ALTER TABLE access_entries ADD COLUMN shown TEXT;
)sql",
                                                 R"sql(
ALTER TABLE access_events ADD COLUMN camera TEXT NOT NULL DEFAULT '';
ALTER TABLE access_events ADD COLUMN plate_colour TEXT NOT NULL DEFAULT '';
ALTER TABLE access_events ADD COLUMN confidence INTEGER;
ALTER TABLE access_events ADD COLUMN channel INTEGER;
ALTER TABLE access_events ADD COLUMN snapshot TEXT NOT NULL DEFAULT '';
)sql"}};

// parking: one row per stay, entry -> awaiting_payment -> paid -> closed.
// 2: gate_status, each barrier's last known state for the technician's dashboard (arm, loop,
// passages, faults), written by the gates on every barrier event.
// 3: parking_sessions.credential holds the keyed hash the gates match by, `shown` the masked
// plate or card (ParkingSessions rewrites an older store's clear rows at start).
constexpr std::array<std::string_view, 3> parking{{R"sql(
CREATE TABLE parking_sessions(
  id INTEGER PRIMARY KEY,
  credential_kind TEXT NOT NULL,
  credential TEXT NOT NULL,
  holder TEXT NOT NULL,
  rule TEXT NOT NULL DEFAULT '',
  vehicle_class TEXT NOT NULL DEFAULT '',
  entry_lane TEXT NOT NULL,
  entry_utc INTEGER NOT NULL,
  entry_offset INTEGER NOT NULL,
  snapshot TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  exit_lane TEXT,
  exit_utc INTEGER,
  fee_fen INTEGER,
  paid_fen INTEGER NOT NULL DEFAULT 0,
  paid_utc INTEGER,
  payment_ref TEXT,
  closed_utc INTEGER);
CREATE INDEX parking_sessions_open ON parking_sessions(credential_kind, credential)
  WHERE state != 'closed';
)sql",
                                                  R"sql(
CREATE TABLE gate_status(
  gate TEXT PRIMARY KEY,
  lane TEXT NOT NULL,
  drive TEXT NOT NULL,
  barrier TEXT NOT NULL,
  loop_occupied INTEGER,
  healthy INTEGER NOT NULL DEFAULT 1,
  passages INTEGER NOT NULL DEFAULT 0,
  faults INTEGER NOT NULL DEFAULT 0,
  last_fault TEXT,
  last_fault_at TEXT,
  changed_at TEXT NOT NULL,
  started_at TEXT NOT NULL);
)sql",
                                                  R"sql(
ALTER TABLE parking_sessions ADD COLUMN shown TEXT NOT NULL DEFAULT '';
)sql"}};

// payments (daemon/kiosk/journal.hpp): one row per kiosk/POS payment moving through explicit
// states, each transition durable before the next step; transitions kept for audit; which bills
// a payment settled. Amounts in integer fen. Version 2: kind parking (a parking fee at the POS;
// room "parking-<session id>"), the table rebuilt since SQLite cannot alter a CHECK. Version 3:
// idem_key, the Idempotency-Key a POST /api/payments came with, unique per source (token name).
constexpr std::array<std::string_view, 3> payments{{R"sql(
CREATE TABLE payments(
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  room TEXT NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('pay', 'topup')),
  method TEXT NOT NULL,
  amount_fen INTEGER NOT NULL CHECK(amount_fen > 0),
  state TEXT NOT NULL CHECK(state IN ('intent', 'authorising', 'approved', 'declined', 'unknown',
                                      'receipt_printed', 'uploaded')),
  source TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  result_code TEXT, auth_code TEXT, rrn TEXT, card TEXT, message TEXT,
  applied INTEGER NOT NULL DEFAULT 0,
  settled_fen INTEGER NOT NULL DEFAULT 0,
  topped_up_fen INTEGER NOT NULL DEFAULT 0,
  balance_after_fen INTEGER NOT NULL DEFAULT 0,
  outbox_seq INTEGER,
  receipt_attempts INTEGER NOT NULL DEFAULT 0,
  receipt_error TEXT,
  uploaded_at TEXT);
CREATE INDEX payments_state ON payments(state);
CREATE TABLE payment_transitions(
  id INTEGER PRIMARY KEY,
  payment_id TEXT NOT NULL,
  state TEXT NOT NULL,
  ts TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX payment_transitions_payment ON payment_transitions(payment_id, id);
CREATE TABLE payment_allocations(
  payment_id TEXT NOT NULL,
  bill TEXT NOT NULL,
  amount_fen INTEGER NOT NULL,
  PRIMARY KEY(payment_id, bill));
)sql", R"sql(
CREATE TABLE payments_v2(
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  room TEXT NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('pay', 'topup', 'parking')),
  method TEXT NOT NULL,
  amount_fen INTEGER NOT NULL CHECK(amount_fen > 0),
  state TEXT NOT NULL CHECK(state IN ('intent', 'authorising', 'approved', 'declined', 'unknown',
                                      'receipt_printed', 'uploaded')),
  source TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  result_code TEXT, auth_code TEXT, rrn TEXT, card TEXT, message TEXT,
  applied INTEGER NOT NULL DEFAULT 0,
  settled_fen INTEGER NOT NULL DEFAULT 0,
  topped_up_fen INTEGER NOT NULL DEFAULT 0,
  balance_after_fen INTEGER NOT NULL DEFAULT 0,
  outbox_seq INTEGER,
  receipt_attempts INTEGER NOT NULL DEFAULT 0,
  receipt_error TEXT,
  uploaded_at TEXT);
INSERT INTO payments_v2 SELECT id, seq, room, kind, method, amount_fen, state, source, created_at,
  updated_at, result_code, auth_code, rrn, card, message, applied, settled_fen, topped_up_fen,
  balance_after_fen, outbox_seq, receipt_attempts, receipt_error, uploaded_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_v2 RENAME TO payments;
CREATE INDEX payments_state ON payments(state);
)sql", R"sql(
ALTER TABLE payments ADD COLUMN idem_key TEXT;
CREATE UNIQUE INDEX payments_idem_key ON payments(source, idem_key) WHERE idem_key IS NOT NULL;
)sql"}};

const std::array<SchemaArea, 8> areas{{
    {"core", core},
    {"billing", billing},
    {"bridge", bridge},
    {"audit", audit},
    {"readings", readings},
    {"access", access},
    {"parking", parking},
    {"payments", payments},
}};

}  // namespace

std::span<const SchemaArea> schema_areas() { return areas; }

}  // namespace estate::store
