// Wiring: which components a site runs, in start order. Stopped in reverse order.
#include "daemon/runtime/component.hpp"

#include <spdlog/spdlog.h>

#include "daemon/access/bridge_lists.hpp"
#include "daemon/audit/security_component.hpp"
#include "daemon/billing/billing_component.hpp"
#include "daemon/billing/topup_command.hpp"
#include "daemon/bridge/bridge_component.hpp"
#include "daemon/gate/gate_component.hpp"
#include "daemon/http/http_component.hpp"
#include "daemon/kiosk/kiosk_component.hpp"
#include "daemon/metering/meter_component.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/runtime/heartbeat.hpp"
#include "daemon/store/disk_guard.hpp"

namespace estate::runtime {

namespace {

// Billing's arrears levels as the gates' arrears source: the level of a room (pushed by the
// platform, or computed from its overdue debt) from the engine's in-memory snapshot, no I/O.
// The gate's access policy (access.arrears) decides what a level means at a barrier.
class BillingArrears final : public access::ArrearsSource {
 public:
  explicit BillingArrears(const billing::Engine& engine) : engine_(engine) {}
  int arrears_level(std::string_view room) const override {
    return engine_.arrears_level(room).level;
  }

 private:
  const billing::Engine& engine_;
};

// The car park as the kiosk's parking charges: a session's fee due now, and paying it with the
// kiosk payment's id as the reference (opens the exit barrier when the vehicle waits there).
class GateParkingCharges final : public kiosk::ParkingCharges {
 public:
  explicit GateParkingCharges(gate::GateComponent& gate) : gate_(gate) {}
  std::optional<kiosk::ParkingDue> due(std::int64_t session) override {
    auto v = gate_.parking_session(session);
    if (!v) return std::nullopt;
    return kiosk::ParkingDue{v->id, v->state, v->due_fen};
  }
  kiosk::ParkingPaid pay(std::int64_t session, kiosk::Fen amount_fen, const std::string& payment_id,
                         const std::string& priced_at) override {
    std::string error;
    auto at = parking::parse_iso8601(priced_at, error);  // the journal's own timestamp
    if (!at) spdlog::warn("parking: payment {} has no usable time ({}); priced now", payment_id, error);
    auto r = gate_.pay_parking(session, amount_fen, payment_id, "pos:" + payment_id, at);
    kiosk::ParkingPaid out;
    out.ok = r.ok;
    out.gate_opened = r.open_gate;
    out.error = r.error;
    out.retry = !r.ok && r.error == "gates stopping";
    return out;
  }

 private:
  gate::GateComponent& gate_;
};

}  // namespace

std::vector<std::unique_ptr<Component>> make_components(Services& services) {
  std::vector<std::unique_ptr<Component>> out;
  // The local HTTP server's routes and metrics: components mount handlers and register metrics
  // on `web` (see daemon/http/router.hpp, metrics.hpp); the listener itself is added last.
  auto web = std::make_shared<http::Web>();
  // First: holds the state lock and the seq high-water reservation before anything appends.
  out.push_back(std::make_unique<audit::SecurityComponent>(services));
  // Disk pressure: drops the oldest droppable telemetry before the store runs out of room.
  out.push_back(std::make_unique<store::DiskGuard>(services));
  // The cloud bridge before every record producer, so it is stopped (drained) after them.
  bridge::BridgeComponent* bridge = nullptr;
  if (!services.config()->mqtt.url.empty()) {
    auto b = std::make_unique<bridge::BridgeComponent>(services);
    bridge = b.get();
    out.push_back(std::move(b));
  }
  // The heartbeat (gateway.heartbeat_interval_s with an uplink, or the demo's pace).
  if (auto interval = heartbeat_interval(*services.config()); interval.count() > 0) {
    out.push_back(std::make_unique<HeartbeatComponent>(services, interval));
  }
  // Meter buses: readings into the store.
  // Billing prices what the meters read (as their ReadingSink) and acts on supplies through
  // them; it starts before the meters so no reading arrives before the engine is ready.
  billing::BillingComponent* billing = nullptr;
  if (auto cfg = billing::BillingComponent::configured(*services.config())) {
    auto b = std::make_unique<billing::BillingComponent>(services, cfg);
    billing = b.get();
    out.push_back(std::move(b));
  }
  if (billing && bridge) {
    // cmd/arrears: the platform's arrears levels, live in billing once committed.
    bridge->set_list(billing::arrears_list_spec(billing->engine()));
    // cmd/topup: a payment the platform took, credited once per ref.
    bridge->commands().add("topup", billing::topup_command(billing->engine(), services.io));
  }
  if (metering::MeterComponent::wanted(*services.config())) {
    auto m = std::make_unique<metering::MeterComponent>(services, billing);
    if (billing) billing->set_meters(m.get());
    // cmd/valve and cmd/relay on the site's meters.
    if (bridge) m->add_commands(bridge->commands());
    m->add_metrics(web);  // bus and device counters on /metrics
    out.push_back(std::move(m));
  }
  kiosk::KioskComponent* kiosk = nullptr;
  if (kiosk::kiosk_configured(*services.config())) {
    // Payments credit rooms through billing's engine (one engine per site).
    auto k = std::make_unique<kiosk::KioskComponent>(services, web,
                                                     billing ? &billing->engine() : nullptr);
    // cmd/qr-result: the platform's answer about a QR payment code it charged.
    if (bridge) k->add_commands(bridge->commands());
    kiosk = k.get();
    out.push_back(std::move(k));
  }
  // Gates: the access service, parking sessions and barriers; mounts the camera push on `web`
  // and adds gate commands to the cloud bridge's registry (before the bridge starts).
  if (gate::gate_configured(*services.config())) {
    auto g = std::make_unique<gate::GateComponent>(services, web,
                                                   bridge ? &bridge->commands() : nullptr);
    auto access = g->access_service();
    if (bridge) {
      // cmd/cards, cmd/plates, cmd/visitor-passes, cmd/blocklist, cmd/monthly-passes: swapped
      // into the gates' index once committed.
      const auto& cfg = *services.config();
      for (const char* list :
           {"cards", "plates", "visitor-passes", "blocklist", "monthly-passes"}) {
        bridge->set_list(access::bridge_list_spec(list, access, cfg.gateway.id,
                                                  cfg.site.utc_offset_minutes));
      }
    }
    if (billing) access->set_arrears_source(std::make_shared<BillingArrears>(billing->engine()));
    // Parking fees at the kiosk's POS (the kiosk stops after the gates: a payment approved
    // meanwhile is credited on the next start).
    if (kiosk) {
      kiosk->set_parking(std::make_shared<GateParkingCharges>(*g));
      g->set_kiosk_sales({kiosk->sales().open_sale});
    }
    out.push_back(std::move(g));
  } else if (bridge) {
    // No gates yet: the access lists (cards, plates, visitor-passes, blocklist, monthly-passes)
    // are stored for them, as keyed hashes already (under the key the gates will use).
    const auto key = access::load_privacy_key(services.store,
                                              access::access_config_of(*services.config()));
    auto hasher = std::make_shared<const access::CredentialHasher>(key);
    for (const char* list :
         {"cards", "plates", "visitor-passes", "blocklist", "monthly-passes"}) {
      bridge->set_list(access::bridge_store_spec(list, hasher));
    }
  }
  // Last: listens once every route is mounted, and is stopped first.
  if (!services.config()->http.listen.empty()) {
    out.push_back(std::make_unique<http::HttpComponent>(services, web));
  }
  (void)services;
  return out;
}

}  // namespace estate::runtime
