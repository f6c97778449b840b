// The plate camera's "ANPR result pushed over HTTP" integration: the camera POSTs JSON
//   {"camera": "cam-entry", "plate": "粤B12345", "colour": "blue", "confidence": 93,
//    "lane": "entry", "time": "2026-03-01T08:00:00+08:00", "snapshot": "<base64 JPEG>"}
// with its shared secret in the `X-Camera-Secret` header (the camera id may also come in
// `X-Camera-Id`). This is the handler only: the local HTTP listener mounts it and sends back
// `status` and `body`. Pure function of its inputs; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace estate::drivers::camera {

struct CameraSecret {
  std::string id;      // devices[].id of the camera
  std::string secret;  // devices[].secret
  std::string lane;    // devices[].lane: entry or exit; used when the push names none
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
// The camera `camera_id` if the request's X-Camera-Secret is its secret (compared in constant
// time); nullptr for an unknown camera and for a wrong or missing secret alike.
const CameraSecret* authenticate_camera(const std::map<std::string, std::string>& headers,
                                        const std::vector<CameraSecret>& cameras,
                                        std::string_view camera_id);

// Header names are matched case-insensitively. `max_body` bounds what is parsed.
PushResult handle_anpr_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras,
                            std::size_t max_body = 4 * 1024 * 1024);

}  // namespace estate::drivers::camera
