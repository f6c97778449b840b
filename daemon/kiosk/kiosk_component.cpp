#include "daemon/kiosk/kiosk_component.hpp"

#include <spdlog/spdlog.h>

#include "daemon/billing/billing_config.hpp"
#include "daemon/billing/engine.hpp"
#include "daemon/kiosk/kiosk_routes.hpp"
#include "drivers/printer/usb_printer_link.hpp"

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

std::unique_ptr<drivers::BlockingLink> link_for(const config::SiteConfig& cfg, const config::DeviceConfig& d) {
  const auto* bus = cfg.find_bus(d.bus);
  if (!bus) return nullptr;
  if (bus->kind == config::BusKind::serial) {
    return drivers::make_blocking_serial_link(bus->device, static_cast<unsigned>(bus->baud));
  }
  if (bus->kind == config::BusKind::usb) {
    // Config lets only card readers and printers on USB (site_config.cpp checks the id).
    std::string error;
    auto sel = drivers::card::parse_usb_selector(bus->device, error);
#ifdef ESTATE_EDGE_WITH_USB
    if (sel && d.kind == config::DeviceKind::printer) return drivers::printer::make_usb_printer_link(*sel);
#endif
    return nullptr;
  }
  return drivers::make_blocking_tcp_link(bus->host, static_cast<std::uint16_t>(bus->port), bus->timeout * 3);
}

const config::DeviceConfig* first_of(const config::SiteConfig& cfg, config::DeviceKind k) {
  for (const auto& d : cfg.devices) {
    if (d.kind == k) return &d;
  }
  return nullptr;
}

long option_ms(const config::DeviceConfig& d, const std::string& key, long fallback) {
  auto it = d.extra.find(key);
  if (it == d.extra.end()) return fallback;
  try {
    long v = std::stol(it->second);
    return v > 0 ? v : fallback;
  } catch (const std::exception&) {
    spdlog::warn("device {}: option {} is not a number, using {}", d.id, key, fallback);
    return fallback;
  }
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

  std::unique_ptr<drivers::pos::EcrTerminal> terminal;
  if (const auto* d = first_of(*cfg, config::DeviceKind::pos)) {
    const auto* protocol = protocols::pos::find_protocol(
        d->model.empty() ? protocols::pos::default_protocol : std::string_view(d->model));
    auto link = link_for(*cfg, *d);
    // Checked when the config loaded (drivers/device_families.cpp: pos).
    if (!protocol || !link) throw std::logic_error("kiosk: POS " + d->id + " was not validated");
    auto t = drivers::pos::timing_of(
        *protocol, std::chrono::milliseconds(option_ms(*d, "response_timeout_ms", 60000)));
    const auto* bus = cfg->find_bus(d->bus);
    t.ack_timeout = std::max(bus->timeout, std::chrono::milliseconds(200));
    terminal = std::make_unique<drivers::pos::EcrTerminal>(std::move(link), *protocol, t);
  }
  std::unique_ptr<drivers::printer::EscposPrinter> printer;
  PaymentServiceOptions opts;
  opts.receipt.site_name = cfg->site.name.empty() ? cfg->site.id : cfg->site.name;
  if (const auto* d = first_of(*cfg, config::DeviceKind::printer)) {
    auto link = link_for(*cfg, *d);
    auto width = protocols::escpos::parse_paper_width(d->model.empty() ? "80mm" : d->model);
    // Checked when the config loaded (drivers/device_families.cpp: printer).
    if (!link || !width) throw std::logic_error("kiosk: printer " + d->id + " was not validated");
    opts.receipt.width = *width;
    printer = std::make_unique<drivers::printer::EscposPrinter>(
        std::move(link), cfg->find_bus(d->bus)->timeout * 3);
  }
  opts.unknown_retry = std::chrono::milliseconds(
      first_of(*cfg, config::DeviceKind::pos)
          ? option_ms(*first_of(*cfg, config::DeviceKind::pos), "unknown_retry_ms", 5000)
          : 5000);
  st.service = std::make_unique<PaymentService>(*st.journal, *st.accounts, std::move(terminal),
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
  spdlog::info("kiosk: payments ready (POS {}, printer {})",
               st.service->has_terminal() ? "configured" : "none",
               st.service->has_printer() ? "configured" : "none");
}

void KioskComponent::stop(std::function<void()> done) {
  if (state_->service) state_->service->stop();
  done();
}

}  // namespace estate::kiosk
