#include "drivers/camera/anpr_push.hpp"

#include "drivers/camera/push_detail.hpp"

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

std::string error_body(std::string_view error) {
  return nlohmann::json{{"ok", false}, {"error", error}}.dump();
}

namespace {

PushResult reject(int status, std::string_view error) { return refusal<PushResult>(status, error); }

// The "camera" of our own JSON body, read before authentication (nesting bounded first).
std::string camera_named_in(std::string_view body) {
  if (!detail::json_nesting_within(body, 16)) return {};
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return {};
  auto it = j.find("camera");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

PushResult handle_plate_push(std::string_view body,
                             const std::map<std::string, std::string>& headers,
                             const std::map<std::string, std::string>& query,
                             const std::vector<CameraSecret>& cameras, std::size_t max_body,
                             PushGuard* guard) {
  if (body.size() > max_body) {
    return reject(413, "body of " + std::to_string(body.size()) + " bytes exceeds " +
                           std::to_string(max_body));
  }
  auto cam_id = find_header(headers, "X-Camera-Id");
  if (!cam_id || cam_id->empty()) {
    if (auto q = query.find("camera"); q != query.end()) cam_id = q->second;
  }
  if (!cam_id || cam_id->empty()) {
    // Only our own JSON names its camera in the body; a vendor push must be given a URL with
    // ?camera= (or the X-Camera-Id header).
    std::string named = camera_named_in(body);
    if (named.empty()) {
      if (!detail::json_nesting_within(body, 16)) {
        return reject(400, "body is nested deeper than 16 levels");
      }
      if (nlohmann::json::parse(body, nullptr, false).is_discarded()) {
        return reject(400, "body is not a JSON object (a vendor push names its camera with "
                           "?camera=ID in its URL or X-Camera-Id)");
      }
    }
    for (const auto& x : cameras) {
      // A vendor-format camera is named by its URL or header, never by the body.
      if (x.id == named && x.format != PushFormat::generic_json) named.clear();
    }
    cam_id = named;
  }
  // A bare secret in the URL (cameras that can only be given one) stands for X-Camera-Secret.
  const std::map<std::string, std::string>* auth_headers = &headers;
  std::map<std::string, std::string> with_secret;
  if (auto q = query.find("secret"); q != query.end() && !find_header(headers, "X-Camera-Secret")) {
    with_secret = headers;
    with_secret["x-camera-secret"] = q->second;
    auth_headers = &with_secret;
  }
  // The same answer for an unknown camera and a wrong secret: do not reveal camera ids.
  const auto auth = authenticate_camera(*auth_headers, cameras, *cam_id, body, guard);
  if (!auth.camera) return reject(401, auth.error);
  const CameraSecret* cam = auth.camera;
  const auto content_type = find_header(headers, "Content-Type").value_or("");
  auto parsed = cam->format == PushFormat::json_fields && cam->json_fields
                    ? parse_json_push(*cam->json_fields, body)
                    : parse_push(cam->format, body, content_type);
  if (!parsed.error.empty()) {
    auto r = reject(400, parsed.error);
    r.camera = cam->id;
    r.format = cam->format;
    return r;
  }
  PushResult out;
  out.status = 200;
  out.camera = cam->id;
  out.format = cam->format;
  if (!parsed.fields) {
    out.ignored = parsed.ignored;
    out.body = answer_push(cam->format, false).body;
    return out;
  }
  auto& f = *parsed.fields;
  PlateRead r;
  r.camera = cam->id;
  r.format = cam->format;
  r.plate = std::move(f.plate);
  r.colour = std::move(f.colour);
  r.confidence = f.confidence;
  r.lane = f.lane.empty() ? cam->lane : f.lane;
  if (r.lane != "entry" && r.lane != "exit") {
    return reject(400, "lane: expected entry or exit, got '" + r.lane + "'");
  }
  r.channel = f.channel;
  r.time = std::move(f.time);
  r.snapshot = std::move(f.snapshot);
  r.snapshot_name = std::move(f.snapshot_name);
  r.note = std::move(f.note);
  out.body = answer_push(cam->format, false).body;
  out.read = std::move(r);
  return out;
}

PushResult handle_anpr_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras, std::size_t max_body,
                            PushGuard* guard) {
  return handle_plate_push(body, headers, {}, cameras, max_body, guard);
}

}  // namespace estate::drivers::camera
