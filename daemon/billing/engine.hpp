// The billing engine: prices validated meter readings, posts charges, keeps prepaid balances,
// raises low-balance events, acts on the supply at zero (per the site's policy, through
// DeviceActions), re-opens on top-up, allocates shared meters, accrues late fees and answers
// arrears levels. Every money movement is a row in the store plus an outbox record on stream
// "transactions"; every action and its answer is an event row plus an outbox record on stream
// "events".
//
// Exactly once: a reading's charge is keyed by (meter, reading seq) with a UNIQUE constraint;
// offering the same reading again (after a crash, a restart, a retry) returns the original
// charge as `duplicate` and changes nothing.
//
// Rounding (docs/billing.md): a reading's exact cost (1e-7 yuan) is added to the running exact
// total of its room/meter/tariff/cycle; the charge posted is round_half_up(new total) minus the
// fen already posted in that cycle. So the fen posted over a cycle always equal the cycle's
// exact cost rounded once, however its usage was split into readings.
//
// Thread-safety: all public members may be called from any thread. Writes run as jobs on the
// store's writer thread; *_sync variants wait for the commit (never call them from the writer
// thread or a DeviceActions callback). arrears_level() and balance_fen() read an in-memory
// snapshot (no I/O) updated after each commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/billing/arrears.hpp"
#include "daemon/billing/billing_config.hpp"
#include "daemon/billing/bills.hpp"
#include "daemon/billing/device_actions.hpp"
#include "daemon/store/store.hpp"

namespace estate::billing {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::sys_seconds;

// A validated reading's consumption since the previous reading of the same meter.
struct ReadingDelta {
  std::string meter;
  UsageMilli usage = 0;              // >= 0, in milli-units of the tariff's unit
  std::int64_t seq = 0;              // the reading's seq: the charge's idempotency key
  TimePoint ts;                      // when the reading was taken
  std::optional<TimePoint> previous; // the previous reading's time: time-of-use split
};

struct PostResult {
  enum class Status { posted, duplicate, not_billed };  // not_billed: meter on no account
  Status status = Status::not_billed;
  std::string room;
  Fen amount_fen = 0;
  Fen balance_fen = 0;  // after this charge
};

struct TopUpResult {
  bool duplicate = false;  // this ref was applied before; nothing changed
  Fen balance_fen = 0;
  bool reopened = false;   // supply re-open requested
};

struct AllocationResult {
  bool duplicate = false;
  UsageMilli common_usage = 0;
  Fen total_fen = 0;
  std::map<std::string, Fen> parts;  // room -> fen
  bool loss_alert = false;
};

// A shared meter's billing period: [start, end) and its name: "2026-11" for a calendar month,
// "2026-12-04T16:50/5m" (local start, length) for minute periods.
struct SharedPeriod {
  std::string name;
  TimePoint start;
  TimePoint end;
};

// The period of `sm` that ended most recently at or before `now`, and from when it is due
// (month: day 1 of the next month at `allocate_at`, site time; minute periods: their end).
struct DuePeriod {
  SharedPeriod period;
  TimePoint due;
};
DuePeriod last_closed_period(const SharedMeter& sm, TimePoint now, int utc_offset_minutes);

// Periods before `latest` whose allocation is still waiting for readings (`waiting` holds their
// names as billing_shared_periods has them), oldest first: at most `max` of them, looked for no
// further back than `horizon` periods. A period that waited when it closed is retried on later
// ticks until its readings arrive, not abandoned when the next period closes.
std::vector<SharedPeriod> periods_to_retry(const SharedMeter& sm, const SharedPeriod& latest,
                                           std::set<std::string> waiting, int utc_offset_minutes,
                                           std::size_t max, int horizon);

// A meter's consumption over [start, end) as the store holds it, in milli-units of `unit`;
// nullopt, with `why` set, when its readings do not yet cover the period. Runs in the job's
// transaction.
using PeriodUsage = std::function<std::optional<UsageMilli>(
    store::Database& db, const std::string& meter, const std::string& unit, TimePoint start,
    TimePoint end, std::string& why)>;

struct PeriodAllocation {
  enum class Status { allocated, already_allocated, waiting };
  Status status = Status::waiting;
  std::string reason;       // waiting: which meter lacks readings
  AllocationResult result;  // allocated: the shares
};

struct ApplyResult {
  bool ok = false;
  std::string error;
  std::int64_t version = 0;
};

class Engine {
 public:
  // `actions` may be null (warn-only site); it must outlive the engine.
  Engine(store::Store& store, std::shared_ptr<const BillingConfig> config, std::string gateway_id,
         int utc_offset_minutes, DeviceActions* actions);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Creates account rows for configured rooms, loads the snapshot, and re-asks the devices for
  // every action that was requested but not answered before a restart.
  void start();
  void reload(std::shared_ptr<const BillingConfig> config);

  // For the meter pipeline. Errors (unknown tariff, negative usage, store failure) reach `done`
  // as an exception; nothing is posted then.
  void post_reading(ReadingDelta delta, std::function<void(PostResult, std::exception_ptr)> done);
  PostResult post_reading_sync(const ReadingDelta& delta);

  // A top-up (kiosk, POS, platform). `ref` is the payment's unique id (idempotent).
  // std::invalid_argument: amount <= 0 or unknown room.
  TopUpResult top_up_sync(const std::string& room, Fen amount_fen, const std::string& source,
                          const std::string& ref, TimePoint ts);

  // Periodic: acts on prepaid accounts whose grace after zero has passed, and on rooms whose
  // arrears level demands close_valve.
  void tick_sync(TimePoint now);

  // Daily: posts late fees accrued up to `now` (the difference to what was already posted).
  // Returns the fen posted in this run. With `bills:` the fees accrue per overdue bill
  // (bills.hpp: accrue_bill_fee), otherwise on the account's overdue balance.
  Fen accrue_late_fees_sync(TimePoint now);

  // With `bills:`: issues the bills of the billing period that ended last, once it is due (its
  // issue time), exactly once per (room, period): the bill takes every charge of the room no
  // bill has taken and timed before the period's end; the bill row, its charges' bill_id, its
  // "bill" record (stream "bills") and the settlement of the room's bills commit in one
  // transaction. Returns the number of bills issued now (0 when already issued or not due).
  int issue_bills_sync(TimePoint now);

  // Allocates a shared meter's common usage for `period` (e.g. "2026-11"); once per period.
  // `sub_usage` maps each sub-meter id to its usage in the period. std::invalid_argument on an
  // unknown id or a missing sub-meter.
  AllocationResult allocate_shared_sync(const std::string& shared_id, const std::string& period,
                                        UsageMilli master_usage,
                                        const std::map<std::string, UsageMilli>& sub_usage,
                                        TimePoint ts);

  // Allocates one period of a shared meter from the store's readings, exactly once: the shares
  // (charges, outbox records, audit entries) and the period's 'allocated' row in
  // billing_shared_periods commit in one transaction; a period already allocated does nothing.
  // When a meter's readings do not cover the period, nothing is posted: the period is marked
  // 'waiting' with the reason and a billing.shared_waiting event is raised (once per reason),
  // to be tried again on the next call. std::invalid_argument on an unknown id.
  PeriodAllocation allocate_period_sync(const std::string& shared_id, const SharedPeriod& period,
                                        TimePoint now, const PeriodUsage& usage);

  std::shared_ptr<const BillingConfig> config() const;

  // The platform's arrears list (see parse_arrears_list): applied all-or-nothing, only if its
  // version is above the applied one. For the cloud bridge.
  ApplyResult apply_arrears_list(std::string_view json);

  // The same for the cloud bridge's cmd/arrears, inside the bridge's writer transaction. Throws
  // std::invalid_argument naming the problem (a level the policy does not define, a version not
  // above the applied one; never a room); nothing is written then. Returns what to run once that
  // transaction has committed: the new levels go live there (the engine must outlive it).
  std::function<void()> apply_arrears_in(store::Database& db, const ArrearsList& list);

  // For the gate and the kiosk: the room's level and actions; pushed levels win.
  ArrearsLevel arrears_level(std::string_view room, TimePoint now = std::chrono::floor<std::chrono::seconds>(Clock::now())) const;

  std::optional<Fen> balance_fen(std::string_view room) const;
  int utc_offset_minutes() const { return utc_offset_minutes_; }
  std::string supply_state(std::string_view room) const;  // open | warned | closed; "" unknown

  // Called by DeviceActions' completion (any thread): records the device's answer.
  void on_action_answer(std::int64_t action_id, DeviceActions::Answer answer);

  struct Effects;  // what a committed job changed (internal)
  struct Statements;

 private:
  // The config and the pushed list versions, taken together under the lock.
  void snapshot(std::shared_ptr<const BillingConfig>& config,
                std::map<std::string, int, std::less<>>& pushed) const;
  template <class R>
  R run_sync(std::function<R(store::Database&, Effects&)> job);
  void after_commit(Effects& fx);
  ApplyResult write_arrears(store::Database& db, Effects& fx, const BillingConfig& cfg,
                            const ArrearsList& list);
  Statements& statements(store::Database& db);

  store::Store& store_;
  std::string gateway_id_;
  int utc_offset_minutes_;
  DeviceActions* actions_;

  mutable std::mutex mutex_;  // guards config_ and the snapshot below
  std::shared_ptr<const BillingConfig> config_;
  struct AccountSnapshot {
    Fen balance_fen = 0;
    std::string supply = "open";
    std::optional<std::int64_t> overdue_since;  // UTC seconds
  };
  std::map<std::string, AccountSnapshot, std::less<>> accounts_;
  std::map<std::string, int, std::less<>> pushed_;
  std::int64_t pushed_version_ = 0;
  std::map<std::string, std::vector<OpenBill>, std::less<>> bills_;  // unpaid bills per room
  std::string issued_period_;  // the last period whose bills were all issued

  std::unique_ptr<Statements> statements_;  // writer thread only
};

}  // namespace estate::billing
