#include "daemon/billing/billing_component.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <climits>

#include "daemon/metering/meter_component.hpp"

namespace estate::billing {

namespace {

// Power of ten that takes a value in `from` to `to`, when the two differ only by one.
std::optional<int> unit_shift(std::string_view from, std::string_view to) {
  auto norm = [](std::string_view u) -> std::string_view {
    if (u == "m^3" || u == "m³") return "m3";
    if (u == "L") return "l";
    return u;
  };
  from = norm(from);
  to = norm(to);
  if (from == to) return 0;
  struct Step {
    std::string_view from, to;
    int shift;
  };
  static constexpr Step steps[] = {{"Wh", "kWh", -3}, {"Wh", "MWh", -6}, {"kWh", "MWh", -3},
                                   {"MWh", "kWh", 3},  {"J", "GJ", -9},   {"MJ", "GJ", -3},
                                   {"l", "m3", -3}};
  for (const auto& s : steps) {
    if (s.from == from && s.to == to) return s.shift;
  }
  return std::nullopt;
}

// How many waiting periods one tick retries, and how far back (in periods) it looks for them.
constexpr std::size_t kMaxRetriedPeriods = 8;
constexpr int kRetryHorizonPeriods = 24 * 60;

}  // namespace

std::optional<UsageMilli> billable_usage(const metering::StoredReading& r,
                                         std::string_view tariff_unit) {
  // Only the meter's billed register (a flag the driver set from the model's `billed: true`
  // point or the protocol's register for the medium) is charged; the others are telemetry.
  if (!r.delta || !r.billed) return std::nullopt;
  auto shift = unit_shift(r.unit, tariff_unit);
  if (!shift) return std::nullopt;
  drivers::Decimal d = *r.delta;
  d.exponent += *shift;
  if (d.mantissa < 0) return std::nullopt;
  // To milli-units. Digits finer than a thousandth of a unit are dropped (rounded down): meters
  // send at most three decimals of the billed unit, and the next reading's delta carries the
  // counter forward, so nothing is lost over a cycle but a sub-milli remainder.
  std::int64_t m = d.mantissa;
  int e = d.exponent + 3;
  for (; e < 0; ++e) m /= 10;
  for (; e > 0; --e) {
    if (m > INT64_MAX / 10) return std::nullopt;
    m *= 10;
  }
  return m;
}

std::optional<UsageMilli> period_usage(store::Database& db, const std::string& meter,
                                       const std::string& unit, TimePoint start, TimePoint end,
                                       std::string& why) {
  const std::int64_t start_ms = start.time_since_epoch().count() * 1000;
  const std::int64_t end_ms = end.time_since_epoch().count() * 1000;
  auto st = db.prepare("SELECT quantity, unit, delta, ts_ms FROM readings "
                       "WHERE meter = ?1 AND ts_ms >= ?2 AND billed = 1 ORDER BY id");
  st.bind(1, meter).bind(2, start_ms);
  bool closed = false;
  UsageMilli sum = 0;
  while (st.step()) {
    metering::StoredReading r;
    r.meter = meter;
    r.quantity = st.text(0);
    r.unit = st.text(1);
    r.billed = true;
    if (!unit_shift(r.unit, unit)) continue;
    if (st.int64(3) >= end_ms) {
      closed = true;
      continue;
    }
    if (!st.is_null(2)) r.delta = drivers::parse_decimal(st.text(2));
    if (auto u = billable_usage(r, unit)) sum += *u;
  }
  if (!closed) {
    why = "no reading of a billed register at or after the period's end";
    return std::nullopt;
  }
  return sum;
}

std::shared_ptr<const BillingConfig> BillingComponent::configured(const config::SiteConfig& site) {
  config::Diagnostics diag;
  auto cfg = billing_config_from(site, diag);
  if (!cfg) {
    // load_site_config ran the same checks; reaching here means a programming error.
    throw std::runtime_error("billing config: " + diag.to_string());
  }
  if (cfg->accounts.empty()) return nullptr;
  return std::make_shared<const BillingConfig>(std::move(*cfg));
}

BillingComponent::BillingComponent(runtime::Services& services,
                                   std::shared_ptr<const BillingConfig> config)
    : services_(services), config_(std::move(config)), tick_(services.io) {
  auto site = services_.config();
  engine_ = std::make_unique<Engine>(services_.store, config_, site->gateway.id,
                                     site->site.utc_offset_minutes, this);
}

BillingComponent::~BillingComponent() = default;

std::string BillingComponent::tariff_unit_of(const std::string& meter) const {
  auto [account, entry] = config_->find_meter(meter);
  if (!entry) return {};
  const Tariff* t = config_->find_tariff(entry->tariff);
  return t ? t->unit : std::string();
}

void BillingComponent::start() {
  engine_->start();
  replay_unbilled();
  const auto now = std::chrono::floor<std::chrono::seconds>(Clock::now());
  allocate_due(now);
  try {
    // Bills of a period that closed while the daemon was down, and the fees of the days since.
    if (const int n = engine_->issue_bills_sync(now)) spdlog::info("billing: {} bill(s) issued", n);
    engine_->accrue_late_fees_sync(now);
  } catch (const std::exception& e) {
    spdlog::error("billing: bills not issued at start: {}", e.what());
  }
  arm_tick();
}

void BillingComponent::allocate_due(TimePoint now) {
  const auto cfg = engine_->config();
  const int offset = services_.config()->site.utc_offset_minutes;
  for (const auto& sm : cfg->shared_meters) {
    const DuePeriod due = last_closed_period(sm, now, offset);
    // Earlier periods that closed before their readings arrived (a meter polled just after the
    // period's end, a restart across it) are retried until allocated, oldest first.
    std::set<std::string> waiting;
    {
      auto db = services_.store.open_reader();
      auto st = db.prepare("SELECT period FROM billing_shared_periods "
                           "WHERE shared_meter = ?1 AND state = 'waiting'");
      st.bind(1, sm.id);
      while (st.step()) waiting.insert(st.text(0));
    }
    auto todo = periods_to_retry(sm, due.period, std::move(waiting), offset,
                                 kMaxRetriedPeriods, kRetryHorizonPeriods);
    if (now >= due.due && allocated_[sm.id] != due.period.name) todo.push_back(due.period);
    for (const auto& period : todo) {
      try {
        const auto r = engine_->allocate_period_sync(sm.id, period, now, period_usage);
        if (r.status != PeriodAllocation::Status::waiting && period.name == due.period.name) {
          allocated_[sm.id] = period.name;
        }
        if (r.status == PeriodAllocation::Status::allocated) {
          spdlog::info("billing: shared meter {} period {} allocated: {} fen over {} room(s)",
                       sm.id, period.name, r.result.total_fen, r.result.parts.size());
        }
      } catch (const std::exception& e) {
        spdlog::error("billing: shared meter {} period {} not allocated: {}", sm.id, period.name,
                      e.what());
      }
    }
  }
}

void BillingComponent::stop(std::function<void()> done) {
  stopping_ = true;
  tick_.cancel();
  done();
}

void BillingComponent::reload(std::shared_ptr<const config::SiteConfig> site) {
  config::Diagnostics diag;
  auto cfg = billing_config_from(*site, diag);
  if (!cfg) return;  // the daemon validated it already; keep the running one otherwise
  auto ptr = std::make_shared<const BillingConfig>(std::move(*cfg));
  // config_ is read on the writer thread by on_reading(); swap it there, between jobs.
  services_.store.write([this, ptr](store::Database&) { config_ = ptr; });
  engine_->reload(ptr);
}

void BillingComponent::on_reading(store::Database& db, const metering::StoredReading& r) {
  if (stopping_) return;  // replayed on the next start
  auto unit = tariff_unit_of(r.meter);
  if (unit.empty()) return;  // not on an account
  auto usage = billable_usage(r, unit);
  if (!usage) return;
  ReadingDelta delta;
  delta.meter = r.meter;
  delta.usage = *usage;
  delta.seq = r.seq;
  delta.ts = TimePoint(std::chrono::seconds(r.ts_ms / 1000));
  auto prev = db.prepare(
      "SELECT ts_ms FROM readings WHERE meter = ?1 AND quantity = ?2 AND id < ?3 "
      "ORDER BY id DESC LIMIT 1");
  prev.bind(1, r.meter).bind(2, r.quantity).bind(3, r.reading_id);
  if (prev.step()) delta.previous = TimePoint(std::chrono::seconds(prev.int64(0) / 1000));
  // A job of its own, queued behind this transaction: the reading is durable first.
  engine_->post_reading(std::move(delta), [meter = r.meter, seq = r.seq](PostResult,
                                                                          std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("billing: charge for {} reading seq {} not posted: {}", meter, seq, ex.what());
    }
  });
}

void BillingComponent::replay_unbilled() {
  // Readings of billed meters whose charge is missing (a crash between the two commits).
  auto db = services_.store.open_reader();
  auto st = db.prepare(
      "SELECT r.id, r.seq, r.meter, r.quantity, r.value, r.unit, r.delta, r.ts, r.ts_ms "
      "FROM readings r WHERE r.delta IS NOT NULL AND r.seq IS NOT NULL AND r.billed = 1 AND NOT EXISTS ("
      "SELECT 1 FROM billing_charges c WHERE c.meter = r.meter AND c.reading_seq = r.seq) "
      "ORDER BY r.id");
  std::vector<metering::StoredReading> missing;
  while (st.step()) {
    metering::StoredReading r;
    r.reading_id = st.int64(0);
    r.seq = st.int64(1);
    r.meter = st.text(2);
    r.quantity = st.text(3);
    r.billed = true;
    r.unit = st.text(5);
    r.delta = drivers::parse_decimal(st.text(6));
    r.ts = st.text(7);
    r.ts_ms = st.int64(8);
    if (tariff_unit_of(r.meter).empty() || !billable_usage(r, tariff_unit_of(r.meter))) continue;
    missing.push_back(std::move(r));
  }
  if (missing.empty()) return;
  spdlog::warn("billing: {} reading(s) stored without their charge (interrupted); posting now",
               missing.size());
  for (const auto& r : missing) {
    services_.store.write([this, r](store::Database& w) { on_reading(w, r); });
  }
}

void BillingComponent::arm_tick() {
  tick_.expires_after(std::chrono::minutes(1));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    auto now = std::chrono::floor<std::chrono::seconds>(Clock::now());
    try {
      engine_->tick_sync(now);
      allocate_due(now);
      if (const int n = engine_->issue_bills_sync(now)) spdlog::info("billing: {} bill(s) issued", n);
      if (ticks_++ % 60 == 0) engine_->accrue_late_fees_sync(now);
    } catch (const std::exception& e) {
      spdlog::error("billing: periodic work failed: {}", e.what());
    }
    arm_tick();
  });
}

void BillingComponent::request(const std::string& meter, SupplyAction action,
                               std::function<void(Answer)> done) {
  if (!meters_) {
    done({false, "no meter bus carries " + meter});
    return;
  }
  drivers::MeterCommand c = drivers::MeterCommand::valve_close;
  switch (action) {
    case SupplyAction::valve_close: c = drivers::MeterCommand::valve_close; break;
    case SupplyAction::valve_open: c = drivers::MeterCommand::valve_open; break;
    case SupplyAction::relay_trip: c = drivers::MeterCommand::relay_trip; break;
    case SupplyAction::relay_close: c = drivers::MeterCommand::relay_close; break;
  }
  meters_->command(meter, c, [done = std::move(done)](boost::system::error_code ec) {
    done({!ec, ec ? ec.message() : std::string("confirmed by the meter")});
  });
}

bridge::ListSpec arrears_list_spec(Engine& engine) {
  bridge::ListSpec spec;
  spec.name = "arrears";
  spec.validate_item = [](const nlohmann::json& item) -> std::string {
    for (auto& [k, v] : item.items()) {
      if (k != "key" && k != "level") return "unknown field '" + k.substr(0, 64) + "'";
    }
    auto level = item.find("level");
    if (level == item.end()) return "level: required";
    if (!level->is_number_integer() || level->get<std::int64_t>() < 0 ||
        level->get<std::int64_t>() > 99) {
      return "level: expected an integer from 0 to 99";
    }
    return "";
  };
  spec.apply = [&engine](store::Database& db, const std::string& name,
                         std::int64_t version) -> bridge::ListSpec::Committed {
    ArrearsList list;
    list.version = version;
    bridge::for_each_list_item(db, name, [&](const nlohmann::json& item) {
      list.rooms.emplace(item.at("key").get<std::string>(), item.at("level").get<int>());
    });
    return engine.apply_arrears_in(db, list);
  };
  return spec;
}

}  // namespace estate::billing
