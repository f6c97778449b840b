// The gates' HTTP routes: the kiosk's parking search, the staff's manual payment, the
// cameras' plate and frame pushes (GateComponent::add_routes and their handlers).
#include "daemon/gate/gate_component.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/audit/audit.hpp"
#include "daemon/gate/gate_detail.hpp"
#include "daemon/kiosk/parking_charges.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/runtime/bounded_json.hpp"

namespace estate::gate {

namespace asio = boost::asio;
using detail::lane_of;
using detail::now_utc;
using detail::parse_payment;

namespace {

// A snapshot's directory: its UTC day, YYYYMMDD.
std::string snapshot_day(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

}  // namespace

void GateComponent::add_routes(std::shared_ptr<http::Web> web) {
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  web->router.add_route("GET", "/api/parking/sessions", http::Role::kiosk,
                        [this, alive](const http::Request& req) {
                          auto a = alive.lock();
                          if (!a || !*a) {
                            return http::Response::error(503, "unavailable", "gates stopping");
                          }
                          return on_parking_search(req);
                        });
  // A manual payment ("paid in cash" at the booth): staff only, audited with the token's
  // name. A kiosk takes parking fees through the POS journal (POST /api/payments).
  web->router.add_route("POST", "/api/parking/pay", http::Role::technician,
                        [this, alive](const http::Request& req) {
                          auto a = alive.lock();
                          if (!a || !*a) {
                            return http::Response::error(503, "unavailable", "gates stopping");
                          }
                          return on_parking_pay(req);
                        });
  if (cameras_.empty()) return;
  // Plate pushes in each camera's format (its `model`); answered once decided.
  web->router.add_async_route("POST", "/api/cameras/anpr", http::Role::none,
                              [this, alive](const http::Request& req, http::Reply reply) {
                                auto a = alive.lock();
                                if (!a || !*a) {
                                  return reply(http::Response::error(503, "unavailable",
                                                                     "gates stopping"));
                                }
                                on_camera_push(req, std::move(reply));
                              },
                              http::Credential::own);
  // QR visitor passes in a camera frame (pedestrian gates): see drivers/camera/qr_frame.hpp.
  // Decoded off the I/O threads, one frame per camera at a time (frame_queue.hpp).
  auto& decode_seconds = web->metrics.histogram(
      "estate_qr_decode_seconds", "Time to decode one camera frame for QR codes",
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  frames_ = std::make_unique<drivers::camera::FrameDecodeQueue>(
      std::max(1u, std::thread::hardware_concurrency() / 2),
      [web, h = &decode_seconds](std::chrono::duration<double> d) { h->observe(d.count()); });
  web->router.add_async_route("POST", "/api/cameras/frame", http::Role::none,
                              [this, alive](const http::Request& req, http::Reply reply) {
                                auto a = alive.lock();
                                if (!a || !*a) {
                                  return reply(http::Response::error(503, "unavailable",
                                                                     "gates stopping"));
                                }
                                on_camera_frame(req, std::move(reply));
                              },
                              http::Credential::own);
}

http::Response GateComponent::on_parking_search(const http::Request& req) {
  access::CredentialKind kind = access::CredentialKind::plate;
  std::string value;
  if (auto p = req.query.find("plate"); p != req.query.end()) {
    value = access::normalize_plate(p->second);
  } else if (auto c = req.query.find("card"); c != req.query.end()) {
    kind = access::CredentialKind::card;
    value = access::normalize_card(c->second).value_or("");
  } else {
    return http::Response::error(400, "bad_request", "give ?plate=PLATE or ?card=UID");
  }
  if (value.empty()) return http::Response::error(400, "bad_request", "empty or malformed credential");
  const int offset = cfg_->site.utc_offset_minutes;
  auto v = parking_->find_open(kind, value, parking::Instant{now_utc(), offset});
  if (!v) {
    return http::Response::error(404, "not_found", "no open parking session for " +
                                                       access::shown_credential(kind, value));
  }
  nlohmann::json j{{"session", v->id},
                   {std::string(access::to_string(kind)), access::shown_credential(kind, value)},
                   {"holder", v->holder},
                   {"state", v->state},
                   {"entry", parking::format_iso8601(v->entry.utc_seconds, v->entry.offset_minutes)},
                   {"entry_gate", v->entry_gate},
                   {"rule", v->rule},
                   {"fee_fen", v->fee_fen},
                   {"paid_fen", v->paid_fen},
                   {"due_fen", v->due_fen}};
  if (!v->exit_gate.empty()) j["exit_gate"] = v->exit_gate;
  if (v->quote) j["fee"] = parking::to_json(*v->quote);
  // The kiosk pays this session by the handle (POST /api/payments), never by its number.
  if (kiosk_sales_.open_sale) {
    j["sale"] = kiosk_sales_.open_sale(req.token_name, kiosk::parking_room(v->id));
  }
  return http::Response::json(200, j);
}

http::Response GateComponent::on_parking_pay(const http::Request& req) {
  auto body = runtime::parse_json_bounded(req.body);
  std::int64_t session = 0, amount = 0;
  std::string reference;
  if (body.is_discarded()) return http::Response::error(400, "bad_request", "body: not JSON");
  if (auto e = parse_payment(body, {}, session, amount, reference); !e.empty()) {
    return http::Response::error(400, "bad_request", e);
  }
  auto r = pay_parking(session, amount, reference,
                       "staff:" + (req.token_name.empty() ? std::string("?") : req.token_name));
  if (!r.ok) return http::Response::error(409, "refused", r.error);
  return http::Response::json(200, {{"session", session}, {"paid_fen", r.paid_fen},
                                    {"gate_opened", r.open_gate}, {"repeated", r.repeated}});
}

void GateComponent::on_camera_frame(const http::Request& req, http::Reply reply) {
  auto checked = drivers::camera::check_frame_push(req.body, req.headers, cameras_,
                                                   4 * 1024 * 1024, &push_guard_);
  if (!checked.decode) return reply(answer_frame(std::move(checked)));
  frames_->submit(
      checked.camera,
      [camera = checked.camera, body = req.body] {
        return drivers::camera::decode_frame(camera, body);
      },
      [this, reply = std::move(reply)](drivers::camera::FramePush r) {
        reply(answer_frame(std::move(r)));
      });
}

http::Response GateComponent::answer_frame(drivers::camera::FramePush r) {
  if (r.status == 200) {
    auto g = camera_gate_.find(r.camera);
    std::string lane = "entry";
    for (const auto& c : cameras_) {
      if (c.id == r.camera && !c.lane.empty()) lane = c.lane;
    }
    if (g != camera_gate_.end()) {
      // Each code is decided like a QR scanner's text (a signed pass or a listed pass id).
      for (auto& code : r.codes) {
        submit(Credential{access::CredentialKind::qr, std::move(code), g->second, lane_of(lane),
                          r.camera, std::nullopt, {}});
      }
    }
  } else if (r.status == 409) {
    spdlog::debug("gate: frame from camera {} superseded by a newer one", r.camera);
  } else if (r.status != 401) {
    spdlog::warn("gate: frame from camera {} refused: {}", r.camera.empty() ? "?" : r.camera,
                 nlohmann::json::parse(r.body, nullptr, false).value("error", ""));
  }
  http::Response resp;
  resp.status = r.status;
  resp.body = r.body;
  resp.auth_failed = r.status == 401;  // counted against the address like a bad token
  return resp;
}

void GateComponent::on_camera_push(const http::Request& req, http::Reply reply) {
  auto r = drivers::camera::handle_plate_push(req.body, req.headers, req.query, cameras_,
                                              4 * 1024 * 1024, &push_guard_);
  http::Response resp;
  resp.status = r.status;
  resp.body = r.body;
  resp.auth_failed = r.status == 401;  // counted against the address like a bad token
  if (r.status == 400) {
    spdlog::warn("gate: plate push from camera {} refused: {}", r.camera.empty() ? "?" : r.camera,
                 nlohmann::json::parse(r.body, nullptr, false).value("error", ""));
  } else if (r.status == 200 && !r.read) {
    spdlog::debug("gate: push from camera {} not a plate read: {}", r.camera, r.ignored);
  }
  if (!r.read) return reply(std::move(resp));
  const auto& read = *r.read;
  auto g = camera_gate_.find(read.camera);
  const std::string plate = access::normalize_plate(read.plate);
  if (g == camera_gate_.end() || plate.empty()) {
    spdlog::warn("gate: camera {} pushed plate '{}', which is no plate here; not decided",
                 read.camera, access::shown_credential(access::CredentialKind::plate, read.plate));
    resp.body = drivers::camera::answer_push(read.format, false).body;
    return reply(std::move(resp));
  }
  const std::int64_t now = now_utc();
  if (!read.note.empty()) spdlog::warn("gate: camera {}: {}", read.camera, read.note);
  access::CameraRead cam;
  cam.camera = read.camera;
  cam.model = std::string(drivers::camera::to_string(read.format));
  cam.colour = read.colour;
  cam.confidence = read.confidence;
  cam.channel = read.channel;
  cam.snapshot = store_snapshot(read, now);
  if (now - last_sweep_.load() >= 3600) {
    last_sweep_ = now;
    asio::post(worker_, [this] { sweep_snapshots(); });
  }
  Credential c{access::CredentialKind::plate, plate, g->second, lane_of(read.lane), read.camera,
               std::move(cam), {}};
  c.decided = [reply = std::move(reply), resp = std::move(resp),
               format = read.format](bool opened) mutable {
    resp.body = drivers::camera::answer_push(format, opened).body;
    reply(std::move(resp));
  };
  submit(std::move(c));
}

std::string GateComponent::store_snapshot(const drivers::camera::PlateRead& read,
                                          std::int64_t now) {
  namespace fs = std::filesystem;
  if (read.snapshot.empty()) return {};
  if (read.snapshot.size() < 4 || static_cast<unsigned char>(read.snapshot[0]) != 0xFF ||
      static_cast<unsigned char>(read.snapshot[1]) != 0xD8) {
    spdlog::warn("gate: camera {}: its picture ({}) is not a JPEG; not kept", read.camera,
                 read.snapshot_name);
    return {};
  }
  std::string camera;
  for (char ch : read.camera) {
    camera += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ? ch : '_';
  }
  const std::string day = snapshot_day(now);
  const std::string name = camera + "-" + std::to_string(now) + "-" +
                           std::to_string(snapshot_seq_.fetch_add(1)) + ".jpg";
  const std::string rel = "snapshots/" + day + "/" + name;
  std::error_code ec;
  const fs::path dir = services_.store.state_dir() / "snapshots" / day;
  fs::create_directories(dir, ec);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(read.snapshot.data(), static_cast<std::streamsize>(read.snapshot.size()));
  out.close();
  if (ec || !out) {
    spdlog::error("gate: camera {}: writing its picture to {} failed{}{}", read.camera,
                  (dir / name).string(), ec ? ": " : "", ec.message());
    fs::remove(dir / name, ec);
    return {};
  }
  return rel;
}

void GateComponent::sweep_snapshots() {
  namespace fs = std::filesystem;
  const fs::path root = services_.store.state_dir() / "snapshots";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  try {
    // The oldest access event still kept: a day before it has no event left to refer to its
    // pictures. Without events, days before yesterday go (recent pictures may still be waiting
    // for their event's write).
    auto db = services_.store.open_reader();
    auto st = db.prepare("SELECT min(unix_s) FROM access_events");
    std::int64_t oldest = now_utc() - 86400;
    if (st.step() && !st.is_null(0)) oldest = std::min(oldest + 86400, st.int64(0));
    const std::string keep_from = snapshot_day(oldest);
    std::size_t removed = 0;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() != 8 || name >= keep_from || !e.is_directory()) continue;
      removed += fs::remove_all(e.path(), ec);
    }
    if (removed > 0) spdlog::info("gate: {} expired snapshot files deleted", removed);
  } catch (const std::exception& e) {
    spdlog::error("gate: sweeping expired snapshots failed: {}", e.what());
  }
}

}  // namespace estate::gate
