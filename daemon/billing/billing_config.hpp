// The billing part of the site config: top-level sections `tariffs`, `accounts`,
// `shared_meters`, `bills`, `late_fees` and `arrears` (docs/billing.md has every key). Each section has
// a validator registered in daemon/config/domain_sections.cpp, so check-config reports its
// errors with file:line:column; billing_config_from() then builds the typed, cross-checked
// BillingConfig the engine runs on. Immutable once built; safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/billing/decimal.hpp"
#include "daemon/billing/tariff.hpp"
#include "daemon/config/section.hpp"
#include "daemon/config/site_config.hpp"

namespace estate::billing {

// What happens to a meter's supply when its prepaid account runs out: a warning only, or close
// the valve (water, hot water, gas, heat: CJ/T 188) / trip the relay (electricity: DL/T 645).
enum class OnZero { warn, close };

struct AccountMeter {
  std::string meter;   // device id
  std::string tariff;  // tariff id
  std::optional<OnZero> on_zero;  // unset: from the device's valve_policy (close_on_zero)
  config::Location origin;
};

struct PrepaidPolicy {
  std::vector<Fen> low_balance_fen;  // thresholds, descending; an event when crossed downward
  Fen credit_limit_fen = 0;          // the balance may go this far below zero before "zero"
  int grace_minutes = 0;             // wait this long after reaching zero before acting
};

struct Account {
  std::string room;                  // the household, e.g. "1-1-101"; unique
  std::int64_t area_centi_m2 = 0;    // area in 0.01 m2 (shared-meter weights)
  std::int64_t headcount = 0;
  std::optional<PrepaidPolicy> prepaid;  // none: postpaid
  std::vector<AccountMeter> meters;
  config::Location origin;
};

// How a shared meter's cost is weighed between its rooms: by area_m2, by headcount, by each
// room's own usage (its paired sub-meter), or equally (one share each).
enum class AllocationBasis { area, headcount, usage, equal };

struct SharedMeter {
  std::string id;
  std::string master;               // meter id of the master (building / common) meter
  std::vector<std::string> subs;    // meter ids of the sub-meters behind it
  std::string tariff;               // prices the common usage
  AllocationBasis basis = AllocationBasis::area;
  std::vector<std::string> rooms;   // who shares it, in this order (ties go to the earlier)
  std::int64_t loss_alert_e2 = 0;   // percent x100 of master usage; 0: no alert
  // The billing period: 0 = the calendar month (site time), allocated from `allocate_at_minute`
  // (minutes after local midnight) on day 1 of the next month; N > 0 = periods of N minutes
  // aligned to local midnight, allocated at the first tick after they end (tests, commissioning).
  std::int64_t period_minutes = 0;
  std::int64_t allocate_at_minute = 60;  // "01:00"
  config::Location origin;
};

// Bills (docs/billing.md, "Bills"): one bill per room and billing period, due `due_days` days
// after the period's end. Without a `bills:` section no bills are issued, and arrears and late
// fees follow the balance as before.
struct BillsPolicy {
  // As a shared meter's period: 0 = the calendar month (site time), issued from
  // `issue_at_minute` (minutes after local midnight) on day 1 of the next month; N > 0 = periods
  // of N minutes aligned to local midnight, issued at the first tick after they end.
  std::int64_t period_minutes = 0;
  std::int64_t issue_at_minute = 120;  // "02:00"
  int due_days = 15;                   // due = the period's end + due_days x 24 h
  config::Location origin;
};

struct LateFeePolicy {
  std::int64_t daily_rate_e6 = 0;  // fraction of the overdue amount per day, x1e6 ("0.0005")
  int grace_days = 0;              // days overdue before fees start
  std::int64_t cap_percent_e2 = 10000;  // fees at most this percent (x100) of the overdue amount
};

// Arrears actions, as a bit set.
enum ArrearsAction : unsigned {
  warn = 1u << 0,               // warn at the kiosk / gate
  charge_as_visitor = 1u << 1,  // parking charged as a visitor
  deny_gate = 1u << 2,          // gate access denied
  close_valve = 1u << 3,        // supply closed (valve / relay)
};

struct ArrearsLevelRule {
  int level = 0;
  int min_days = 0;     // days overdue at least
  Fen min_fen = 0;      // overdue amount at least
  unsigned actions = 0;
};

struct ArrearsPolicy {
  std::vector<ArrearsLevelRule> levels;  // ascending level
  const ArrearsLevelRule* find(int level) const;
};

struct BillingConfig {
  std::vector<Tariff> tariffs;
  std::vector<Account> accounts;
  std::vector<SharedMeter> shared_meters;
  std::optional<BillsPolicy> bills;
  std::optional<LateFeePolicy> late_fees;
  ArrearsPolicy arrears;

  const Tariff* find_tariff(std::string_view id) const;
  const Account* find_account(std::string_view room) const;
  // The account and entry a meter bills to, or {nullptr, nullptr}.
  std::pair<const Account*, const AccountMeter*> find_meter(std::string_view meter) const;
  const SharedMeter* find_shared(std::string_view id) const;
};

// Section validators/parsers. Each reads its key from `document` (the whole YAML file) and
// reports problems to its Diagnostics; valid entries are appended to `out`.
void parse_accounts(config::Section& document, std::vector<Account>& out);
void parse_shared_meters(config::Section& document, std::vector<SharedMeter>& out);
void parse_bills(config::Section& document, std::optional<BillsPolicy>& out);
void parse_late_fees(config::Section& document, std::optional<LateFeePolicy>& out);
void parse_arrears(config::Section& document, ArrearsPolicy& out);

// Validators with the DomainSectionSpec signature (validate, discard the result).
void validate_tariffs_section(config::Section& document);
void validate_accounts_section(config::Section& document);
void validate_shared_meters_section(config::Section& document);
void validate_bills_section(config::Section& document);
void validate_late_fees_section(config::Section& document);
void validate_arrears_section(config::Section& document);

// Builds the typed config from a loaded site config and cross-checks it: tariff ids unique
// across files, every account meter and shared meter is a configured meter device and names a
// known tariff, a meter bills to one account only, rooms unique, shared rooms exist.
std::optional<BillingConfig> billing_config_from(const config::SiteConfig& site,
                                                 config::Diagnostics& diag);

std::string arrears_actions_text(unsigned actions);  // "warn,deny_gate"

}  // namespace estate::billing
