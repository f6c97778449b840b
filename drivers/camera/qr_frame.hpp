// QR visitor passes read from a camera frame: a pedestrian gate's camera (or a snapshot
// forwarder) POSTs one encoded image (JPEG, PNG or BMP, as the body) to
// /api/cameras/frame with `X-Camera-Id` and `X-Camera-Secret` (or signed, as a plate push:
// drivers/camera/anpr_push.hpp); the codes found in it are
// handed to the gate as scanned QR credentials, exactly like a QR scanner's text. Detection and
// decoding use OpenCV's QR detector (opencv_qr.cpp) and are built with ESTATE_EDGE_WITH_OPENCV;
// without it a frame is answered 501 and nothing is decided. Thread-safe; CPU-bound (tens of
// ms per VGA frame), so callers run it off the I/O threads.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "drivers/camera/anpr_push.hpp"

namespace estate::drivers::camera {

struct QrCodes {
  std::vector<std::string> codes;  // decoded texts, in the detector's order, empty ones dropped
  std::string error;               // set when the bytes are not an image this build can read
};

// True when this build reads QR codes from images.
bool qr_frames_supported();
// The QR codes in an encoded image.
QrCodes read_qr_codes(std::span<const std::uint8_t> image);

struct FramePush {
  int status = 400;   // 200, 400, 401, 413, 501
  std::string body;   // {"ok": true, "codes": N} or {"ok": false, "error": "..."}
  std::string camera;  // set once the camera is authenticated
  std::vector<std::string> codes;
};

FramePush handle_frame_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras,
                            std::size_t max_body = 4 * 1024 * 1024, PushGuard* guard = nullptr);

}  // namespace estate::drivers::camera
