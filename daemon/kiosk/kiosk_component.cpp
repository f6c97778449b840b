#include "daemon/kiosk/kiosk_component.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "daemon/billing/billing_config.hpp"
#include "daemon/billing/engine.hpp"
#include "daemon/bridge/commands.hpp"
#include "daemon/kiosk/kiosk_config.hpp"
#include "daemon/kiosk/kiosk_routes.hpp"
#include "daemon/kiosk/qr_result_command.hpp"
#include "drivers/device_families.hpp"
#include "drivers/device_make.hpp"

namespace estate::kiosk {

bool kiosk_configured(const config::SiteConfig& cfg) {
  for (const auto& d : cfg.devices) {
    if (d.kind == config::DeviceKind::pos || d.kind == config::DeviceKind::printer ||
        d.kind == config::DeviceKind::kiosk) {
      return true;
    }
  }
  return false;
}

namespace {

const config::DeviceConfig* first_of(const config::SiteConfig& cfg, config::DeviceKind k) {
  for (const auto& d : cfg.devices) {
    if (d.kind == k) return &d;
  }
  return nullptr;
}

}  // namespace

KioskComponent::KioskComponent(runtime::Services& services, std::shared_ptr<http::Web> web,
                               billing::Engine* engine)
    : services_(services), web_(std::move(web)), engine_(engine), state_(std::make_shared<State>()) {}

KioskComponent::Sales KioskComponent::sales() {
  std::weak_ptr<State> weak = state_;
  Sales out;
  out.open_sale = [weak](const std::string& token, const std::string& room) {
    auto s = weak.lock();
    return s ? s->scope.open_sale(token, room) : std::string();
  };
  return out;
}

KioskComponent::~KioskComponent() {
  if (state_->service) state_->service->stop();
  if (state_->collector) web_->metrics.remove_collector(state_->collector);
}

void KioskComponent::start() {
  auto cfg = services_.config();
  auto& st = *state_;
  if (!engine_) {
    config::Diagnostics diag;
    auto bc = billing::billing_config_from(*cfg, diag);
    if (!bc) throw std::runtime_error("kiosk: billing config invalid: " + diag.to_string());
    st.own_engine = std::make_unique<billing::Engine>(
        services_.store, std::make_shared<const billing::BillingConfig>(std::move(*bc)),
        cfg->gateway.id, cfg->site.utc_offset_minutes, nullptr);
    st.own_engine->start();
    engine_ = st.own_engine.get();
  }
  st.accounts = std::make_unique<BillingAccounts>(*engine_, services_.store);
  st.journal = std::make_unique<Journal>(services_.store, cfg->gateway.id, cfg->site.utc_offset_minutes);

  // The terminal and the printer, each built by its device family (drivers/device_make.hpp).
  const drivers::DeviceSite site{cfg->buses, cfg->devices};
  const drivers::DeviceContext ctx{services_.io.get_executor(), site};
  drivers::PosDevice pos;
  if (const auto* d = first_of(*cfg, config::DeviceKind::pos)) {
    pos = drivers::make_device_as<drivers::PosDevice>(ctx, *d);
  }
  std::unique_ptr<drivers::printer::EscposPrinter> printer;
  PaymentServiceOptions opts;
  opts.receipt.site_name = cfg->site.name.empty() ? cfg->site.id : cfg->site.name;
  if (const auto* d = first_of(*cfg, config::DeviceKind::printer)) {
    auto built = drivers::make_device_as<drivers::PrinterDevice>(ctx, *d);
    opts.receipt.width = built.width;
    printer = std::move(built.printer);
  }
  opts.unknown_retry = pos.unknown_retry;
  // QR payment codes are charged by the platform: only with a link to it.
  const auto kc = kiosk_config_of(*cfg);
  opts.qr_enabled = !cfg->mqtt.url.empty();
  opts.qr_answer_timeout = kc.qr_answer_timeout;
  opts.qr_query_interval = kc.qr_query_interval;
  st.service = std::make_unique<PaymentService>(*st.journal, *st.accounts, std::move(pos.terminal),
                                                std::move(printer), opts, &web_->metrics);
  if (parking_) st.service->set_parking(parking_);

  std::weak_ptr<State> weak = state_;
  mount_kiosk_routes(web_->router, weak);
  st.collector = web_->metrics.add_collector([weak] {
    std::vector<http::Sample> out;
    auto s = weak.lock();
    if (!s) return out;
    try {
      for (const auto& [state, n] : s->journal->count_by_state()) {
        out.push_back({"estate_payments", "payments in the journal, by state", "gauge",
                       {{"state", state}}, n});
      }
    } catch (const std::exception& e) {
      spdlog::warn("metrics: payments unavailable: {}", e.what());
    }
    return out;
  });
  st.service->start();
  std::vector<std::function<void()>> early;
  {
    std::lock_guard lock(st.early_mutex);
    st.ready = true;
    early.swap(st.early);
  }
  for (auto& run : early) run();
  spdlog::info("kiosk: payments ready (POS {}, printer {}, QR payment codes {})",
               st.service->has_terminal() ? "configured" : "none",
               st.service->has_printer() ? "configured" : "none",
               st.service->qr_payments() ? "through the platform" : "off (no mqtt.url)");
}

void KioskComponent::add_commands(bridge::CommandRegistry& registry) {
  std::weak_ptr<State> weak = state_;
  auto& io = services_.io;
  registry.add("qr-result", [weak, &io](bridge::Command cmd, bridge::CommandReply reply) {
    cloud_bridge::CommandAck ack;
    ack.id = cmd.id;
    ack.command = cmd.name;
    QrResult r;
    if (auto why = parse_qr_result_command(cmd.body, r); !why.empty()) {
      ack.error = why;
      reply(std::move(ack));
      return;
    }
    // On the io pool, never on the bridge's strand: the journal waits for the store.
    auto run = [weak, r, ack, reply]() mutable {
      auto s = weak.lock();
      if (!s || !s->service) {
        ack.error = "the kiosk is stopping; the gateway asks again after its restart";
        reply(std::move(ack));
        return;
      }
      try {
        auto a = s->service->qr_result(r);
        if (!a.ok) {
          ack.error = a.error;
        } else {
          ack.ok = true;
          ack.result = {{"payment_id", r.payment_id},
                        {"state", std::string(to_string(a.payment->state))},
                        {"changed", a.changed}};
        }
      } catch (const std::exception& e) {
        spdlog::error("cmd/qr-result {}: {}", ack.id.value_or(""), e.what());
        ack.error = std::string("not applied: ") + e.what();
      }
      reply(std::move(ack));
    };
    if (auto s = weak.lock()) {
      std::lock_guard lock(s->early_mutex);
      if (!s->ready) {
        s->early.push_back([&io, run]() mutable { boost::asio::post(io, std::move(run)); });
        return;
      }
    }
    boost::asio::post(io, std::move(run));
  });
}

void KioskComponent::stop(std::function<void()> done) {
  if (state_->service) state_->service->stop();
  done();
}

}  // namespace estate::kiosk
