// The kiosk's JSON API on the local HTTP server (the routes listed in kiosk_component.hpp), and
// the state the routes share with the component: the accounts, the payment journal and service,
// and what each kiosk token may see (kiosk_scope.hpp). KioskComponent builds the state and the
// devices and mounts the routes; the routes hold the state weakly and answer 503 once it is gone.
// Thread-safety: handlers run on HTTP strands; the state's members are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "daemon/billing/engine.hpp"
#include "daemon/http/router.hpp"
#include "daemon/kiosk/kiosk_component.hpp"
#include "daemon/kiosk/kiosk_scope.hpp"
#include "daemon/kiosk/payment_service.hpp"

namespace estate::kiosk {

struct KioskComponent::State {
  std::unique_ptr<billing::Engine> own_engine;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<PaymentService> service;
  int collector = 0;
  KioskScope scope;
  // cmd/qr-result messages that came before the service existed; run once it does.
  std::mutex early_mutex;
  bool ready = false;
  std::vector<std::function<void()>> early;
};

// GET /api/rooms/<room>, POST /api/payments, POST /api/payments/qr, GET /api/payments/<id>,
// POST /api/payments/<id>/receipt, GET /api/payments?state=.
void mount_kiosk_routes(http::Router& router, std::weak_ptr<KioskComponent::State> weak);

}  // namespace estate::kiosk
