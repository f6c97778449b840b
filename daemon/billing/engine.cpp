#include "daemon/billing/engine.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <future>
#include <stdexcept>

#include "daemon/audit/audit.hpp"
#include "daemon/billing/allocation.hpp"
#include "daemon/billing/late_fee.hpp"
#include "daemon/billing/tariff.hpp"
#include "daemon/record/record.hpp"

namespace estate::billing {

using nlohmann::ordered_json;
using store::Database;
using store::Statement;

std::string_view to_string(SupplyAction a) {
  switch (a) {
    case SupplyAction::valve_close: return "valve_close";
    case SupplyAction::valve_open: return "valve_open";
    case SupplyAction::relay_trip: return "relay_trip";
    case SupplyAction::relay_close: return "relay_close";
  }
  return "?";
}

namespace {

std::optional<SupplyAction> supply_action_from(std::string_view s) {
  for (auto a : {SupplyAction::valve_close, SupplyAction::valve_open, SupplyAction::relay_trip,
                 SupplyAction::relay_close}) {
    if (to_string(a) == s) return a;
  }
  return std::nullopt;
}

bool is_close(SupplyAction a) {
  return a == SupplyAction::valve_close || a == SupplyAction::relay_trip;
}

// Resets a cached statement when leaving scope, so an exception never leaves it mid-step.
struct Use {
  Statement& st;
  explicit Use(Statement& s) : st(s) { st.reset(); }
  ~Use() { st.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
};

constexpr std::int64_t seconds_per_day = 86400;

}  // namespace

struct Engine::Statements {
  sqlite3* db = nullptr;
  Statement charge_by_reading, cycle_get, cycle_put, account_ensure, account_get, account_put,
      charge_insert, event_insert, action_insert, ref_exists, topup_insert;
  explicit Statements(Database& d)
      : db(d.handle()),
        charge_by_reading(d.prepare("SELECT amount_fen, balance_after_fen, room FROM billing_charges "
                                    "WHERE meter = ?1 AND reading_seq = ?2")),
        cycle_get(d.prepare("SELECT usage_milli, exact_e7, posted_fen FROM billing_cycles "
                            "WHERE room = ?1 AND meter = ?2 AND tariff = ?3 AND cycle = ?4")),
        cycle_put(d.prepare("INSERT INTO billing_cycles(room, meter, tariff, cycle, usage_milli, "
                            "exact_e7, posted_fen) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                            "ON CONFLICT(room, meter, tariff, cycle) DO UPDATE SET "
                            "usage_milli = excluded.usage_milli, exact_e7 = excluded.exact_e7, "
                            "posted_fen = excluded.posted_fen")),
        account_ensure(d.prepare("INSERT OR IGNORE INTO billing_accounts(room) VALUES(?1)")),
        account_get(d.prepare("SELECT balance_fen, supply, low_level, exhausted_since, "
                              "overdue_since, late_fee_fen FROM billing_accounts WHERE room = ?1")),
        account_put(d.prepare("UPDATE billing_accounts SET balance_fen = ?2, supply = ?3, "
                              "low_level = ?4, exhausted_since = ?5, overdue_since = ?6, "
                              "late_fee_fen = ?7 WHERE room = ?1")),
        charge_insert(d.prepare("INSERT INTO billing_charges(kind, ref, room, meter, reading_seq, "
                                "ts, usage_milli, amount_fen, balance_after_fen, detail, at_s, "
                                "bill_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")),
        event_insert(d.prepare("INSERT INTO events(ts, kind, source, detail, seq) "
                               "VALUES(?1, ?2, 'billing', ?3, ?4)")),
        action_insert(d.prepare("INSERT INTO billing_actions(room, meter, action, reason, state, "
                                "requested_ts) VALUES(?1, ?2, ?3, ?4, 'requested', ?5)")),
        ref_exists(d.prepare("SELECT 1 FROM billing_charges WHERE ref = ?1")),
        topup_insert(d.prepare("INSERT INTO billing_topups(ref, room, amount_fen, source, ts, "
                               "balance_after_fen) VALUES(?1, ?2, ?3, ?4, ?5, ?6)")) {}
};

struct Engine::Effects {
  struct Request {
    std::int64_t id;
    std::string meter;
    SupplyAction action;
  };
  std::vector<Request> requests;
  std::map<std::string, AccountSnapshot> accounts;
  std::optional<std::pair<std::map<std::string, int, std::less<>>, std::int64_t>> pushed;
  std::map<std::string, std::vector<OpenBill>> bills;  // rooms whose unpaid bills changed
};

namespace {

struct AccountRow {
  std::string room;
  Fen balance = 0;
  std::string supply = "open";
  std::int64_t low_level = 0;
  std::optional<std::int64_t> exhausted_since;
  std::optional<std::int64_t> overdue_since;
  Fen late_fee = 0;
};

}  // namespace

namespace {

// One job's view of the store and the config; the money rules live here.
class Ledger {
 public:
  Ledger(Database& db, Engine::Statements& st, const BillingConfig& cfg, Engine::Effects& fx,
         const std::string& gateway, int offset, const std::map<std::string, int, std::less<>>& pushed)
      : db_(db), st_(st), cfg_(cfg), fx_(fx), gateway_(gateway), offset_(offset), pushed_(pushed) {}

  std::string iso(TimePoint t) const { return store::iso8601(t, offset_); }
  LocalSeconds local(TimePoint t) const {
    return t.time_since_epoch().count() + static_cast<LocalSeconds>(offset_) * 60;
  }

  AccountRow load(const std::string& room) {
    {
      Use u(st_.account_ensure);
      st_.account_ensure.bind(1, room).run();
    }
    Use u(st_.account_get);
    st_.account_get.bind(1, room);
    if (!st_.account_get.step()) throw std::logic_error("billing account row missing: " + room);
    AccountRow r;
    r.room = room;
    r.balance = st_.account_get.int64(0);
    r.supply = st_.account_get.text(1);
    r.low_level = st_.account_get.int64(2);
    if (!st_.account_get.is_null(3)) r.exhausted_since = st_.account_get.int64(3);
    if (!st_.account_get.is_null(4)) r.overdue_since = st_.account_get.int64(4);
    r.late_fee = st_.account_get.int64(5);
    return r;
  }

  void save(const AccountRow& r) {
    Use u(st_.account_put);
    st_.account_put.bind(1, r.room).bind(2, r.balance).bind(3, r.supply).bind(4, r.low_level);
    st_.account_put.bind(5, r.exhausted_since).bind(6, r.overdue_since).bind(7, r.late_fee).run();
    fx_.accounts[r.room] = {r.balance, r.supply, r.overdue_since};
  }

  // Money: an outbox record on "transactions" (the charge/top-up row is the local record) and
  // an audit entry (money.charge / money.topup) in the same transaction.
  template <class Record>
  void money(TimePoint ts, Record rec) {
    const std::string when = iso(ts);
    rec.ts = when;
    const record::Appended out = record::append(db_, gateway_, rec);
    const ordered_json fields = ordered_json::parse(std::string(out.payload));  // the audit's copy of the money fields
    audit::Entry e;
    e.ts = when;
    e.kind = "money." + fields.at("kind").get<std::string>();
    e.actor = "system";
    e.room = fields.at("room").get<std::string>();
    e.subject = "room:" + e.room;
    ordered_json detail{{"outbox_seq", out.seq}};
    if (auto it = fields.find("charge_kind"); it != fields.end()) detail["kind"] = *it;
    for (const char* k : {"ref", "source", "meter", "reading_seq", "amount_fen", "balance_fen"}) {
      if (auto it = fields.find(k); it != fields.end()) detail[k] = *it;
    }
    e.detail_json = detail.dump();
    audit::append(db_, e);
  }

  // Valve and relay actions, requested or answered: an audit entry supply.valve / supply.relay
  // (the same kinds as the platform's cmd/valve and cmd/relay).
  void audit_supply(TimePoint ts, const std::string& room, const std::string& meter,
                    std::string_view action, nlohmann::json detail) {
    audit::Entry e;
    e.ts = iso(ts);
    e.kind = action.starts_with("valve") ? "supply.valve" : "supply.relay";
    e.actor = "system";
    e.subject = "device:" + meter;
    e.room = room;
    detail["action"] = std::string(action.substr(action.find('_') + 1));
    e.detail_json = detail.dump();
    audit::append(db_, e);
  }

  // Events and actions: an event row plus an outbox record on "events".
  void event(TimePoint ts, record::BillingEvent ev) {
    ev.ts = iso(ts);
    auto out = record::append(db_, gateway_, ev);
    Use u(st_.event_insert);
    st_.event_insert.bind(1, ev.ts).bind(2, record::kind_of(ev)).bind(3, out.payload);
    st_.event_insert.bind(4, out.seq).run();
  }

  std::int64_t request(const std::string& room, const std::string& meter, SupplyAction a,
                       const std::string& reason, TimePoint ts) {
    {
      Use u(st_.action_insert);
      st_.action_insert.bind(1, room).bind(2, meter).bind(3, to_string(a)).bind(4, reason);
      st_.action_insert.bind(5, iso(ts)).run();
    }
    std::int64_t id = sqlite3_last_insert_rowid(db_.handle());
    record::BillingEvent bev;
    bev.name = "supply_action_requested";
    bev.room = room;
    bev.meter = meter;
    bev.action = std::string(to_string(a));
    bev.reason = reason;
    bev.action_id = id;
    event(ts, std::move(bev));
    audit_supply(ts, room, meter, to_string(a),
                 {{"action_id", id}, {"reason", reason}, {"state", "requested"}});
    fx_.requests.push_back({id, meter, a});
    return id;
  }

  SupplyAction close_action(const AccountMeter& m) const {
    const Tariff* t = cfg_.find_tariff(m.tariff);
    return t && t->quantity == Quantity::electricity ? SupplyAction::relay_trip
                                                     : SupplyAction::valve_close;
  }

  // The site's policy at zero: close what is configured to close, otherwise warn.
  void act_on_supply(const Account& a, AccountRow& row, TimePoint ts, const std::string& reason,
                     bool close_all) {
    bool any = false;
    for (const auto& m : a.meters) {
      if (close_all || m.on_zero.value_or(OnZero::warn) == OnZero::close) {
        request(a.room, m.meter, close_action(m), reason, ts);
        any = true;
      }
    }
    if (any) {
      row.supply = "closed";
    } else {
      row.supply = "warned";
      record::BillingEvent bev;
      bev.name = "supply_warning";
      bev.room = a.room;
      bev.reason = reason;
      bev.policy = "warn";
      bev.balance_fen = row.balance;
      event(ts, std::move(bev));
    }
  }

  ArrearsLevel arrears(const AccountRow& row, TimePoint now) const {
    if (auto it = pushed_.find(row.room); it != pushed_.end()) {
      ArrearsLevel l;
      l.level = it->second;
      l.source = ArrearsLevel::Source::pushed;
      if (const auto* r = cfg_.arrears.find(l.level)) l.actions = r->actions;
      return l;
    }
    if (cfg_.bills) return arrears_from_bills(cfg_.arrears, open_bills(row.room), now);
    if (!row.overdue_since || row.balance >= 0) return {};
    int days = static_cast<int>((now.time_since_epoch().count() - *row.overdue_since) / seconds_per_day);
    return compute_arrears_level(cfg_.arrears, days, -row.balance);
  }

  // ---- bills (docs/billing.md, "Bills") -------------------------------------------------
  struct BillRow {
    std::int64_t id = 0;
    std::string period;
    std::int64_t start = 0, end = 0, issued = 0, due = 0;
    Fen amount = 0, fee = 0, paid = 0;
    BillFee accrued;
    std::string status;
    Fen total() const { return amount + fee; }
  };

  // The room's bills, newest first.
  std::vector<BillRow> bills_of(const std::string& room) {
    auto q = db_.prepare(
        "SELECT id, period, period_start, period_end, issued_at, due_at, amount_fen, late_fee_fen, "
        "fee_days, fee_exact_e6, paid_fen, status FROM billing_bills WHERE room = ?1 "
        "ORDER BY period_end DESC, id DESC");
    q.bind(1, room);
    std::vector<BillRow> out;
    while (q.step()) {
      BillRow b;
      b.id = q.int64(0);
      b.period = q.text(1);
      b.start = q.int64(2);
      b.end = q.int64(3);
      b.issued = q.int64(4);
      b.due = q.int64(5);
      b.amount = q.int64(6);
      b.fee = q.int64(7);
      b.accrued = {static_cast<int>(q.int64(8)), q.int64(9), b.fee};
      b.paid = q.int64(10);
      b.status = q.text(11);
      out.push_back(std::move(b));
    }
    return out;
  }

  std::vector<OpenBill> open_bills(const std::string& room) const {
    auto q = db_.prepare("SELECT due_at, amount_fen + late_fee_fen - paid_fen FROM billing_bills "
                         "WHERE room = ?1 AND status != 'paid'");
    q.bind(1, room);
    std::vector<OpenBill> out;
    while (q.step()) out.push_back({q.int64(0), q.int64(1)});
    return out;
  }

  std::string iso_s(std::int64_t utc_seconds) const {
    return iso(TimePoint(std::chrono::seconds(utc_seconds)));
  }

  void bill_record(TimePoint ts, const std::string& room, const BillRow& b, std::string change) {
    record::Bill r;
    r.ts = iso(ts);
    r.change = std::move(change);
    r.room = room;
    r.period = b.period;
    r.from = iso_s(b.start);
    r.to = iso_s(b.end);
    r.issued = iso_s(b.issued);
    r.due = iso_s(b.due);
    r.amount_fen = b.amount;
    r.late_fee_fen = b.fee;
    r.paid_fen = b.paid;
    r.status = b.status;
    record::append(db_, gateway_, r);
  }

  // What the room's bills have been paid follows its balance: the debt (-balance) is first the
  // charges no bill has taken yet (the current period), then the bills newest first; so every
  // payment has settled the oldest bill first. Bills whose paid part or status changed are
  // written with a "bill" record (`changes` names a bill's change when it is not a payment:
  // issued, late_fee); the room's unpaid bills go to the snapshot.
  void settle_bills(const std::string& room, Fen balance, TimePoint ts,
                    const std::map<std::int64_t, std::string>& changes = {}) {
    Fen debt = std::max<Fen>(0, -balance) - unbilled_fen(db_, room);
    auto up = db_.prepare("UPDATE billing_bills SET paid_fen = ?2, status = ?3 WHERE id = ?1");
    for (auto& b : bills_of(room)) {
      const Fen unpaid = std::clamp<Fen>(debt, 0, b.total());
      debt -= unpaid;
      const Fen paid = b.total() - unpaid;
      const std::string status(bill_status(b.total(), paid));
      auto named = changes.find(b.id);
      if (paid == b.paid && status == b.status && named == changes.end()) {
        if (debt <= 0 && status == "paid") break;  // older bills were paid before this one
        continue;
      }
      // issued, else payment when the paid part moved, else what the caller named (late_fee).
      std::string change = named != changes.end() ? named->second : "payment";
      if (change != "issued" && paid != b.paid) change = "payment";
      b.paid = paid;
      b.status = status;
      up.bind(1, b.id).bind(2, paid).bind(3, status).run();
      up.reset();
      bill_record(ts, room, b, std::move(change));
    }
    fx_.bills[room] = open_bills(room);
  }

  // Late fees of the room's overdue bills up to `now` (bills.hpp: accrue_bill_fee), posted as
  // late_fee charges on their bill. Returns the fen posted; `changed` gets each bill whose fee
  // grew.
  Fen accrue_bill_fees(AccountRow& row, TimePoint now, std::map<std::int64_t, std::string>& changed) {
    if (!cfg_.late_fees) return 0;
    Fen total = 0;
    auto bills = bills_of(row.room);
    for (auto it = bills.rbegin(); it != bills.rend(); ++it) {  // oldest first
      auto& b = *it;
      if (b.status == "paid" || now.time_since_epoch().count() <= b.due) continue;
      const int days = days_overdue(b.due, now);
      const Fen principal = std::max<Fen>(0, b.amount - b.paid);
      const BillFee next = accrue_bill_fee(*cfg_.late_fees, b.amount, principal, b.accrued, days);
      if (next.fee_days == b.accrued.fee_days && next.fee_fen == b.fee) continue;
      if (next.fee_fen > b.fee) {
        const Fen amount = next.fee_fen - b.fee;
        const std::string ref = "late:" + row.room + ":" + b.period + ":" + std::to_string(next.fee_fen);
        post_charge("late_fee", ref, row, nullptr, std::nullopt, now, std::nullopt, amount,
                    {{"principal_fen", principal}, {"days_overdue", days},
                     {"fee_to_date_fen", next.fee_fen}, {"period", b.period}},
                    b.id);
        total += amount;
        changed[b.id] = "late_fee";
      }
      auto up = db_.prepare("UPDATE billing_bills SET late_fee_fen = ?2, fee_days = ?3, "
                            "fee_exact_e6 = ?4 WHERE id = ?1");
      up.bind(1, b.id).bind(2, next.fee_fen).bind(3, next.fee_days).bind(4, next.exact_e6).run();
    }
    return total;
  }

  // After money left the account: overdue tracking, low-balance events, the policy at zero.
  void after_debit(const Account& a, AccountRow& row, TimePoint ts) {
    if (row.balance < 0 && !row.overdue_since) row.overdue_since = ts.time_since_epoch().count();
    if (!a.prepaid) return;
    const auto& p = *a.prepaid;
    std::int64_t level = 0;
    for (Fen t : p.low_balance_fen)
      if (row.balance <= t) ++level;
    for (std::int64_t k = row.low_level; k < level; ++k) {
      record::BillingEvent bev;
      bev.name = "low_balance";
      bev.room = a.room;
      bev.balance_fen = row.balance;
      bev.threshold_fen = p.low_balance_fen[static_cast<std::size_t>(k)];
      event(ts, std::move(bev));
    }
    row.low_level = std::max(row.low_level, level);
    if (row.balance + p.credit_limit_fen <= 0 && row.supply == "open" && !row.exhausted_since) {
      row.exhausted_since = ts.time_since_epoch().count();
      record::BillingEvent bev;
      bev.name = "balance_exhausted";
      bev.room = a.room;
      bev.balance_fen = row.balance;
      bev.credit_limit_fen = p.credit_limit_fen;
      bev.grace_minutes = p.grace_minutes;
      event(ts, std::move(bev));
    }
    check_grace(a, row, ts);
  }

  void check_grace(const Account& a, AccountRow& row, TimePoint now) {
    if (!a.prepaid || row.supply != "open" || !row.exhausted_since) return;
    if (now.time_since_epoch().count() >= *row.exhausted_since + a.prepaid->grace_minutes * 60LL) {
      act_on_supply(a, row, now, "prepaid_exhausted", false);
    }
  }

  Fen post_charge(const std::string& kind, const std::string& ref, AccountRow& row,
                  const std::string* meter, std::optional<std::int64_t> reading_seq, TimePoint ts,
                  std::optional<UsageMilli> usage, Fen amount, ordered_json detail,
                  std::optional<std::int64_t> bill_id = std::nullopt) {
    row.balance -= amount;
    {
      Use u(st_.charge_insert);
      st_.charge_insert.bind(1, kind).bind(2, ref).bind(3, row.room);
      if (meter) st_.charge_insert.bind(4, *meter);
      else st_.charge_insert.bind_null(4);
      st_.charge_insert.bind(5, reading_seq).bind(6, iso(ts)).bind(7, usage);
      st_.charge_insert.bind(8, amount).bind(9, row.balance).bind(10, detail.dump());
      st_.charge_insert.bind(11, static_cast<std::int64_t>(ts.time_since_epoch().count()));
      st_.charge_insert.bind(12, bill_id).run();
    }
    record::Charge rec;
    rec.charge_kind = kind;
    rec.ref = ref;
    rec.room = row.room;
    if (meter) rec.meter = *meter;
    rec.reading_seq = reading_seq;
    if (usage) rec.usage = format_decimal(*usage, usage_places);
    rec.amount_fen = amount;
    rec.balance_fen = row.balance;
    rec.detail = std::move(detail);
    money(ts, std::move(rec));
    return amount;
  }

  bool ref_exists(const std::string& ref) {
    Use u(st_.ref_exists);
    st_.ref_exists.bind(1, ref);
    return st_.ref_exists.step();
  }

  Database& db_;
  Engine::Statements& st_;
  const BillingConfig& cfg_;
  Engine::Effects& fx_;
  const std::string& gateway_;
  int offset_;
  const std::map<std::string, int, std::less<>>& pushed_;
};

// One shared meter's period: prices the common usage and posts each room's share. Nothing when
// the period's shares were posted before (their refs exist).
AllocationResult allocate_in(Ledger& lg, const BillingConfig& cfg, const SharedMeter& sm,
                             const Tariff& tariff, const std::string& period,
                             UsageMilli master_usage, const std::vector<UsageMilli>& subs,
                             TimePoint ts) {
  AllocationResult r;
  r.common_usage = common_usage(master_usage, subs);
  const std::string ref_base = "shared:" + sm.id + ":" + period + ":";
  if (lg.ref_exists(ref_base + sm.rooms.front())) {
    r.duplicate = true;
    return r;
  }
  // The common usage is priced on its own, from the start of its tiers (use a flat tariff).
  const Quote q = quote(tariff, r.common_usage, 0, lg.local(ts));
  r.total_fen = q.total_fen;
  std::vector<std::int64_t> weights;
  for (std::size_t i = 0; i < sm.rooms.size(); ++i) {
    const Account* a = cfg.find_account(sm.rooms[i]);
    switch (sm.basis) {
      case AllocationBasis::area: weights.push_back(a ? a->area_centi_m2 : 0); break;
      case AllocationBasis::headcount: weights.push_back(a ? a->headcount : 0); break;
      case AllocationBasis::usage: weights.push_back(subs[i]); break;
      case AllocationBasis::equal: weights.push_back(1); break;
    }
  }
  const auto parts = allocate_largest_remainder(r.total_fen, weights);
  for (std::size_t i = 0; i < sm.rooms.size(); ++i) {
    const std::string& room = sm.rooms[i];
    r.parts[room] = parts[i];
    AccountRow row = lg.load(room);
    lg.post_charge("shared", ref_base + room, row, &sm.master, std::nullopt, ts, std::nullopt,
                   parts[i], {{"shared_meter", sm.id}, {"period", period},
                              {"common_usage", format_decimal(r.common_usage, usage_places)},
                              {"common_total_fen", r.total_fen}, {"weight", weights[i]}});
    if (const Account* a = cfg.find_account(room)) lg.after_debit(*a, row, ts);
    lg.save(row);
  }
  r.loss_alert = loss_above(r.common_usage, master_usage, sm.loss_alert_e2);
  if (r.loss_alert) {
    record::BillingEvent bev;
    bev.name = "shared_loss";
    bev.shared_meter = sm.id;
    bev.period = period;
    bev.master_usage = format_decimal(master_usage, usage_places);
    bev.common_usage = format_decimal(r.common_usage, usage_places);
    bev.alert_percent = format_decimal(sm.loss_alert_e2, 2);
    lg.event(ts, std::move(bev));
  }
  return r;
}

}  // namespace

DuePeriod last_closed_period(const SharedMeter& sm, TimePoint now, int utc_offset_minutes) {
  using namespace std::chrono;
  const seconds offset{static_cast<std::int64_t>(utc_offset_minutes) * 60};
  const sys_seconds local = now + offset;  // site wall clock, counted as if it were UTC
  char name[48];
  DuePeriod d;
  if (sm.period_minutes > 0) {
    const std::int64_t len = sm.period_minutes * 60;
    const std::int64_t t = local.time_since_epoch().count();
    const std::int64_t end = (t >= 0 ? t / len : (t - len + 1) / len) * len;
    const sys_seconds start_local{seconds{end - len}};
    const year_month_day ymd{floor<days>(start_local)};
    const hh_mm_ss hms{start_local - floor<days>(start_local)};
    std::snprintf(name, sizeof name, "%04d-%02u-%02uT%02d:%02d/%lldm", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<long long>(sm.period_minutes));
    d.period = {name, start_local - offset, sys_seconds{seconds{end}} - offset};
    d.due = d.period.end;
    return d;
  }
  const year_month_day today{floor<days>(local)};
  const year_month this_month{today.year(), today.month()};
  const year_month last = this_month - months{1};
  const sys_seconds start_local{sys_days{last / 1}};
  const sys_seconds end_local{sys_days{this_month / 1}};
  std::snprintf(name, sizeof name, "%04d-%02u", static_cast<int>(last.year()),
                static_cast<unsigned>(last.month()));
  d.period = {name, start_local - offset, end_local - offset};
  d.due = end_local + minutes{sm.allocate_at_minute} - offset;
  return d;
}

std::vector<SharedPeriod> periods_to_retry(const SharedMeter& sm, const SharedPeriod& latest,
                                           std::set<std::string> waiting, int utc_offset_minutes,
                                           std::size_t max, int horizon) {
  std::vector<SharedPeriod> found;
  waiting.erase(latest.name);
  SharedPeriod p = latest;
  for (int i = 0; i < horizon && !waiting.empty(); ++i) {
    p = last_closed_period(sm, p.start, utc_offset_minutes).period;  // the one ending at p.start
    if (waiting.erase(p.name) > 0) found.push_back(p);
  }
  std::reverse(found.begin(), found.end());
  if (found.size() > max) found.resize(max);
  return found;
}

Engine::Engine(store::Store& store, std::shared_ptr<const BillingConfig> config,
               std::string gateway_id, int utc_offset_minutes, DeviceActions* actions)
    : store_(store),
      gateway_id_(std::move(gateway_id)),
      utc_offset_minutes_(utc_offset_minutes),
      actions_(actions),
      config_(std::move(config)) {}

Engine::~Engine() = default;

Engine::Statements& Engine::statements(Database& db) {
  if (!statements_ || statements_->db != db.handle()) statements_ = std::make_unique<Statements>(db);
  return *statements_;
}

void Engine::reload(std::shared_ptr<const BillingConfig> config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
}

void Engine::after_commit(Effects& fx) {
  {
    std::lock_guard lock(mutex_);
    for (auto& [room, snap] : fx.accounts) accounts_[room] = snap;
    for (auto& [room, open] : fx.bills) bills_[room] = std::move(open);
    if (fx.pushed) {
      pushed_ = std::move(fx.pushed->first);
      pushed_version_ = fx.pushed->second;
    }
  }
  for (const auto& r : fx.requests) {
    const std::int64_t id = r.id;
    if (!actions_) {
      on_action_answer(id, {false, "no device driver handles supply actions on this gateway"});
      continue;
    }
    actions_->request(r.meter, r.action,
                      [this, id](DeviceActions::Answer a) { on_action_answer(id, std::move(a)); });
  }
}

template <class R>
R Engine::run_sync(std::function<R(Database&, Effects&)> job) {
  auto fx = std::make_shared<Effects>();
  auto result = std::make_shared<std::optional<R>>();
  std::promise<void> done;
  auto f = done.get_future();
  store_.write([job = std::move(job), fx, result](Database& db) { *result = job(db, *fx); },
               [this, fx, &done](std::exception_ptr e) {
                 if (!e) after_commit(*fx);
                 if (e) done.set_exception(e);
                 else done.set_value();
               });
  f.get();
  return std::move(**result);
}

void Engine::start() {
  auto cfg = [this] {
    std::lock_guard lock(mutex_);
    return config_;
  }();
  run_sync<int>([this, cfg](Database& db, Effects& fx) {
    auto& st = statements(db);
    for (const auto& a : cfg->accounts) {
      Use u(st.account_ensure);
      st.account_ensure.bind(1, a.room).run();
    }
    auto rows = db.prepare("SELECT room, balance_fen, supply, overdue_since FROM billing_accounts");
    while (rows.step()) {
      AccountSnapshot s{rows.int64(1), rows.text(2), std::nullopt};
      if (!rows.is_null(3)) s.overdue_since = rows.int64(3);
      fx.accounts[rows.text(0)] = s;
    }
    if (cfg->bills) {
      // The bills' paid parts as the balances stand (and the snapshot of the unpaid ones).
      std::map<std::string, int, std::less<>> none;
      Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, none);
      const TimePoint now = std::chrono::floor<std::chrono::seconds>(Clock::now());
      for (const auto& a : cfg->accounts) lg.settle_bills(a.room, lg.load(a.room).balance, now);
    }
    std::map<std::string, int, std::less<>> pushed;
    auto p = db.prepare("SELECT room, level FROM billing_arrears_pushed");
    while (p.step()) pushed[p.text(0)] = static_cast<int>(p.int64(1));
    auto v = db.prepare("SELECT value FROM billing_settings WHERE key = 'arrears_list_version'");
    std::int64_t version = v.step() ? std::stoll(v.text(0)) : 0;
    fx.pushed.emplace(std::move(pushed), version);
    // Actions asked for before a restart and never answered: ask again (they are idempotent
    // on the device: closing a closed valve is harmless).
    auto a = db.prepare("SELECT id, meter, action FROM billing_actions WHERE state = 'requested' ORDER BY id");
    while (a.step()) {
      if (auto act = supply_action_from(a.text(2))) fx.requests.push_back({a.int64(0), a.text(1), *act});
    }
    return 0;
  });
}

void Engine::post_reading(ReadingDelta delta,
                          std::function<void(PostResult, std::exception_ptr)> done) {
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  snapshot(cfg, pushed);
  auto fx = std::make_shared<Effects>();
  auto result = std::make_shared<PostResult>();
  auto job = [this, cfg, pushed = std::move(pushed), delta = std::move(delta), fx,
              result](Database& db) {
    if (delta.usage < 0) {
      throw std::invalid_argument("reading " + std::to_string(delta.seq) + " of meter " +
                                  delta.meter + ": negative usage is not billed");
    }
    auto [account, entry] = cfg->find_meter(delta.meter);
    if (!account) return;  // not_billed
    auto& st = statements(db);
    result->room = account->room;
    {
      Use u(st.charge_by_reading);
      st.charge_by_reading.bind(1, delta.meter).bind(2, delta.seq);
      if (st.charge_by_reading.step()) {
        result->status = PostResult::Status::duplicate;
        result->amount_fen = st.charge_by_reading.int64(0);
        result->balance_fen = st.charge_by_reading.int64(1);
        return;
      }
    }
    const Tariff* tariff = cfg->find_tariff(entry->tariff);
    if (!tariff) throw std::invalid_argument("meter " + delta.meter + ": no tariff '" + entry->tariff + "'");
    Ledger lg(db, st, *cfg, *fx, gateway_id_, utc_offset_minutes_, pushed);
    const LocalSeconds at = lg.local(delta.ts);
    const std::string cycle = cycle_key(tariff->cycle, at);

    UsageMilli cycle_usage = 0;
    AmountE7 cycle_exact = 0;
    Fen cycle_posted = 0;
    {
      Use u(st.cycle_get);
      st.cycle_get.bind(1, account->room).bind(2, delta.meter).bind(3, tariff->id).bind(4, cycle);
      if (st.cycle_get.step()) {
        cycle_usage = st.cycle_get.int64(0);
        cycle_exact = st.cycle_get.int64(1);
        cycle_posted = st.cycle_get.int64(2);
      }
    }
    const Quote q = delta.previous
                        ? quote_interval(*tariff, delta.usage, cycle_usage, lg.local(*delta.previous), at)
                        : quote(*tariff, delta.usage, cycle_usage, at);
    const AmountE7 exact_after = cycle_exact + q.exact;
    const Fen posted_after = round_half_up_to_fen(exact_after);
    const Fen amount = posted_after - cycle_posted;
    {
      Use u(st.cycle_put);
      st.cycle_put.bind(1, account->room).bind(2, delta.meter).bind(3, tariff->id).bind(4, cycle);
      st.cycle_put.bind(5, cycle_usage + delta.usage).bind(6, exact_after).bind(7, posted_after).run();
    }
    ordered_json detail{{"tariff", tariff->id}, {"cycle", cycle}, {"exact", format_amount(q.exact)}};
    detail["lines"] = ordered_json::array();
    for (const auto& l : q.lines) {
      ordered_json line{{"tier", l.tier}};
      if (!l.period.empty()) line["period"] = l.period;
      line["usage"] = format_decimal(l.usage, usage_places);
      line["price"] = format_decimal(l.price, price_places);
      line["amount"] = format_amount(l.amount);
      detail["lines"].push_back(std::move(line));
    }
    AccountRow row = lg.load(account->room);
    lg.post_charge("usage", "reading:" + delta.meter + ":" + std::to_string(delta.seq), row,
                   &delta.meter, delta.seq, delta.ts, delta.usage, amount, std::move(detail));
    lg.after_debit(*account, row, delta.ts);
    lg.save(row);
    result->status = PostResult::Status::posted;
    result->amount_fen = amount;
    result->balance_fen = row.balance;
  };
  store_.write(std::move(job), [this, fx, result, done = std::move(done)](std::exception_ptr e) {
    if (!e) after_commit(*fx);
    if (done) done(e ? PostResult{} : *result, e);
  });
}

PostResult Engine::post_reading_sync(const ReadingDelta& delta) {
  std::promise<PostResult> p;
  auto f = p.get_future();
  post_reading(delta, [&p](PostResult r, std::exception_ptr e) {
    if (e) p.set_exception(e);
    else p.set_value(std::move(r));
  });
  return f.get();
}

TopUpResult Engine::top_up_sync(const std::string& room, Fen amount_fen, const std::string& source,
                                const std::string& ref, TimePoint ts) {
  if (amount_fen <= 0) throw std::invalid_argument("top-up amount must be positive, got " + std::to_string(amount_fen) + " fen");
  if (ref.empty()) throw std::invalid_argument("top-up needs a payment reference");
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  snapshot(cfg, pushed);
  const Account* account = cfg->find_account(room);
  if (!account) throw std::invalid_argument("no account for room '" + room + "'");
  return run_sync<TopUpResult>([&, cfg](Database& db, Effects& fx) {
    auto& st = statements(db);
    Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
    TopUpResult r;
    {
      auto q = db.prepare("SELECT balance_after_fen FROM billing_topups WHERE ref = ?1");
      q.bind(1, ref);
      if (q.step()) {
        r.duplicate = true;
        r.balance_fen = q.int64(0);
        return r;
      }
    }
    AccountRow row = lg.load(room);
    std::map<std::int64_t, std::string> fee_changed;
    if (cfg->bills) {
      // Fees of the days that ended before this payment count the unpaid amount before it.
      if (lg.accrue_bill_fees(row, ts, fee_changed) > 0) lg.after_debit(*account, row, ts);
    }
    row.balance += amount_fen;
    {
      Use u(st.topup_insert);
      st.topup_insert.bind(1, ref).bind(2, room).bind(3, amount_fen).bind(4, source);
      st.topup_insert.bind(5, lg.iso(ts)).bind(6, row.balance).run();
    }
    record::Topup top;
    top.ref = ref;
    top.room = room;
    top.source = source;
    top.amount_fen = amount_fen;
    top.balance_fen = row.balance;
    lg.money(ts, std::move(top));
    if (cfg->bills) lg.settle_bills(room, row.balance, ts, fee_changed);
    if (row.balance >= 0) {
      row.overdue_since.reset();
      row.late_fee = 0;
    }
    if (account->prepaid) {
      std::int64_t level = 0;
      for (Fen t : account->prepaid->low_balance_fen)
        if (row.balance <= t) ++level;
      row.low_level = level;
      if (row.balance + account->prepaid->credit_limit_fen > 0) {
        row.exhausted_since.reset();
        const bool arrears_close = lg.arrears(row, ts).has(close_valve);
        if (row.supply == "closed" && !arrears_close) {
          // Re-open every meter whose last action closed it.
          std::map<std::string, SupplyAction> last;
          auto q = db.prepare("SELECT meter, action FROM billing_actions WHERE room = ?1 ORDER BY id");
          q.bind(1, room);
          while (q.step()) {
            if (auto a = supply_action_from(q.text(1))) last[q.text(0)] = *a;
          }
          for (const auto& m : account->meters) {
            auto it = last.find(m.meter);
            if (it == last.end() || !is_close(it->second)) continue;
            const std::string& meter = m.meter;
            const SupplyAction a = it->second;
            lg.request(room, meter,
                       a == SupplyAction::relay_trip ? SupplyAction::relay_close : SupplyAction::valve_open,
                       "top_up", ts);
            r.reopened = true;
          }
          row.supply = "open";
        } else if (row.supply == "warned") {
          row.supply = "open";
          record::BillingEvent bev;
          bev.name = "balance_restored";
          bev.room = room;
          bev.balance_fen = row.balance;
          lg.event(ts, std::move(bev));
        }
      }
    }
    lg.save(row);
    r.balance_fen = row.balance;
    return r;
  });
}

void Engine::tick_sync(TimePoint now) {
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  snapshot(cfg, pushed);
  run_sync<int>([&, cfg](Database& db, Effects& fx) {
    auto& st = statements(db);
    Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
    for (const auto& a : cfg->accounts) {
      AccountRow row = lg.load(a.room);
      const std::string before = row.supply;
      lg.check_grace(a, row, now);
      if (row.supply == "open" && lg.arrears(row, now).has(close_valve)) {
        lg.act_on_supply(a, row, now, "arrears", true);
      }
      if (row.supply != before) lg.save(row);
    }
    return 0;
  });
}

Fen Engine::accrue_late_fees_sync(TimePoint now) {
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  snapshot(cfg, pushed);
  if (!cfg->late_fees) return 0;
  return run_sync<Fen>([&, cfg](Database& db, Effects& fx) {
    auto& st = statements(db);
    Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
    Fen total = 0;
    for (const auto& a : cfg->accounts) {
      AccountRow row = lg.load(a.room);
      if (cfg->bills) {
        std::map<std::int64_t, std::string> changed;
        const Fen posted = lg.accrue_bill_fees(row, now, changed);
        if (changed.empty()) continue;
        lg.after_debit(a, row, now);
        lg.save(row);
        lg.settle_bills(a.room, row.balance, now, changed);
        total += posted;
        continue;
      }
      if (!row.overdue_since || row.balance >= 0) continue;
      const int days = static_cast<int>((now.time_since_epoch().count() - *row.overdue_since) / seconds_per_day);
      // The principal is what is owed without the fees of this overdue episode.
      const Fen principal = std::max<Fen>(0, -row.balance - row.late_fee);
      const Fen fee_to_date = late_fee_fen(*cfg->late_fees, principal, days);
      if (fee_to_date <= row.late_fee) continue;
      const Fen amount = fee_to_date - row.late_fee;
      const std::string ref = "late:" + a.room + ":" + std::to_string(*row.overdue_since) + ":" +
                              std::to_string(fee_to_date);
      if (lg.ref_exists(ref)) continue;
      lg.post_charge("late_fee", ref, row, nullptr, std::nullopt, now, std::nullopt, amount,
                     {{"principal_fen", principal}, {"days_overdue", days},
                      {"fee_to_date_fen", fee_to_date}});
      row.late_fee = fee_to_date;
      lg.after_debit(a, row, now);
      lg.save(row);
      total += amount;
    }
    return total;
  });
}

int Engine::issue_bills_sync(TimePoint now) {
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  std::string issued;
  {
    std::lock_guard lock(mutex_);
    cfg = config_;
    pushed = pushed_;
    issued = issued_period_;
  }
  if (!cfg->bills) return 0;
  const BillPeriod period = last_closed_bill_period(*cfg->bills, now, utc_offset_minutes_);
  if (now < period.issue_at || issued == period.name) return 0;
  const int n = run_sync<int>([&, cfg](Database& db, Effects& fx) {
    auto& st = statements(db);
    Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
    const std::int64_t start = period.start.time_since_epoch().count();
    const std::int64_t end = period.end.time_since_epoch().count();
    const std::int64_t due = period.due.time_since_epoch().count();
    int count = 0;
    for (const auto& a : cfg->accounts) {
      auto have = db.prepare("SELECT 1 FROM billing_bills WHERE room = ?1 AND period = ?2");
      have.bind(1, a.room).bind(2, period.name);
      if (have.step()) continue;
      // Every charge no bill has taken, timed before the period's end (a reading that arrived
      // late for an earlier bill goes on this one).
      auto sum = db.prepare("SELECT COALESCE(SUM(amount_fen), 0) FROM billing_charges WHERE "
                            "room = ?1 AND bill_id IS NULL AND (at_s IS NULL OR at_s < ?2)");
      sum.bind(1, a.room).bind(2, end);
      const Fen amount = sum.step() ? sum.int64(0) : 0;
      auto ins = db.prepare(
          "INSERT INTO billing_bills(room, period, period_start, period_end, issued_at, due_at, "
          "amount_fen, status) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      ins.bind(1, a.room).bind(2, period.name).bind(3, start).bind(4, end);
      ins.bind(5, static_cast<std::int64_t>(now.time_since_epoch().count())).bind(6, due);
      ins.bind(7, amount).bind(8, std::string(bill_status(amount, 0))).run();
      const std::int64_t id = sqlite3_last_insert_rowid(db.handle());
      auto take = db.prepare("UPDATE billing_charges SET bill_id = ?3 WHERE room = ?1 AND "
                             "bill_id IS NULL AND (at_s IS NULL OR at_s < ?2)");
      take.bind(1, a.room).bind(2, end).bind(3, id).run();
      const AccountRow row = lg.load(a.room);
      lg.settle_bills(a.room, row.balance, now, {{id, "issued"}});
      ++count;
    }
    return count;
  });
  std::lock_guard lock(mutex_);
  issued_period_ = period.name;
  return n;
}

namespace {

// The tariff of shared meter `id`, which goes to `sm`; invalid_argument naming what the config
// lacks.
const Tariff* shared_meter_tariff(const BillingConfig& cfg, const std::string& id,
                                  const SharedMeter*& sm) {
  sm = cfg.find_shared(id);
  if (!sm) throw std::invalid_argument("no shared meter '" + id + "'");
  const Tariff* tariff = cfg.find_tariff(sm->tariff);
  if (!tariff) throw std::invalid_argument("shared meter " + id + ": no tariff '" + sm->tariff + "'");
  return tariff;
}

}  // namespace

AllocationResult Engine::allocate_shared_sync(const std::string& shared_id,
                                              const std::string& period, UsageMilli master_usage,
                                              const std::map<std::string, UsageMilli>& sub_usage,
                                              TimePoint ts) {
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  snapshot(cfg, pushed);
  const SharedMeter* sm = nullptr;
  const Tariff* tariff = shared_meter_tariff(*cfg, shared_id, sm);
  if (master_usage < 0) throw std::invalid_argument("master usage must not be negative");
  std::vector<UsageMilli> subs;
  for (const auto& id : sm->subs) {
    auto it = sub_usage.find(id);
    if (it == sub_usage.end()) throw std::invalid_argument("shared meter " + shared_id + ": no usage for sub-meter '" + id + "'");
    if (it->second < 0) throw std::invalid_argument("sub-meter usage must not be negative");
    subs.push_back(it->second);
  }
  return run_sync<AllocationResult>([&, cfg, sm, tariff](Database& db, Effects& fx) {
    auto& st = statements(db);
    Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
    return allocate_in(lg, *cfg, *sm, *tariff, period, master_usage, subs, ts);
  });
}

std::shared_ptr<const BillingConfig> Engine::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

void Engine::snapshot(std::shared_ptr<const BillingConfig>& config,
                      std::map<std::string, int, std::less<>>& pushed) const {
  std::lock_guard lock(mutex_);
  config = config_;
  pushed = pushed_;
}

PeriodAllocation Engine::allocate_period_sync(const std::string& shared_id,
                                              const SharedPeriod& period, TimePoint now,
                                              const PeriodUsage& usage) {
  std::shared_ptr<const BillingConfig> cfg;
  std::map<std::string, int, std::less<>> pushed;
  snapshot(cfg, pushed);
  const SharedMeter* sm = nullptr;
  const Tariff* tariff = shared_meter_tariff(*cfg, shared_id, sm);
  return run_sync<PeriodAllocation>([&, cfg, sm, tariff](Database& db, Effects& fx) {
    auto& st = statements(db);
    Ledger lg(db, st, *cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
    PeriodAllocation out;
    std::optional<std::string> state, reason;
    {
      auto get = db.prepare("SELECT state, reason FROM billing_shared_periods "
                            "WHERE shared_meter = ?1 AND period = ?2");
      get.bind(1, sm->id).bind(2, period.name);
      if (get.step()) {
        state = get.text(0);
        reason = get.is_null(1) ? std::string() : get.text(1);
      }
    }
    if (state == "allocated") {
      out.status = PeriodAllocation::Status::already_allocated;
      return out;
    }
    std::string why;
    const auto master = usage(db, sm->master, tariff->unit, period.start, period.end, why);
    if (!master) out.reason = "master " + sm->master + ": " + why;
    std::vector<UsageMilli> subs;
    for (const auto& id : sm->subs) {
      if (!out.reason.empty()) break;
      const auto u = usage(db, id, tariff->unit, period.start, period.end, why);
      if (!u) out.reason = "sub-meter " + id + ": " + why;
      else subs.push_back(*u);
    }
    auto put = db.prepare(
        "INSERT INTO billing_shared_periods(shared_meter, period, state, reason, "
        "master_usage_milli, common_usage_milli, total_fen, ts) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(shared_meter, period) DO UPDATE SET state = excluded.state, "
        "reason = excluded.reason, master_usage_milli = excluded.master_usage_milli, "
        "common_usage_milli = excluded.common_usage_milli, total_fen = excluded.total_fen, "
        "ts = excluded.ts");
    put.bind(1, sm->id).bind(2, period.name);
    if (!out.reason.empty()) {
      out.status = PeriodAllocation::Status::waiting;
      if (reason != out.reason) {  // one event per new reason, not one per tick
        put.bind(3, "waiting").bind(4, out.reason).bind_null(5).bind_null(6).bind_null(7);
        put.bind(8, lg.iso(now)).run();
        record::BillingEvent bev;
        bev.name = "shared_waiting";
        bev.reason = out.reason;
        bev.shared_meter = sm->id;
        bev.period = period.name;
        bev.from = lg.iso(period.start);
        bev.to = lg.iso(period.end);
        lg.event(now, std::move(bev));
      }
      return out;
    }
    out.result = allocate_in(lg, *cfg, *sm, *tariff, period.name, *master, subs, now);
    out.status = out.result.duplicate ? PeriodAllocation::Status::already_allocated
                                      : PeriodAllocation::Status::allocated;
    put.bind(3, "allocated").bind_null(4).bind(5, *master).bind(6, out.result.common_usage);
    put.bind(7, out.result.total_fen).bind(8, lg.iso(now)).run();
    if (!out.result.duplicate) {
      UsageMilli sub_total = 0;
      for (auto v : subs) sub_total += v;
      record::BillingEvent bev;
      bev.name = "shared_allocated";
      bev.shared_meter = sm->id;
      bev.period = period.name;
      bev.from = lg.iso(period.start);
      bev.to = lg.iso(period.end);
      bev.master_usage = format_decimal(*master, usage_places);
      bev.sub_usage = format_decimal(sub_total, usage_places);
      bev.common_usage = format_decimal(out.result.common_usage, usage_places);
      bev.total_fen = out.result.total_fen;
      bev.rooms = static_cast<std::int64_t>(sm->rooms.size());
      lg.event(now, std::move(bev));
    }
    return out;
  });
}

ApplyResult Engine::write_arrears(Database& db, Effects& fx, const BillingConfig& cfg,
                                  const ArrearsList& list) {
  auto v = db.prepare("SELECT value FROM billing_settings WHERE key = 'arrears_list_version'");
  const std::int64_t current = v.step() ? std::stoll(v.text(0)) : 0;
  v.reset();
  if (list.version <= current) {
    return ApplyResult{false, "arrears list rejected: version " + std::to_string(list.version) +
                                  " is not newer than the applied version " + std::to_string(current),
                       current};
  }
  db.exec("DELETE FROM billing_arrears_pushed");
  auto ins = db.prepare("INSERT INTO billing_arrears_pushed(room, level) VALUES(?1, ?2)");
  for (const auto& [room, level] : list.rooms) ins.bind(1, room).bind(2, level).run();
  auto set = db.prepare("INSERT INTO billing_settings(key, value) VALUES('arrears_list_version', ?1) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  set.bind(1, std::to_string(list.version)).run();
  std::map<std::string, int, std::less<>> pushed(list.rooms.begin(), list.rooms.end());
  auto& st = statements(db);
  Ledger lg(db, st, cfg, fx, gateway_id_, utc_offset_minutes_, pushed);
  record::BillingEvent bev;
  bev.name = "arrears_list_applied";
  bev.rooms = static_cast<std::int64_t>(list.rooms.size());
  bev.version = list.version;
  lg.event(std::chrono::floor<std::chrono::seconds>(Clock::now()), std::move(bev));
  fx.pushed.emplace(std::move(pushed), list.version);
  return ApplyResult{true, "", list.version};
}

ApplyResult Engine::apply_arrears_list(std::string_view json) {
  std::shared_ptr<const BillingConfig> cfg;
  {
    std::lock_guard lock(mutex_);
    cfg = config_;
  }
  auto parsed = parse_arrears_list(json, cfg->arrears);
  if (!parsed.list) return {false, "arrears list rejected: " + parsed.error, 0};
  ArrearsList list = std::move(*parsed.list);
  try {
    return run_sync<ApplyResult>([&, cfg](Database& db, Effects& fx) {
      return write_arrears(db, fx, *cfg, list);
    });
  } catch (const std::exception& e) {
    return {false, std::string("arrears list not applied: ") + e.what(), 0};
  }
}

std::function<void()> Engine::apply_arrears_in(Database& db, const ArrearsList& list) {
  std::shared_ptr<const BillingConfig> cfg;
  {
    std::lock_guard lock(mutex_);
    cfg = config_;
  }
  for (const auto& [room, level] : list.rooms) {
    if (level != 0 && (level < 0 || !cfg->arrears.find(level))) {
      std::string levels;
      for (const auto& l : cfg->arrears.levels) {
        levels += (levels.empty() ? "" : ", ") + std::to_string(l.level);
      }
      throw std::invalid_argument("level " + std::to_string(level) +
                                  " is not a level of the site's arrears policy (0 or " +
                                  (levels.empty() ? std::string("none defined") : levels) + ")");
    }
  }
  auto fx = std::make_shared<Effects>();
  db.exec("SAVEPOINT arrears_in");
  try {
    auto r = write_arrears(db, *fx, *cfg, list);
    if (!r.ok) throw std::invalid_argument(r.error);
    db.exec("RELEASE arrears_in");
  } catch (...) {
    db.exec("ROLLBACK TO arrears_in");
    db.exec("RELEASE arrears_in");
    throw;
  }
  return [this, fx] { after_commit(*fx); };
}

ArrearsLevel Engine::arrears_level(std::string_view room, TimePoint now) const {
  std::lock_guard lock(mutex_);
  if (auto it = pushed_.find(room); it != pushed_.end()) {
    ArrearsLevel l;
    l.level = it->second;
    l.source = ArrearsLevel::Source::pushed;
    if (const auto* r = config_->arrears.find(l.level)) l.actions = r->actions;
    if (auto a = accounts_.find(room); a != accounts_.end() && a->second.balance_fen < 0) {
      l.overdue_fen = -a->second.balance_fen;
    }
    return l;
  }
  if (config_->bills) {
    auto b = bills_.find(room);
    return b == bills_.end() ? ArrearsLevel{} : arrears_from_bills(config_->arrears, b->second, now);
  }
  auto a = accounts_.find(room);
  if (a == accounts_.end() || !a->second.overdue_since || a->second.balance_fen >= 0) return {};
  const int days = static_cast<int>((now.time_since_epoch().count() - *a->second.overdue_since) / seconds_per_day);
  return compute_arrears_level(config_->arrears, days, -a->second.balance_fen);
}

std::optional<Fen> Engine::balance_fen(std::string_view room) const {
  std::lock_guard lock(mutex_);
  auto a = accounts_.find(room);
  if (a == accounts_.end()) return std::nullopt;
  return a->second.balance_fen;
}

std::string Engine::supply_state(std::string_view room) const {
  std::lock_guard lock(mutex_);
  auto a = accounts_.find(room);
  return a == accounts_.end() ? std::string() : a->second.supply;
}

void Engine::on_action_answer(std::int64_t action_id, DeviceActions::Answer answer) {
  auto fx = std::make_shared<Effects>();
  const TimePoint now = std::chrono::floor<std::chrono::seconds>(Clock::now());
  store_.write(
      [this, fx, action_id, answer = std::move(answer), now](Database& db) {
        auto q = db.prepare("SELECT room, meter, action, state FROM billing_actions WHERE id = ?1");
        q.bind(1, action_id);
        if (!q.step() || q.text(3) != "requested") return;  // unknown or answered already
        const std::string room = q.text(0), meter = q.text(1), action = q.text(2);
        q.reset();
        auto up = db.prepare("UPDATE billing_actions SET state = ?2, answered_ts = ?3, detail = ?4 WHERE id = ?1");
        const std::string ts = store::iso8601(now, utc_offset_minutes_);
        up.bind(1, action_id).bind(2, answer.ok ? "done" : "failed").bind(3, ts).bind(4, answer.detail).run();
        record::BillingEvent f;
        f.ts = ts;
        f.name = "supply_action_result";
        f.room = room;
        f.meter = meter;
        f.action = action;
        f.detail = answer.detail;
        f.action_id = action_id;
        f.ok = answer.ok;
        auto out = record::append(db, gateway_id_, f);
        const std::string& text = out.payload;
        auto ev = db.prepare("INSERT INTO events(ts, kind, source, detail, seq) VALUES(?1, 'billing.supply_action_result', 'billing', ?2, ?3)");
        ev.bind(1, ts).bind(2, text).bind(3, out.seq).run();
        audit::Entry e;
        e.ts = ts;
        e.kind = action.starts_with("valve") ? "supply.valve" : "supply.relay";
        e.actor = "system";
        e.subject = "device:" + meter;
        e.room = room;
        e.detail_json = nlohmann::json{{"action", action.substr(action.find('_') + 1)},
                                       {"action_id", action_id},
                                       {"state", answer.ok ? "done" : "failed"},
                                       {"ok", answer.ok},
                                       {"detail", answer.detail}}
                            .dump();
        audit::append(db, e);
      },
      {});
}

}  // namespace estate::billing
