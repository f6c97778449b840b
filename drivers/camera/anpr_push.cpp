#include "drivers/camera/anpr_push.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
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

std::string push_signature(std::string_view secret, std::string_view timestamp,
                           std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append("\n").append(body);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), md, &len)) {
    return {};
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0xF];
  }
  return out;
}

PushGuard::PushGuard(std::chrono::seconds window, std::size_t max_remembered, Now now)
    : window_(window), max_(std::max<std::size_t>(max_remembered, 1)), now_(std::move(now)) {}

std::int64_t PushGuard::now() const {
  if (now_) return now_();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool PushGuard::first_use(const std::string& camera, const std::string& signature,
                          std::int64_t timestamp) {
  const std::int64_t t = now();
  std::lock_guard lock(mutex_);
  // A signature's timestamp is accepted until `window` after it: remembered that long.
  while (!order_.empty() && (order_.front().first < t || order_.size() >= max_ + 1)) {
    seen_.erase(order_.front().second);
    order_.pop_front();
  }
  std::string key = camera + '\n' + signature;
  if (!seen_.insert(key).second) return false;
  order_.emplace_back(timestamp + window_.count(), std::move(key));
  if (order_.size() > max_) {
    seen_.erase(order_.front().second);
    order_.pop_front();
  }
  return true;
}

namespace {

std::optional<std::int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

CameraAuth authenticate_camera(const std::map<std::string, std::string>& headers,
                               const std::vector<CameraSecret>& cameras,
                               std::string_view camera_id, std::string_view body,
                               PushGuard* guard) {
  static const std::string refused = "unknown camera or wrong secret";
  const CameraSecret* cam = nullptr;
  for (const auto& c : cameras) {
    if (c.id == camera_id) cam = &c;
  }
  const auto signature = find_header(headers, "X-Estate-Signature");
  if (signature) {
    const auto ts_text = find_header(headers, "X-Estate-Timestamp");
    const auto ts = ts_text ? parse_timestamp(*ts_text) : std::nullopt;
    if (!ts) return {nullptr, "X-Estate-Timestamp: expected Unix seconds with a signed push"};
    const std::string sig = lower(*signature);
    if (!cam || cam->secret.empty() || !guard ||
        !same_secret(sig, push_signature(cam->secret, *ts_text, body))) {
      return {nullptr, refused};
    }
    const std::int64_t skew = *ts - guard->now();
    if (skew > guard->window().count() || -skew > guard->window().count()) {
      return {nullptr, "stale push: X-Estate-Timestamp is more than " +
                           std::to_string(guard->window().count()) +
                           " s from the gateway's clock"};
    }
    if (!guard->first_use(cam->id, sig, *ts)) {
      return {nullptr, "replayed push: this signature was already accepted"};
    }
    return {cam, {}};
  }
  const auto secret = find_header(headers, "X-Camera-Secret");
  if (!cam || !secret || cam->secret.empty() || !same_secret(*secret, cam->secret)) {
    return {nullptr, refused};
  }
  if (cam->require_signature) {
    return {nullptr, "this camera must sign its pushes (X-Estate-Timestamp, X-Estate-Signature)"};
  }
  return {cam, {}};
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
                            const std::vector<CameraSecret>& cameras, std::size_t max_body,
                            PushGuard* guard) {
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
  const auto auth = authenticate_camera(headers, cameras, *cam_id, body, guard);
  if (!auth.camera) return reject(401, auth.error);
  const CameraSecret* cam = auth.camera;
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
