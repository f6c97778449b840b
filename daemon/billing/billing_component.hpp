// Billing in the running daemon: the Engine fed by the meter pipeline (as its ReadingSink) and
// acting on supplies through the meter buses (as the Engine's DeviceActions). Also runs the
// periodic work: grace expiry and arrears actions (every minute), shared-meter allocation of
// each period once due and the bills of each billing period once due (both checked at start and
// every minute) and late fees (at start, then hourly).
//
// Exactly once, across crashes: a reading is stored first (its own transaction); its charge is
// posted by a separate writer job keyed by (meter, reading seq). A crash between the two
// leaves a reading without a charge; start() posts every such reading again, and the key makes
// a repeat harmless.
// Thread-safety: on_reading() on the store's writer thread; request() from the engine (any
// thread); the rest from the daemon's io_context.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <optional>

#include "daemon/billing/engine.hpp"
#include "daemon/bridge/commands.hpp"
#include "daemon/metering/reading_sink.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::metering {
class MeterComponent;
}

namespace estate::billing {

// The usage a stored reading bills, in milli-units of `tariff_unit`; nullopt when the register
// is not a billed consumption register (instantaneous values, export energy, ...), the reading
// has no delta, or its unit cannot be converted exactly by a power of ten.
std::optional<UsageMilli> billable_usage(const metering::StoredReading& r,
                                         std::string_view tariff_unit);

// A meter's consumption over [start, end) from the store's readings (a PeriodUsage): the sum of
// the billable usage of its readings timed in the period (a reading counts in the period of its
// own timestamp, as for tariff cycles), in milli-units of `unit`. nullopt, with `why`, until the
// meter has a reading of a billed register timed at or after `end`: only then is the period
// known to be complete.
std::optional<UsageMilli> period_usage(store::Database& db, const std::string& meter,
                                       const std::string& unit, TimePoint start, TimePoint end,
                                       std::string& why);

// The cloud bridge's cmd/arrears (docs/mqtt-api.md): items {"key": room, "level": 0..99}, each
// level 0 or one the site's arrears policy defines. A complete version is written to billing's
// pushed levels in the bridge's transaction (Engine::apply_arrears_in) and goes live after the
// commit; the engine must outlive the bridge's list commands.
bridge::ListSpec arrears_list_spec(Engine& engine);

class BillingComponent final : public runtime::Component,
                               public metering::ReadingSink,
                               public DeviceActions {
 public:
  BillingComponent(runtime::Services& services, std::shared_ptr<const BillingConfig> config);
  ~BillingComponent() override;

  // The billing config when the site has accounts; nullopt otherwise (no billing component).
  static std::shared_ptr<const BillingConfig> configured(const config::SiteConfig& site);

  // The meter buses that carry out valve/relay actions; set before start().
  void set_meters(metering::MeterComponent* meters) { meters_ = meters; }
  Engine& engine() { return *engine_; }

  std::string_view name() const override { return "billing"; }
  void start() override;
  void stop(std::function<void()> done) override;
  void reload(std::shared_ptr<const config::SiteConfig> site) override;

  void on_reading(store::Database& db, const metering::StoredReading& reading) override;
  void request(const std::string& meter, SupplyAction action,
               std::function<void(Answer)> done) override;

 private:
  void replay_unbilled();
  void arm_tick();
  void allocate_due(TimePoint now);  // shared meters whose last closed period is due
  std::string tariff_unit_of(const std::string& meter) const;

  runtime::Services& services_;
  std::shared_ptr<const BillingConfig> config_;
  std::unique_ptr<Engine> engine_;
  metering::MeterComponent* meters_ = nullptr;
  boost::asio::steady_timer tick_;
  int ticks_ = 0;
  std::map<std::string, std::string> allocated_;  // shared meter -> last period done (io thread)
  std::atomic<bool> stopping_{false};
};

}  // namespace estate::billing
