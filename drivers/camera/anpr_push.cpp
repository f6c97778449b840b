#include "drivers/camera/anpr_push.hpp"

#include <nlohmann/json.hpp>

#include <cctype>

namespace estate::drivers::camera {

namespace {

// Compares without an early exit so the time taken does not tell how much of a guess matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

std::optional<std::string> find_header(const std::map<std::string, std::string>& headers,
                                       std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < k.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return v;
  }
  return std::nullopt;
}

const CameraSecret* authenticate_camera(const std::map<std::string, std::string>& headers,
                                        const std::vector<CameraSecret>& cameras,
                                        std::string_view camera_id) {
  const CameraSecret* cam = nullptr;
  for (const auto& c : cameras) {
    if (c.id == camera_id) cam = &c;
  }
  const auto secret = find_header(headers, "X-Camera-Secret");
  if (!cam || !secret || cam->secret.empty() || !same_secret(*secret, cam->secret)) return nullptr;
  return cam;
}

namespace {

PushResult reject(int status, const std::string& error) {
  PushResult r;
  r.status = status;
  r.body = nlohmann::json{{"ok", false}, {"error", error}}.dump();
  return r;
}

std::optional<std::string> string_field(const nlohmann::json& j, const char* key,
                                        std::string& error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    error = std::string(key) + ": expected a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

PushResult handle_anpr_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras, std::size_t max_body) {
  if (body.size() > max_body) {
    return reject(413, "body of " + std::to_string(body.size()) + " bytes exceeds " +
                           std::to_string(max_body));
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return reject(400, "body is not a JSON object");
  std::string error;
  auto cam_id = find_header(headers, "X-Camera-Id");
  if (!cam_id || cam_id->empty()) {
    auto c = string_field(j, "camera", error);
    if (!c) return reject(400, error);
    cam_id = *c;
  }
  // The same answer for an unknown camera and a wrong secret: do not reveal camera ids.
  const CameraSecret* cam = authenticate_camera(headers, cameras, *cam_id);
  if (!cam) return reject(401, "unknown camera or wrong secret");
  PlateRead r;
  r.camera = cam->id;
  auto plate = string_field(j, "plate", error);
  if (!plate) return reject(400, error);
  if (plate->empty()) return reject(400, "plate: required");
  if (plate->size() > 32) return reject(400, "plate: longer than 32 bytes");
  r.plate = *plate;
  auto colour = string_field(j, "colour", error);
  if (!colour) return reject(400, error);
  r.colour = *colour;
  if (auto it = j.find("confidence"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 100) {
      return reject(400, "confidence: expected a whole number 0..100");
    }
    r.confidence = it->get<int>();
  }
  auto lane = string_field(j, "lane", error);
  if (!lane) return reject(400, error);
  r.lane = lane->empty() ? cam->lane : *lane;
  if (r.lane != "entry" && r.lane != "exit") {
    return reject(400, "lane: expected entry or exit, got '" + r.lane + "'");
  }
  auto time = string_field(j, "time", error);
  if (!time) return reject(400, error);
  r.time = *time;
  auto snap = string_field(j, "snapshot", error);
  if (!snap) return reject(400, error);
  r.snapshot = std::move(*snap);
  PushResult out;
  out.status = 200;
  out.body = R"({"ok":true})";
  out.read = std::move(r);
  return out;
}

}  // namespace estate::drivers::camera
