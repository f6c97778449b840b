// The plate camera's "ANPR result pushed over HTTP" integration: the camera POSTs JSON
//   {"camera": "cam-entry", "plate": "粤B12345", "colour": "blue", "confidence": 93,
//    "lane": "entry", "time": "2026-03-01T08:00:00+08:00", "snapshot": "<base64 JPEG>"}
// authenticated in one of two ways (docs/security.md, "Camera pushes"):
//   - the shared secret itself in the `X-Camera-Secret` header (cameras that cannot sign;
//     safe only over HTTPS), or
//   - signed: `X-Estate-Timestamp: <Unix seconds>` and `X-Estate-Signature: <hex
//     HMAC-SHA256(secret, "<timestamp>\n<body>")>`; the timestamp must be within the window
//     of the gateway's clock and each signature is accepted once (replays refused).
// The camera id may also come in `X-Camera-Id`. This is the handler only: the local HTTP
// listener mounts it and sends back `status` and `body`. Pure function of its inputs apart from
// the PushGuard's memory of signatures; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace estate::drivers::camera {

struct CameraSecret {
  std::string id;      // devices[].id of the camera
  std::string secret;  // devices[].secret
  std::string lane;    // devices[].lane: entry or exit; used when the push names none
  bool require_signature = false;  // devices[].require_signature: X-Camera-Secret refused
};

// The hex HMAC-SHA256 a signing camera sends in X-Estate-Signature.
std::string push_signature(std::string_view secret, std::string_view timestamp,
                           std::string_view body);

// Checks signed pushes' time window and remembers their signatures so each is accepted once.
// Bounded: at most `max_remembered` signatures (only verified ones are stored, so only a camera
// holding its secret fills it); beyond that the oldest is forgotten. Thread-safe.
class PushGuard {
 public:
  using Now = std::function<std::int64_t()>;  // Unix seconds
  explicit PushGuard(std::chrono::seconds window = std::chrono::seconds(300),
                     std::size_t max_remembered = 8192, Now now = {});
  std::chrono::seconds window() const { return window_; }
  std::int64_t now() const;
  // False when `signature` of `camera` was seen within the window (a replay); else remembers it.
  bool first_use(const std::string& camera, const std::string& signature, std::int64_t timestamp);

 private:
  std::chrono::seconds window_;
  std::size_t max_;
  Now now_;
  std::mutex mutex_;
  std::set<std::string> seen_;
  std::deque<std::pair<std::int64_t, std::string>> order_;  // (expires, key), oldest first
};

struct PlateRead {
  std::string camera;
  std::string plate;       // as the camera read it (normalise before looking it up)
  std::string colour;      // blue, yellow, green, white, black, or "" when not given
  int confidence = -1;     // 0..100, -1 when not given
  std::string lane;        // entry or exit
  std::string time;        // as pushed; empty when the camera sends none
  std::string snapshot;    // base64 JPEG as pushed, may be empty
};

struct PushResult {
  int status = 400;        // HTTP status for the camera: 200, 400, 401, 413
  std::string body;        // JSON: {"ok": true} or {"ok": false, "error": "..."}
  std::optional<PlateRead> read;
};

// A header's value; names are matched case-insensitively.
std::optional<std::string> find_header(const std::map<std::string, std::string>& headers,
                                       std::string_view name);
struct CameraAuth {
  const CameraSecret* camera = nullptr;  // set when authenticated
  std::string error;                     // why not, for the 401 answer
};
// The camera `camera_id` if the request is signed with its secret (X-Estate-Signature, checked
// against `guard`'s window and memory; without a guard signed pushes are refused) or, unless the
// camera requires signatures, carries it in X-Camera-Secret (compared in constant time). An
// unknown camera and a wrong or missing credential get the same error; a stale or replayed
// signature (its sender holds the secret) is named as such.
CameraAuth authenticate_camera(const std::map<std::string, std::string>& headers,
                               const std::vector<CameraSecret>& cameras,
                               std::string_view camera_id, std::string_view body,
                               PushGuard* guard);

// Header names are matched case-insensitively. `max_body` bounds what is parsed.
PushResult handle_anpr_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras,
                            std::size_t max_body = 4 * 1024 * 1024, PushGuard* guard = nullptr);

}  // namespace estate::drivers::camera
