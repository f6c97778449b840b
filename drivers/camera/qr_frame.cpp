#include "drivers/camera/qr_frame.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>

namespace estate::drivers::camera {

namespace {

FramePush reject(int status, std::string_view error) { return refusal<FramePush>(status, error); }

std::uint32_t be16(const std::uint8_t* p) { return (std::uint32_t{p[0]} << 8) | p[1]; }
std::uint32_t be32(const std::uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
std::uint32_t le16(const std::uint8_t* p) { return (std::uint32_t{p[1]} << 8) | p[0]; }
std::uint32_t le32(const std::uint8_t* p) { return (le16(p + 2) << 16) | le16(p); }

// PNG: the signature, then the IHDR chunk first (PNG spec, ISO/IEC 15948 §11.2.2).
std::optional<ImageHeader> png_header(std::span<const std::uint8_t> b) {
  static constexpr std::uint8_t sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() < 24 || !std::equal(std::begin(sig), std::end(sig), b.begin())) return {};
  if (std::string_view(reinterpret_cast<const char*>(b.data() + 12), 4) != "IHDR") return {};
  return ImageHeader{"png", be32(&b[16]), be32(&b[20])};
}

// JPEG: markers from SOI up to the first frame header SOFn, whose lines and samples per line
// are the size (ITU-T T.81 §B.2.2). A height of 0 (given later by a DNL marker) is not read.
std::optional<ImageHeader> jpeg_header(std::span<const std::uint8_t> b) {
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return {};
  std::size_t i = 2;
  while (i + 1 < b.size()) {
    if (b[i] != 0xFF) return {};
    const std::uint8_t m = b[i + 1];
    if (m == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    i += 2;
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9 || m == 0xDA) return {};                 // EOI or scan before any frame
    if (i + 2 > b.size()) return {};
    const std::size_t len = be16(&b[i]);
    if (len < 2) return {};
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (len < 7 || i + 7 > b.size()) return {};
      const std::uint32_t height = be16(&b[i + 3]);
      const std::uint32_t width = be16(&b[i + 5]);
      if (height == 0) return {};
      return ImageHeader{"jpeg", width, height};
    }
    i += len;
  }
  return {};
}

// BMP: the file header, then the info header's width and height (negative: top-down rows);
// the 12-byte OS/2 core header has 16-bit ones.
std::optional<ImageHeader> bmp_header(std::span<const std::uint8_t> b) {
  if (b.size() < 26 || b[0] != 'B' || b[1] != 'M') return {};
  const std::uint32_t info = le32(&b[14]);
  if (info == 12) return ImageHeader{"bmp", le16(&b[18]), le16(&b[20])};
  if (info < 40) return {};
  const auto width = static_cast<std::int32_t>(le32(&b[18]));
  const auto height = static_cast<std::int32_t>(le32(&b[22]));
  if (width <= 0 || height == 0 || height == INT32_MIN) return {};
  return ImageHeader{"bmp", static_cast<std::uint32_t>(width),
                     static_cast<std::uint32_t>(height < 0 ? -height : height)};
}

// PNM (netpbm P1-P6): the magic, then width and height as decimal text, with whitespace and
// '#' comments between.
std::optional<ImageHeader> pnm_header(std::span<const std::uint8_t> b) {
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '6') return {};
  std::size_t i = 2;
  std::uint32_t dims[2] = {0, 0};
  for (auto& d : dims) {
    bool skipped = false;
    while (i < b.size()) {
      if (b[i] == '#') {
        while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
      } else if (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == '\v' ||
                 b[i] == '\f') {
        ++i;
      } else {
        break;
      }
      skipped = true;
    }
    if (!skipped || i >= b.size() || b[i] < '0' || b[i] > '9') return {};
    std::uint64_t v = 0;
    while (i < b.size() && b[i] >= '0' && b[i] <= '9') {
      v = v * 10 + (b[i++] - '0');
      if (v > 0xFFFFFFFFu) return {};
    }
    d = static_cast<std::uint32_t>(v);
  }
  return ImageHeader{"pnm", dims[0], dims[1]};
}

}  // namespace

std::optional<ImageHeader> read_image_header(std::span<const std::uint8_t> image) {
  for (auto* read : {png_header, jpeg_header, bmp_header, pnm_header}) {
    if (auto h = read(image)) return h;
  }
  return std::nullopt;
}

#ifdef ESTATE_EDGE_WITH_OPENCV
// opencv_qr.cpp: decodes an image whose header `header` was read and checked here.
QrCodes decode_qr_image(std::span<const std::uint8_t> image, const ImageHeader& header);
bool qr_frames_supported() { return true; }
#else
bool qr_frames_supported() { return false; }
#endif

QrCodes read_qr_codes(std::span<const std::uint8_t> image) {
  if (!qr_frames_supported()) {
    return {{}, "this build reads no QR codes from images (ESTATE_EDGE_WITH_OPENCV is off)"};
  }
  if (image.empty()) return {{}, "empty image"};
  // The size comes from the header, before anything is allocated or decoded: a frame
  // declaring 50 megapixels costs a few byte reads, and a format whose header is not read here
  // (TIFF, WebP, EXR ...) is not handed to a decoder at all (grey_frame.hpp).
  const auto header = read_image_header(image);
  if (!header) return {{}, "not an image (JPEG, PNG, BMP or PNM expected)"};
  if (std::uint64_t{header->width} * header->height > max_frame_pixels) {
    return {{}, "frame larger than 4096 x 4096 pixels"};
  }
#ifdef ESTATE_EDGE_WITH_OPENCV
  return decode_qr_image(image, *header);
#else
  return {};
#endif
}

FramePush check_frame_push(std::string_view body,
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
  const auto header = read_image_header(
      std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  if (!header) return refuse(400, "not an image (JPEG, PNG, BMP or PNM expected)");
  const std::uint64_t pixels = std::uint64_t{header->width} * header->height;
  if (pixels > max_frame_pixels) {
    char mp[32];
    std::snprintf(mp, sizeof mp, "%.1f", static_cast<double>(pixels) / 1e6);
    return refuse(413, "frame of " + std::to_string(header->width) + " x " +
                           std::to_string(header->height) + " pixels (" + mp +
                           " MP) exceeds 16.7 MP (4096 x 4096): not decoded");
  }
  FramePush go;
  go.status = 0;
  go.decode = true;
  go.camera = cam->id;
  return go;
}

FramePush decode_frame(const std::string& camera, std::string_view body) {
  auto found =
      read_qr_codes(std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  FramePush out;
  out.camera = camera;
  if (!found.error.empty()) {
    out = reject(400, found.error);
    out.camera = camera;
    return out;
  }
  if (found.codes.size() > 1) {
    out = reject(422, std::to_string(found.codes.size()) +
                          " different QR codes in one frame: one pass at a time, nothing decided");
    out.camera = camera;
    return out;
  }
  out.status = 200;
  out.codes = std::move(found.codes);
  out.body = nlohmann::json{{"ok", true}, {"codes", out.codes.size()}}.dump();
  return out;
}

FramePush handle_frame_push(std::string_view body,
                            const std::map<std::string, std::string>& headers,
                            const std::vector<CameraSecret>& cameras, std::size_t max_body,
                            PushGuard* guard) {
  auto checked = check_frame_push(body, headers, cameras, max_body, guard);
  if (!checked.decode) return checked;
  return decode_frame(checked.camera, body);
}

}  // namespace estate::drivers::camera
