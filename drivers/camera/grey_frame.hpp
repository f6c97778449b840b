// A camera frame decoded to 8-bit grey, the picture the QR reader searches (opencv_qr.cpp):
// JPEG through libjpeg-turbo (asked for grey output: the luma plane of JFIF's YCbCr, ITU-T
// T.871), PNG through libpng (palette expanded, 16-bit samples cut to 8, alpha dropped), BMP and
// PNM decoded here. Colour is weighted as ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B,
// as OpenCV's imdecode(IMREAD_GRAYSCALE) did before (PNG, BMP, PNM).
// Built only into the OpenCV target (estate_opencv_qr, ESTATE_EDGE_WITH_OPENCV); it replaces
// OpenCV's imgcodecs, whose libraries (GDAL, GDCM, ...) cost the daemon ~49 MB of mapped pages.
// Thread-safe (no shared state); never reads outside `image`, never exits the process.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "drivers/camera/qr_frame.hpp"

namespace estate::drivers::camera {

struct GreyFrame {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> pixels;  // height rows of width bytes, top row first
  std::string error;                 // set (and pixels empty) when the image does not decode
};

// Decodes `image`, whose header read_image_header read as `header`. Nothing larger than the
// header's width x height (at most max_frame_pixels) is allocated for pixels; an image whose
// decoder finds another size than the header declares is an error ("image decoded to another
// size than its header declares"), as are data cut short ("truncated PNG at row 12 of 40"),
// a corrupt stream (the library's message) and a variant not read here (a compressed BMP,
// 16-bit BMP, a CMYK JPEG), each named in `error`.
GreyFrame decode_grey_frame(std::span<const std::uint8_t> image, const ImageHeader& header);

}  // namespace estate::drivers::camera
