// QR codes in an encoded image: grey_frame.cpp decodes the image to grey (libjpeg-turbo, libpng,
// BMP and PNM by hand; not OpenCV's imgcodecs, whose ~139 shared libraries cost the daemon about
// 49 MB of mapped pages), OpenCV's QR detector finds each code's corners; each code is cut out
// upright (perspective removed, a white quiet zone added) and its modules read by zbar. Debian's
// OpenCV is built without a QR *decoder* (quirc), so the symbol decoding is zbar's; zbar also
// reads the whole frame, for a code the detector missed. Built with ESTATE_EDGE_WITH_OPENCV (on
// by default). See qr_frame.hpp.
#include <zbar.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <memory>

#include "drivers/camera/grey_frame.hpp"
#include "drivers/camera/qr_frame.hpp"

namespace estate::drivers::camera {

namespace {

using namespace zbar;  // its C interface, which zbar.h puts in namespace zbar for C++

// The QR symbols zbar reads in an 8-bit grey image, as raw bytes (no charset conversion).
std::vector<std::string> zbar_codes(const cv::Mat& grey) {
  std::unique_ptr<zbar_image_scanner_t, void (*)(zbar_image_scanner_t*)> scanner(
      zbar_image_scanner_create(), zbar_image_scanner_destroy);
  zbar_image_scanner_set_config(scanner.get(), ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config(scanner.get(), ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
  zbar_image_scanner_set_config(scanner.get(), ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
  cv::Mat data = grey.isContinuous() ? grey : grey.clone();
  std::unique_ptr<zbar_image_t, void (*)(zbar_image_t*)> image(zbar_image_create(),
                                                               zbar_image_destroy);
  zbar_image_set_format(image.get(), zbar_fourcc('Y', '8', '0', '0'));
  zbar_image_set_size(image.get(), static_cast<unsigned>(data.cols), static_cast<unsigned>(data.rows));
  zbar_image_set_data(image.get(), data.data, data.total(), nullptr);
  std::vector<std::string> out;
  if (zbar_scan_image(scanner.get(), image.get()) <= 0) return out;
  for (auto* s = zbar_image_first_symbol(image.get()); s; s = zbar_symbol_next(s)) {
    out.emplace_back(zbar_symbol_get_data(s), zbar_symbol_get_data_length(s));
  }
  return out;
}

// The code inside `quad` (four corners from the detector) as an upright square on white.
cv::Mat upright(const cv::Mat& grey, const std::vector<cv::Point2f>& quad) {
  float side = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    side = std::max(side, static_cast<float>(cv::norm(quad[i] - quad[(i + 1) % 4])));
  }
  side = std::clamp(side, 64.0f, 1024.0f);
  const float margin = side / 8;  // a quiet zone, in case the detector cut close
  const std::vector<cv::Point2f> square{{margin, margin},
                                        {margin + side, margin},
                                        {margin + side, margin + side},
                                        {margin, margin + side}};
  cv::Mat out;
  const int size = static_cast<int>(side + 2 * margin);
  cv::warpPerspective(grey, out, cv::getPerspectiveTransform(quad, square), cv::Size(size, size),
                      cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
  return out;
}

}  // namespace

// read_qr_codes (qr_frame.cpp) has read the header and checked the size: only images of a
// format whose header was read, within max_frame_pixels, get here.
QrCodes decode_qr_image(std::span<const std::uint8_t> image, const ImageHeader& header) {
  QrCodes out;
  const GreyFrame frame = decode_grey_frame(image, header);
  if (!frame.error.empty()) {
    out.error = frame.error;
    return out;
  }
  if (frame.width != header.width || frame.height != header.height) {
    out.error = "image decoded to another size than its header declares";
    return out;
  }
  // A view of the decoded rows (no copy); `frame` outlives every use of it below.
  const cv::Mat grey(static_cast<int>(frame.height), static_cast<int>(frame.width), CV_8UC1,
                     const_cast<std::uint8_t*>(frame.pixels.data()));
  auto add = [&](std::string text) {
    if (!text.empty() && std::find(out.codes.begin(), out.codes.end(), text) == out.codes.end()) {
      out.codes.push_back(std::move(text));
    }
  };
  try {
    cv::QRCodeDetector detector;
    // The detector's time grows with the pixels; a code a gate camera must read spans a good
    // part of the frame, so it is found on a copy of at most 960 pixels a side and cut out of
    // the full frame (a 1080p frame: about a quarter of the work).
    const double scale = std::min(1.0, 960.0 / std::max(grey.cols, grey.rows));
    cv::Mat small = grey;
    if (scale < 1.0) cv::resize(grey, small, cv::Size(), scale, scale, cv::INTER_AREA);
    // Each finder, on each view of the frame, until one gives a code: OpenCV 4.6's detectMulti
    // misses a single code at a slant that detect finds, or finds it with a corner misplaced
    // (the second is tried when the first read nothing); the finder patterns of a
    // printed code under uneven light show better in a binarised (Otsu) or smoothed copy. The
    // plain view decides most frames; the others cost only when it read nothing.
    auto decode_quads = [&](std::vector<cv::Point2f> corners) {
      for (auto& p : corners) p *= static_cast<float>(1.0 / scale);
      for (std::size_t i = 0; corners.size() % 4 == 0 && i + 3 < corners.size(); i += 4) {
        std::vector<cv::Point2f> quad(corners.begin() + static_cast<std::ptrdiff_t>(i),
                                      corners.begin() + static_cast<std::ptrdiff_t>(i + 4));
        for (auto& t : zbar_codes(upright(grey, quad))) add(std::move(t));
      }
    };
    // detectMulti first (it finds every code of a frame); detect only when that read nothing.
    auto decode_view = [&](const cv::Mat& view) {
      std::vector<cv::Point2f> corners;
      if (detector.detectMulti(view, corners)) decode_quads(std::move(corners));
      if (!out.codes.empty()) return;
      corners.clear();
      if (detector.detect(view, corners) && corners.size() == 4) decode_quads(std::move(corners));
    };
    decode_view(small);
    if (out.codes.empty()) {
      cv::Mat binary;
      cv::threshold(small, binary, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
      decode_view(binary);
    }
    if (out.codes.empty()) {
      cv::Mat smooth;
      cv::GaussianBlur(small, smooth, cv::Size(3, 3), 0);
      decode_view(smooth);
    }
  } catch (const cv::Exception&) {
    // The detector gave up on this frame; zbar still reads it whole below.
  }
  for (auto& t : zbar_codes(grey)) add(std::move(t));
  return out;
}

}  // namespace estate::drivers::camera
