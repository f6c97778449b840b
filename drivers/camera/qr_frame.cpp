#include "drivers/camera/qr_frame.hpp"

#include <nlohmann/json.hpp>

namespace estate::drivers::camera {

namespace {

FramePush reject(int status, const std::string& error) {
  FramePush r;
  r.status = status;
  r.body = nlohmann::json{{"ok", false}, {"error", error}}.dump();
  return r;
}

}  // namespace

#ifndef ESTATE_EDGE_WITH_OPENCV
bool qr_frames_supported() { return false; }
QrCodes read_qr_codes(std::span<const std::uint8_t>) {
  return {{}, "this build reads no QR codes from images (ESTATE_EDGE_WITH_OPENCV is off)"};
}
#endif

FramePush handle_frame_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras, std::size_t max_body,
                            PushGuard* guard) {
  const auto cam_id = find_header(headers, "X-Camera-Id");
  if (!cam_id || cam_id->empty()) return reject(400, "X-Camera-Id: required");
  const auto auth = authenticate_camera(headers, cameras, *cam_id, body, guard);
  if (!auth.camera) return reject(401, auth.error);
  const CameraSecret* cam = auth.camera;
  auto refuse = [&](int status, const std::string& error) {
    auto r = reject(status, error);
    r.camera = cam->id;
    return r;
  };
  if (!qr_frames_supported()) {
    return refuse(501, "this gateway was built without QR detection (ESTATE_EDGE_WITH_OPENCV)");
  }
  if (body.size() > max_body) {
    return refuse(413, "frame of " + std::to_string(body.size()) + " bytes exceeds " +
                           std::to_string(max_body));
  }
  if (body.empty()) return refuse(400, "empty frame: POST the encoded image as the body");
  auto found = read_qr_codes(std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  if (!found.error.empty()) return refuse(400, found.error);
  FramePush out;
  out.status = 200;
  out.camera = cam->id;
  out.codes = std::move(found.codes);
  out.body = nlohmann::json{{"ok", true}, {"codes", out.codes.size()}}.dump();
  return out;
}

}  // namespace estate::drivers::camera
