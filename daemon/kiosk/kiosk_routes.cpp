#include "daemon/kiosk/kiosk_routes.hpp"

#include "daemon/kiosk/payment_code.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/runtime/bounded_json.hpp"

namespace estate::kiosk {

using http::Request;
using http::Response;
using http::Role;

namespace {

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

// What every payment request starts with: its Idempotency-Key and a JSON object body. A
// refusal to answer, or nullopt with `key` and `body` set.
std::optional<Response> payment_request(const Request& req, std::string& key,
                                        nlohmann::json& body) {
  key = req.header("idempotency-key");
  if (auto bad = check_idempotency_key(key); !bad.empty()) {
    return Response::error(400, "bad_request", bad);
  }
  auto parsed = parse_object(req.body);
  if (!parsed) return Response::error(400, "bad_request", "body must be a JSON object");
  body = std::move(*parsed);
  return std::nullopt;
}

// The room a room payment is for: the room of the look-up's sale handle (a kiosk must give
// one), or the named room (technician/admin). A refusal to answer, or nullopt with `which` set.
std::optional<Response> sale_room(const Request& req, const nlohmann::json& body,
                                  KioskScope& scope, std::string& which) {
  auto room = body.find("room");
  if (room != body.end() && !room->is_string()) {
    return Response::error(400, "bad_request", "room: a string");
  }
  auto sale = body.find("sale");
  if (sale != body.end() && !sale->is_string()) {
    return Response::error(400, "bad_request", "sale: the handle of the room's look-up");
  }
  if (sale != body.end()) {
    // The room the kiosk looked up for this sale (technicians may use a handle too).
    auto looked_up = scope.sale_room(req.token_name, sale->get<std::string>());
    if (!looked_up) {
      return Response::error(403, "no_sale", "sale: unknown or expired; look the room up again");
    }
    if (room != body.end() && room->get<std::string>() != *looked_up) {
      return Response::error(400, "bad_request", "room: not the room of this sale");
    }
    which = *looked_up;
  } else if (is_kiosk(req)) {
    return Response::error(403, "no_sale",
                           "a kiosk pays for the room it looked up: give the look-up's sale");
  } else if (room == body.end()) {
    return Response::error(400, "bad_request", "room: a string is required");
  } else {
    which = room->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

void mount_kiosk_routes(http::Router& router, std::weak_ptr<KioskComponent::State> weak) {
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
      nlohmann::json j{{"id", b.id}, {"ts", b.ts}, {"item", b.item}, {"amount_fen", b.amount_fen}};
      if (const auto& p = b.period) {
        j.update({{"period", p->period}, {"from", p->from}, {"to", p->to}, {"issued", p->issued},
                  {"due", p->due}, {"bill_amount_fen", p->bill_amount_fen},
                  {"late_fee_fen", p->late_fee_fen}, {"paid_fen", p->paid_fen},
                  {"status", p->status}, {"overdue", p->overdue},
                  {"days_overdue", p->days_overdue}});
      }
      bills.push_back(std::move(j));
    }
    nlohmann::json body{{"room", v->room},
                        {"balance_fen", v->balance_fen},
                        {"due_fen", v->due_fen},
                        {"bills", bills},
                        {"arrears", {{"level", v->arrears.level},
                                     {"actions", v->arrears.actions},
                                     {"source", v->arrears.source},
                                     {"overdue_fen", v->arrears.overdue_fen},
                                     {"days_overdue", v->arrears.days_overdue}}},
                        {"card_payments", s->service->has_terminal()},
                        {"qr_payments", s->service->qr_payments()},
                        {"printer", s->service->has_printer()},
                        {"sale", sale},
                        {"sale_expires_in_s", kiosk_sale_ttl.count()}};
    if (v->unbilled_fen) body["unbilled_fen"] = *v->unbilled_fen;
    return Response::json(200, body);
  });
  router.add_route("POST", "/api/payments", Role::kiosk, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    std::string key;
    nlohmann::json body;
    if (auto refused = payment_request(req, key, body)) return *refused;
    auto amount = body.find("amount_fen");
    if (amount == body.end() || !amount->is_number_integer()) {
      return Response::error(400, "bad_request", "amount_fen: an integer number of fen is required");
    }
    std::string kind = "pay", method = "card";
    if (auto k = body.find("kind"); k != body.end()) {
      if (!k->is_string()) return Response::error(400, "bad_request", "kind: a string");
      kind = k->get<std::string>();
    }
    if (auto m = body.find("method"); m != body.end()) {
      if (!m->is_string()) return Response::error(400, "bad_request", "method: a string");
      method = m->get<std::string>();
    }
    PaymentService::Begin b;
    if (kind == "parking") {
      // A kiosk pays the session its plate search found, by the search's sale handle: never a
      // session named by its number (numbers are sequential, and the answers would tell which
      // exist and what they owe).
      if (is_kiosk(req)) {
        auto sale = body.find("sale");
        if (sale == body.end() || !sale->is_string()) {
          return Response::error(403, "no_sale",
                                 "a kiosk pays the parking session its plate search found: give "
                                 "the search's sale");
        }
        auto looked_up = s->scope.sale_room(req.token_name, sale->get<std::string>());
        auto found = looked_up ? parking_session_of(*looked_up) : std::nullopt;
        if (!found) {
          return Response::error(403, "no_sale", "sale: unknown or expired; search the plate again");
        }
        auto named = body.find("session");
        if (named != body.end() &&
            !(named->is_number_integer() && named->get<std::int64_t>() == *found)) {
          return Response::error(400, "bad_request", "session: not the session of this sale");
        }
        body["session"] = *found;
      }
      auto session = body.find("session");
      if (session == body.end() || !session->is_number_integer()) {
        return Response::error(400, "bad_request", "session: the parking session's id is required");
      }
      b = s->service->begin_parking(session->get<std::int64_t>(), amount->get<std::int64_t>(),
                                    method, req.token_name, key);
    } else {
      std::string which;
      if (auto refused = sale_room(req, body, s->scope, which)) return *refused;
      b = s->service->begin(which, kind, method, amount->get<std::int64_t>(), req.token_name, key);
    }
    if (!b.payment) {
      if (b.status == 429) return too_many(b.error, b.message, 5);
      return Response::error(b.status, b.error, b.message);
    }
    return Response::json(b.repeated ? 200 : 202,
                          {{"payment", b.payment->to_json()}, {"repeated", b.repeated}});
  });
  // A QR payment code read by the kiosk's scanner (the payer's WeChat Pay / Alipay 付款码):
  // the same sale handle, Idempotency-Key and amount rules as a card sale, plus auth_code.
  router.add_route("POST", "/api/payments/qr", Role::kiosk, [weak](const Request& req) {
    auto s = weak.lock();
    if (!s) return Response::error(503, "unavailable", "shutting down");
    std::string key;
    nlohmann::json body;
    if (auto refused = payment_request(req, key, body)) return *refused;
    auto code = body.find("auth_code");
    if (code == body.end() || !code->is_string()) {
      return Response::error(400, "bad_request",
                             "auth_code: the payment code the scanner read (digits) is required");
    }
    auto amount = body.find("amount_fen");
    if (amount == body.end() || !amount->is_number_integer()) {
      return Response::error(400, "bad_request", "amount_fen: an integer number of fen is required");
    }
    std::string kind = "pay";
    if (auto k = body.find("kind"); k != body.end()) {
      if (!k->is_string()) return Response::error(400, "bad_request", "kind: a string");
      kind = k->get<std::string>();
    }
    for (const auto& [k, v] : body.items()) {
      if (k != "auth_code" && k != "amount_fen" && k != "kind" && k != "sale" && k != "room") {
        return Response::error(400, "bad_request", "unknown field '" + k.substr(0, 64) + "'");
      }
    }
    // The code before anything is looked up: a misread scan is refused and nothing stored.
    auto check = classify_payment_code(code->get_ref<const std::string&>());
    if (!check.wallet) return Response::error(400, "bad_request", "auth_code: " + check.error);
    std::string which;
    if (auto refused = sale_room(req, body, s->scope, which)) return *refused;
    auto b = s->service->begin_qr(which, kind, code->get<std::string>(),
                                  amount->get<std::int64_t>(), req.token_name, key);
    if (!b.payment) return Response::error(b.status, b.error, b.message);
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
}

}  // namespace estate::kiosk
