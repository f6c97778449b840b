#include "daemon/kiosk/kiosk_component.hpp"

#include <spdlog/spdlog.h>

#include "daemon/billing/billing_config.hpp"
#include "daemon/billing/engine.hpp"
#include "daemon/kiosk/kiosk_scope.hpp"
#include "daemon/kiosk/payment_service.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/runtime/bounded_json.hpp"
#include "drivers/printer/usb_printer_link.hpp"

namespace estate::kiosk {

using http::Request;
using http::Response;
using http::Role;

struct KioskComponent::State {
  std::unique_ptr<billing::Engine> own_engine;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<PaymentService> service;
  int collector = 0;
  KioskScope scope;
};

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

bool is_kiosk(const Request& req) { return req.role < Role::technician; }

// A kiosk reads a payment only when its own token started it, recently: it sees the sale in
// progress and its receipt, not the history of everyone who paid at it.
bool kiosk_may_read(const Request& req, const Payment& p) {
  if (!is_kiosk(req)) return true;
  if (req.token_name.empty() || p.source != req.token_name) return false;
  std::string error;
  auto created = parking::parse_iso8601(p.created_at, error);
  if (!created) return false;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  return now - created->utc_seconds <= kiosk_payment_window.count();
}

Response too_many(std::string_view code, std::string_view message, int retry_after_s) {
  auto r = Response::error(429, code, message);
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

std::optional<nlohmann::json> parse_object(const std::string& body) {
  auto j = runtime::parse_json_bounded(body);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
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
  auto& router = web_->router;
  router.add_route("GET", "/api/rooms/", Role::kiosk, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    if (is_kiosk(req) && !s->scope.allow_lookup(req.token_name)) {
      return too_many("too_many_requests",
                      "too many room look-ups from this kiosk; try again in a minute", 60);
    }
    auto v = s->accounts->lookup(req.rest);
    if (!v) return Response::error(404, "not_found", "no such room: " + req.rest);
    // The sale this look-up starts: a kiosk pays only for the room it looked up, by this handle.
    const std::string sale = s->scope.open_sale(req.token_name, v->room);
    nlohmann::json bills = nlohmann::json::array();
    for (const auto& b : v->bills) {
      bills.push_back({{"id", b.id}, {"ts", b.ts}, {"item", b.item}, {"amount_fen", b.amount_fen}});
    }
    return Response::json(200, {{"room", v->room},
                                {"balance_fen", v->balance_fen},
                                {"due_fen", v->due_fen},
                                {"bills", bills},
                                {"arrears", {{"level", v->arrears.level},
                                             {"actions", v->arrears.actions},
                                             {"source", v->arrears.source},
                                             {"overdue_fen", v->arrears.overdue_fen},
                                             {"days_overdue", v->arrears.days_overdue}}},
                                {"card_payments", s->service->has_terminal()},
                                {"printer", s->service->has_printer()},
                                {"sale", sale},
                                {"sale_expires_in_s", kiosk_sale_ttl.count()}});
  });
  router.add_route("POST", "/api/payments", Role::kiosk, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    const std::string key = req.header("idempotency-key");
    if (auto bad = check_idempotency_key(key); !bad.empty()) {
      return Response::error(400, "bad_request", bad);
    }
    auto body = parse_object(req.body);
    if (!body) return Response::error(400, "bad_request", "body must be a JSON object");
    auto amount = body->find("amount_fen");
    if (amount == body->end() || !amount->is_number_integer()) {
      return Response::error(400, "bad_request", "amount_fen: an integer number of fen is required");
    }
    std::string kind = "pay", method = "card";
    if (auto k = body->find("kind"); k != body->end()) {
      if (!k->is_string()) return Response::error(400, "bad_request", "kind: a string");
      kind = k->get<std::string>();
    }
    if (auto m = body->find("method"); m != body->end()) {
      if (!m->is_string()) return Response::error(400, "bad_request", "method: a string");
      method = m->get<std::string>();
    }
    PaymentService::Begin b;
    if (kind == "parking") {
      // A kiosk pays the session its plate search found, by the search's sale handle: never a
      // session named by its number (numbers are sequential, and the answers would tell which
      // exist and what they owe).
      if (is_kiosk(req)) {
        auto sale = body->find("sale");
        if (sale == body->end() || !sale->is_string()) {
          return Response::error(403, "no_sale",
                                 "a kiosk pays the parking session its plate search found: give "
                                 "the search's sale");
        }
        auto looked_up = s->scope.sale_room(req.token_name, sale->get<std::string>());
        auto found = looked_up ? parking_session_of(*looked_up) : std::nullopt;
        if (!found) {
          return Response::error(403, "no_sale", "sale: unknown or expired; search the plate again");
        }
        auto named = body->find("session");
        if (named != body->end() &&
            !(named->is_number_integer() && named->get<std::int64_t>() == *found)) {
          return Response::error(400, "bad_request", "session: not the session of this sale");
        }
        (*body)["session"] = *found;
      }
      auto session = body->find("session");
      if (session == body->end() || !session->is_number_integer()) {
        return Response::error(400, "bad_request", "session: the parking session's id is required");
      }
      b = s->service->begin_parking(session->get<std::int64_t>(), amount->get<std::int64_t>(),
                                    method, req.token_name, key);
    } else {
      auto room = body->find("room");
      if (room != body->end() && !room->is_string()) {
        return Response::error(400, "bad_request", "room: a string");
      }
      auto sale = body->find("sale");
      if (sale != body->end() && !sale->is_string()) {
        return Response::error(400, "bad_request", "sale: the handle of the room's look-up");
      }
      std::string which;
      if (sale != body->end()) {
        // The room the kiosk looked up for this sale (technicians may use a handle too).
        auto looked_up = s->scope.sale_room(req.token_name, sale->get<std::string>());
        if (!looked_up) {
          return Response::error(403, "no_sale",
                                 "sale: unknown or expired; look the room up again");
        }
        if (room != body->end() && room->get<std::string>() != *looked_up) {
          return Response::error(400, "bad_request", "room: not the room of this sale");
        }
        which = *looked_up;
      } else if (is_kiosk(req)) {
        return Response::error(403, "no_sale",
                               "a kiosk pays for the room it looked up: give the look-up's sale");
      } else if (room == body->end()) {
        return Response::error(400, "bad_request", "room: a string is required");
      } else {
        which = room->get<std::string>();
      }
      b = s->service->begin(which, kind, method, amount->get<std::int64_t>(), req.token_name, key);
    }
    if (!b.payment) {
      if (b.status == 429) return too_many(b.error, b.message, 5);
      return Response::error(b.status, b.error, b.message);
    }
    return Response::json(b.repeated ? 200 : 202,
                          {{"payment", b.payment->to_json()}, {"repeated", b.repeated}});
  });
  router.add_route("GET", "/api/payments/", Role::kiosk, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    auto p = s->journal->get(req.rest);
    // A payment another kiosk (or this one, long ago) started is as absent as one never made.
    if (!p || !kiosk_may_read(req, *p)) {
      return Response::error(404, "not_found", "no such payment: " + req.rest);
    }
    return Response::json(200, {{"payment", p->to_json()}});
  });
  router.add_route("POST", "/api/payments/", Role::kiosk, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    constexpr std::string_view suffix = "/receipt";
    if (!req.rest.ends_with(suffix)) return Response::error(404, "not_found", "no such resource");
    auto id = req.rest.substr(0, req.rest.size() - suffix.size());
    auto p = s->journal->get(id);
    if (!p || !kiosk_may_read(req, *p)) {
      return Response::error(404, "not_found", "no such payment: " + id);
    }
    if (!s->service->reprint(id)) {
      return Response::error(409, "not_printable", "payment " + id + " has no receipt to print");
    }
    return Response::json(202, {{"payment_id", id}, {"receipt", "queued"}});
  });
  router.add_route("GET", "/api/payments", Role::technician, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    auto it = req.query.find("state");
    auto state = parse_state(it == req.query.end() ? "unknown" : it->second);
    if (!state) return Response::error(400, "bad_request", "state: not a payment state");
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& p : s->journal->in_state(*state)) rows.push_back(p.to_json());
    return Response::json(200, {{"payments", rows}});
  });
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
