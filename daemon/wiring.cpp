// Wiring: which components a site runs, in start order. Stopped in reverse order.
#include "daemon/runtime/component.hpp"

#include "daemon/audit/security_component.hpp"
#include "daemon/billing/billing_component.hpp"
#include "daemon/bridge/bridge_component.hpp"
#include "daemon/demo/heartbeat.hpp"
#include "daemon/gate/gate_component.hpp"
#include "daemon/http/http_component.hpp"
#include "daemon/kiosk/kiosk_component.hpp"
#include "daemon/metering/meter_component.hpp"

namespace estate::runtime {

std::vector<std::unique_ptr<Component>> make_components(Services& services) {
  std::vector<std::unique_ptr<Component>> out;
  // The local HTTP server's routes and metrics: components mount handlers and register metrics
  // on `web` (see daemon/http/router.hpp, metrics.hpp); the listener itself is added last.
  auto web = std::make_shared<http::Web>();
  // First: holds the state lock and the seq high-water reservation before anything appends.
  out.push_back(std::make_unique<security::SecurityComponent>(services));
  // The cloud bridge before every record producer, so it is stopped (drained) after them.
  if (!services.config()->mqtt.url.empty()) {
    out.push_back(std::make_unique<cloud::BridgeComponent>(services));
  }
  if (auto demo = demo::demo_settings(*services.config())) {
    out.push_back(std::make_unique<demo::HeartbeatComponent>(services, *demo));
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
  if (metering::MeterComponent::wanted(*services.config())) {
    auto m = std::make_unique<metering::MeterComponent>(services, billing);
    if (billing) billing->set_meters(m.get());
    out.push_back(std::move(m));
  }
  if (kiosk::kiosk_configured(*services.config())) {
    // Payments credit rooms through billing's engine (one engine per site).
    out.push_back(std::make_unique<kiosk::KioskComponent>(services, web,
                                                          billing ? &billing->engine() : nullptr));
  }
  // Gates: the access service, parking sessions and barriers; mounts the camera push on `web`
  // and adds gate commands to the cloud bridge's registry (before the bridge starts).
  if (gate::gate_configured(*services.config())) {
    cloud::CommandRegistry* commands = nullptr;
    for (auto& c : out) {
      if (auto* b = dynamic_cast<cloud::BridgeComponent*>(c.get())) commands = &b->commands();
    }
    out.push_back(std::make_unique<gate::GateComponent>(services, web, commands));
  }
  // Last: listens once every route is mounted, and is stopped first.
  if (!services.config()->http.listen.empty()) {
    out.push_back(std::make_unique<http::HttpComponent>(services, web));
  }
  (void)services;
  return out;
}

}  // namespace estate::runtime
