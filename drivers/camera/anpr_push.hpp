// The plate camera's "ANPR result pushed over HTTP" integration. The push formats (Vzenith,
// Hikvision ISAPI, a site's json-fields) are parsed by plate_push.hpp; our own generic JSON
// format (model generic-json, for forwarders that translate) is
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

#include "drivers/camera/plate_push.hpp"

namespace estate::drivers::camera {

struct CameraSecret {
  std::string id;      // devices[].id of the camera
  std::string secret;  // devices[].secret
  std::string lane;    // devices[].lane: entry or exit; used when the push names none
  bool require_signature = false;  // devices[].require_signature: X-Camera-Secret refused
  PushFormat format = PushFormat::generic_json;  // devices[].model (plate_push.hpp)
  std::optional<JsonPushFormat> json_fields{};   // model json-fields: its options' fields
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
  PushFormat format = PushFormat::generic_json;  // the camera's push format
  std::string plate;       // as the camera read it (normalise before looking it up)
  std::string colour;      // blue, yellow, white, black, green, yellow-green, other; "" unknown
  int confidence = -1;     // 0..100, -1 when not given
  std::string lane;        // entry or exit
  int channel = -1;        // the camera's video channel, -1 when not given
  std::string time;        // as pushed; empty when the camera sends none
  std::string snapshot;    // the picture's bytes (decoded JPEG), may be empty
  std::string snapshot_name;  // its name in the push ("imageFile", "detectionPicture.jpg")
  std::string note;        // a problem that did not stop the read (picture not decodable)
};

struct PushResult {
  int status = 400;        // HTTP status for the camera: 200, 400, 401, 413
  std::string body;        // JSON: {"ok": true} or {"ok": false, "error": "..."}
  std::optional<PlateRead> read;
  std::string camera;      // the authenticated camera, also when the push carried no read
  PushFormat format = PushFormat::generic_json;
  std::string ignored;     // 200 without a read: why (another event type, an offline record)
};

// The JSON body of a refused push: {"ok": false, "error": "..."}.
std::string error_body(std::string_view error);

// A refused push's answer (PushResult, FramePush): the status and error_body.
template <class Result>
Result refusal(int status, std::string_view error) {
  Result r;
  r.status = status;
  r.body = error_body(error);
  return r;
}

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

// A plate push in the format of the camera's model (plate_push.hpp). The camera is named by
// `X-Camera-Id`, else the query's `camera` (cameras that can only be given a URL), else — in
// the generic JSON format — the body's "camera". Its bare secret may come as `X-Camera-Secret`
// or as the query's `secret` (the same rules: refused when the camera must sign). The body is
// parsed only after the camera proved itself, except our own JSON that names its camera.
// Header names are matched case-insensitively. `max_body` bounds what is parsed: a longer body
// is refused (413) before anything else is looked at.
PushResult handle_plate_push(std::string_view body,
                             const std::map<std::string, std::string>& headers,
                             const std::map<std::string, std::string>& query,
                             const std::vector<CameraSecret>& cameras,
                             std::size_t max_body = 4 * 1024 * 1024, PushGuard* guard = nullptr);

// The same without a query string.
PushResult handle_anpr_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras,
                            std::size_t max_body = 4 * 1024 * 1024, PushGuard* guard = nullptr);

}  // namespace estate::drivers::camera
