// QR visitor passes read from a camera frame: a pedestrian gate's camera (or a snapshot
// forwarder) POSTs one encoded image (JPEG, PNG, BMP or PNM, as the body) to
// /api/cameras/frame with `X-Camera-Id` and `X-Camera-Secret` (or signed, as a plate push:
// drivers/camera/anpr_push.hpp); the code found in it is handed to the gate as a scanned QR
// credential, exactly like a QR scanner's text. A frame with two or more different codes is
// refused (422) and decides nothing: a gate lets one person through per pass, and which of two
// visitors holding up passes is at the gate is not for the camera to guess. Detection and
// decoding use OpenCV's QR detector and zbar (opencv_qr.cpp, built by default,
// ESTATE_EDGE_WITH_OPENCV); a build without it answers a frame 501 and decides nothing.
// The pixel size is read from the image's header before anything is decoded: a frame over
// max_frame_pixels, or in a format whose header is not read here, is refused undecoded.
// Thread-safe; decoding is CPU-bound (about 0.1 s per 1080p frame), so the daemon runs it off the
// I/O threads (frame_queue.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/camera/anpr_push.hpp"

namespace estate::drivers::camera {

struct QrCodes {
  std::vector<std::string> codes;  // decoded texts, in the detector's order, empty ones dropped
  std::string error;               // set when the bytes are not an image this build can read
};

// The largest frame decoded: 4096 x 4096 pixels (a camera's frame, not a poster).
inline constexpr std::uint64_t max_frame_pixels = 4096ull * 4096;

struct ImageHeader {
  std::string_view format;  // "png", "jpeg", "bmp", "pnm"
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};
// The format and pixel size an encoded image declares in its header, read without decoding
// anything (PNG IHDR, JPEG SOFn, BMP info header, PNM P1-P6); nullopt when the bytes are none of
// these or the header is cut short.
std::optional<ImageHeader> read_image_header(std::span<const std::uint8_t> image);

// True when this build reads QR codes from images.
bool qr_frames_supported();
// The QR codes in an encoded image; an image whose header is not read by read_image_header or
// declares more than max_frame_pixels is refused (`error`) without being decoded.
QrCodes read_qr_codes(std::span<const std::uint8_t> image);

struct FramePush {
  int status = 400;   // 200, 400, 401, 409, 413, 422, 501, 503
  std::string body;   // {"ok": true, "codes": N} or {"ok": false, "error": "..."}
  std::string camera;  // set once the camera is authenticated
  std::vector<std::string> codes;  // the code for the gate (at most one), only with 200
  bool decode = false;  // check_frame_push: the frame passed the checks and is to be decoded
};

// The checks made before decoding, cheap enough for an I/O thread: the camera's credential,
// the body's size, the image header's format and pixel size. A frame that passes has `decode`
// set (and no status to send yet); any other answer is final.
FramePush check_frame_push(std::string_view body,
                           const std::map<std::string, std::string>& headers,
                           const std::vector<CameraSecret>& cameras,
                           std::size_t max_body = 4 * 1024 * 1024, PushGuard* guard = nullptr);
// Decodes a frame that passed check_frame_push: 200 with no or one code, 400 when the image
// does not decode, 422 when it holds more than one code.
FramePush decode_frame(const std::string& camera, std::string_view body);
// Both steps on the caller's thread.
FramePush handle_frame_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras,
                            std::size_t max_body = 4 * 1024 * 1024, PushGuard* guard = nullptr);

}  // namespace estate::drivers::camera
