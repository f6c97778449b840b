#include "daemon/gate/gate_component.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <stdexcept>
#include <thread>

#include "daemon/access/access_config.hpp"
#include "daemon/audit/audit.hpp"
#include "daemon/access/bridge_lists.hpp"
#include "daemon/config/section.hpp"
#include "daemon/gate/gate_detail.hpp"
#include "daemon/gate/gate_status.hpp"
#include "daemon/kiosk/parking_charges.hpp"
#include "daemon/parking/fee_rules.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/record/alarm_state.hpp"
#include "daemon/record/record.hpp"
#include "daemon/runtime/bounded_json.hpp"
#include "daemon/store/store.hpp"
#include "drivers/meter/meter_driver.hpp"

namespace estate::gate {

namespace asio = boost::asio;
using config::DeviceKind;

bool gate_configured(const config::SiteConfig& cfg) {
  for (const auto& d : cfg.devices) {
    if (d.kind == DeviceKind::gate) return true;
  }
  return false;
}

using detail::lane_of;
using detail::now_utc;

namespace {

std::vector<parking::FeeRule> parking_rules_of(const config::SiteConfig& site) {
  std::vector<parking::FeeRule> rules;
  auto it = site.domain_sections.find("parking_rules");
  if (it == site.domain_sections.end()) return rules;
  for (const auto& part : it->second) {
    // Validated when the config was loaded; a fresh Diagnostics keeps this read side-effect free.
    config::Diagnostics diag;
    YAML::Node doc(YAML::NodeType::Map);
    doc["parking_rules"] = part.node;
    config::Section s(doc, part.file, "", diag);
    for (auto& r : parking::parse_parking_rules(s)) rules.push_back(std::move(r));
  }
  return rules;
}

parking::ParkingSettings parking_settings_of(const config::SiteConfig& site,
                                             const access::AccessConfig& ac) {
  parking::ParkingSettings s;
  s.rules = parking_rules_of(site);
  s.visitor_rule = ac.visitor_rule;
  s.utc_offset_minutes = site.site.utc_offset_minutes;
  return s;
}

}  // namespace

GateComponent::GateComponent(runtime::Services& services, std::shared_ptr<http::Web> web,
                             bridge::CommandRegistry* commands)
    : services_(services), cfg_(services.config()),
      alive_(std::make_shared<std::atomic<bool>>(true)) {
  const auto& cfg = *cfg_;
  const auto ac = access::access_config_of(cfg);

  build_devices(cfg, ac);

  // The service takes over lists the cloud bridge stored in a newer version than the access
  // tables hold before it loads the index (it alone has the key their hashes need).
  // Nobody is in arrears until billing is wired in as the arrears source (daemon/wiring.cpp).
  access_ = std::make_shared<access::AccessService>(services_.store, cfg.gateway.id, ac,
                                                    std::make_shared<access::NoArrears>());
  parking_ = std::make_unique<parking::ParkingSessions>(
      services_.store, cfg.gateway.id, parking_settings_of(cfg, ac),
      [svc = access_](access::CredentialKind kind, std::string_view value) {
        return svc->credential_hash(kind, value);
      });

  if (web) {
    add_routes(web);
  } else if (!cameras_.empty()) {
    spdlog::warn("gate: cameras are configured but http.listen is not: plate pushes are not "
                 "received");
  }
  if (commands) add_downlinks(*commands);
}

GateComponent::~GateComponent() {
  *alive_ = false;
  if (frames_) frames_->stop();  // decodes under way hand their codes to worker_
  worker_.join();
  for (auto& [id, g] : gates_) g.barrier->stop();
  for (auto& [bus, bl] : lines_.controllers) {
    asio::post(bl.strand, [line = bl.line] { line->stop(); });
  }
}

void GateComponent::start() {
  for (auto& [bus, cl] : card_lines_) {
    cl.line->start();
    spdlog::info("card readers on bus {} ({}): {}", bus, cl.line->describe(), cl.readers.size());
  }
  std::vector<GateInfo> info;
  for (const auto& [id, g] : gates_) {
    info.push_back({id, std::string(access::to_string(g.lane)), g.drive});
  }
  // Before the barriers start, so their first events find their rows. The dashboard's view
  // only: a store that cannot take it does not keep the gates from serving.
  try {
    services_.store.write_sync(
        [&info, ts = parking::format_iso8601(now_utc(), cfg_->site.utc_offset_minutes)](
            store::Database& db) { record_gates_started(db, info, ts); });
  } catch (const std::exception& e) {
    spdlog::error("gates: recording their status for the dashboard failed: {}", e.what());
  }
  for (auto& [id, g] : gates_) {
    g.barrier->start();
    spdlog::info("gate {}: {} lane, {}", id, access::to_string(g.lane), g.drive);
  }
  if (!cameras_.empty()) {
    last_sweep_ = now_utc();
    asio::post(worker_, [this] { sweep_snapshots(); });
  }
}

void GateComponent::stop(std::function<void()> done) {
  *alive_ = false;
  // Credentials already queued are decided and recorded; the barriers keep their state.
  // Frames waiting to be decoded are answered 503; those being decoded finish first.
  if (frames_) frames_->stop();
  worker_.join();
  for (auto& [id, g] : gates_) g.barrier->stop();
  // Barrier lines finish the command on the wire, after the barriers' last polls (same strand).
  for (auto& [bus, bl] : lines_.controllers) {
    asio::post(bl.strand, [line = bl.line] { line->stop(); });
  }
  // The card lines end their listening (within one receive wait), then the component is done.
  auto remaining = std::make_shared<std::atomic<std::size_t>>(card_lines_.size() + 1);
  auto finish = [remaining, done = std::move(done)] {
    if (--*remaining == 0) done();
  };
  for (auto& [bus, cl] : card_lines_) cl.line->stop(finish);
  finish();
}

parking::PayResult GateComponent::pay_parking(std::int64_t session, std::int64_t amount_fen,
                                              const std::string& reference,
                                              const std::string& via,
                                              std::optional<parking::Instant> priced_at) {
  if (!*alive_) {
    parking::PayResult stopped;
    stopped.error = "gates stopping";
    return stopped;
  }
  // The money.parking entry commits with the payment, in its transaction (docs/security.md).
  const std::string actor = via.starts_with("staff:") ? "token:" + via.substr(6) : via;
  auto audit_payment = [&](store::Database& db, const parking::PayResult& paid) {
    audit::append(db, audit::Entry{"", "money.parking", actor, "parking:" + std::to_string(session), "",
                                   nlohmann::json{{"amount_fen", amount_fen}, {"paid_fen", paid.paid_fen},
                                                  {"reference", reference}, {"gate_opened", paid.open_gate}}
                                       .dump()});
  };
  auto r = parking_->pay(session, amount_fen, reference,
                         parking::Instant{now_utc(), cfg_->site.utc_offset_minutes}, priced_at,
                         audit_payment);
  if (!r.ok) {
    spdlog::warn("parking: payment of {} fen for session {} ({}) refused: {}", amount_fen,
                 session, via, r.error);
    return r;
  }
  if (r.repeated) {
    spdlog::info("parking: session {} already paid with reference {} ({})", session, reference,
                 via);
    return r;
  }
  spdlog::info("parking: session {} paid {} fen ({}){}", session, amount_fen, via,
               r.open_gate ? "; opening " + r.gate : "");
  if (r.open_gate) {
    if (auto g = gates_.find(r.gate); g != gates_.end()) {
      g->second.barrier->open();
    } else {
      spdlog::warn("parking: session {} waited at '{}', which is not a gate now", session, r.gate);
      r.open_gate = false;
    }
  }
  return r;
}

std::optional<parking::SessionView> GateComponent::parking_session(std::int64_t session) {
  return parking_->find_session(session, parking::Instant{now_utc(), cfg_->site.utc_offset_minutes});
}

void GateComponent::on_card(const std::string& bus, const drivers::card::CardFrame& f) {
  auto cl = card_lines_.find(bus);
  if (cl == card_lines_.end()) return;
  auto r = cl->second.readers.find(f.address.value_or(-1));
  if (f.qr) {
    // A scanned QR code (a visitor pass): decided as scanned; logs show it masked.
    if (r != cl->second.readers.end()) {
      submit(Credential{access::CredentialKind::qr, f.card, r->second.gate, r->second.lane,
                        r->second.id, std::nullopt, {}});
    }
    return;
  }
  const auto card = access::normalize_card(f.card);
  if (r == cl->second.readers.end() || !card) {
    spdlog::warn("card readers on bus {}: card {} from address {}, which no card_reader device "
                 "has; ignored", bus, access::mask_card(f.card), f.address.value_or(-1));
    return;
  }
  submit(Credential{access::CredentialKind::card, *card, r->second.gate, r->second.lane,
                    r->second.id, std::nullopt, {}});
}

void GateComponent::reload(std::shared_ptr<const config::SiteConfig> cfg) {
  const auto ac = access::access_config_of(*cfg);
  access_->set_config(ac);
  parking_->set_settings(parking_settings_of(*cfg, ac));
  cfg_ = std::move(cfg);
  spdlog::info("gate: access policy and parking rules reloaded (device changes need a restart)");
}

void GateComponent::submit(Credential credential) {
  if (!*alive_) {
    if (credential.decided) credential.decided(false);
    return;
  }
  asio::post(worker_, [this, c = std::move(credential)] {
    bool opened = false;
    try {
      opened = process(c);
    } catch (const std::exception& e) {
      spdlog::error("gate {}: handling a {} failed: {}", c.gate, access::to_string(c.kind),
                    e.what());
    }
    if (c.decided) c.decided(opened);
  });
}

bool GateComponent::process(const Credential& c) {
  auto it = gates_.find(c.gate);
  if (it == gates_.end()) return false;
  Gate& g = it->second;
  const std::string shown = access::shown_credential(c.kind, c.value);
  if (!g.barrier->ready_for_credential()) {
    spdlog::warn("gate {}: {} {} ignored: the previous vehicle has not cleared the loop "
                 "(anti-tailgate)", c.gate, access::to_string(c.kind), shown);
    return false;
  }
  const std::int64_t t = now_utc();
  access::AccessRequest req{c.kind, c.value, c.gate, c.lane, t, c.camera};
  const access::Decision d = access_->decide(req);
  parking::Passage p;
  p.kind = c.kind;
  p.credential = c.value;
  p.gate = c.gate;
  p.time = parking::Instant{t, cfg_->site.utc_offset_minutes};
  p.decision = d;
  if (c.camera) p.snapshot = c.camera->snapshot;  // the parking session keeps it too
  if (c.lane == access::Lane::entry) {
    if (!d.lets_through()) return false;
    g.barrier->open();
    parking_->on_entry(p);
    return true;
  }
  if (!d.lets_through()) return false;  // the guard decides; a manual open is its own event
  const auto r = parking_->on_exit(p);
  if (r.action == parking::ExitAction::open) {
    g.barrier->open();
    return true;
  }
  spdlog::info("gate {}: {} {} waits: {} ({} fen due)", c.gate, access::to_string(c.kind), shown,
               parking::to_string(r.action), r.due_fen);
  return false;
}

void GateComponent::manual_open(const std::string& gate, const std::string& reason,
                                const std::optional<audit::Entry>& audit) {
  auto it = gates_.find(gate);
  if (it == gates_.end()) return;
  it->second.barrier->open();
  parking_->manual_open(gate, reason, parking::Instant{now_utc(), cfg_->site.utc_offset_minutes},
                        audit);
}

void GateComponent::on_barrier_event(const std::string& gate,
                                     const drivers::gate::BarrierEvent& ev) {
  using drivers::gate::BarrierEventKind;
  if (ev.kind == BarrierEventKind::fault) {
    spdlog::warn("gate {}: barrier fault: {}", gate, ev.detail);
  } else {
    spdlog::info("gate {}: barrier {}{}{}", gate, drivers::gate::to_string(ev.kind),
                 ev.detail.empty() ? "" : ": ", ev.detail);
  }
  // Every event moves the dashboard's gate_status; held closes and faults are also events for
  // the platform (what a guard needs to see; open/close follow every decision).
  const bool to_platform =
      ev.kind == BarrierEventKind::close_held || ev.kind == BarrierEventKind::fault;
  record::BarrierEvent rec;
  rec.ts = parking::format_iso8601(now_utc(), cfg_->site.utc_offset_minutes);
  rec.what = ev.kind == BarrierEventKind::fault ? record::BarrierEvent::What::fault
                                                : record::BarrierEvent::What::close_held;
  rec.gate = gate;
  rec.detail = ev.detail;
  services_.store.write(
      [gw = cfg_->gateway.id, rec, to_platform, gate, ev](store::Database& db) {
        record_barrier_event(db, gate, ev, rec.ts);
        if (to_platform) record::append(db, gw, rec);
        // The alarm barrier_fault: raised by a fault (the controller reporting one, or not
        // answering), cleared once the arm was driven again, once per transition.
        if (ev.kind == BarrierEventKind::fault || ev.kind == BarrierEventKind::opened ||
            ev.kind == BarrierEventKind::closed) {
          const bool fault = ev.kind == BarrierEventKind::fault;
          record::Alarm alarm;
          alarm.ts = rec.ts;
          alarm.alarm = "barrier_fault";
          alarm.state = fault ? record::AlarmState::raised : record::AlarmState::cleared;
          alarm.severity = fault ? record::Severity::major : record::Severity::info;
          alarm.device = gate;
          alarm.detail = fault ? ev.detail : "the barrier was driven " +
                                                 std::string(drivers::gate::to_string(ev.kind));
          record::transition(db, gw, alarm);
        }
      },
      [gate](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("gate {}: recording a barrier event failed: {}", gate, ex.what());
        }
      });
}

}  // namespace estate::gate
