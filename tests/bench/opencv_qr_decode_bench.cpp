// Decode time of one 1080p camera frame (JPEG, 1920 x 1080) as the frame queue runs it
// (drivers/camera/qr_frame.hpp read_qr_codes: header check, JPEG decode, QR detection, zbar):
// a frame holding a signed visitor pass, and one without a code (the whole frame searched in
// vain, the slower case). Prints p50/p99 per frame (steady_clock around each decode).
// The frame is encoded with libjpeg-turbo, the library the gateway decodes it with (linked
// through estate_opencv_qr; OpenCV's imgcodecs is no longer built against).
// Run: build-*/tests/bench/opencv_qr_decode_bench (scripts/bench runs it)
#include <benchmark/benchmark.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <cstddef>
#include <cstdio>

#include <jpeglib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "drivers/camera/qr_frame.hpp"

namespace {

using estate::drivers::camera::read_qr_codes;

// A signed pass as long as the platform's (EEP1.<payload>.<Ed25519 signature>, 226 characters).
const std::string pass =
    "EEP1.eyJwYXNzIjoiVi1CRU5DSCIsInNpdGUiOiJ0ZXN0LXNpdGUiLCJmcm9tIjoxNzAwMDAwMDAwLCJ0byI6MTcw"
    "MDAwMzYwMCwidXNlcyI6MSwicm9vbSI6IjUtMi0xMDEifQ.c2lnbmF0dXJlLWJ5dGVzLWFyZS1ub3QtY2hlY2tlZC1o"
    "ZXJlLXNpZ25hdHVyZS1ieXRlcy1hcmUtbm90LWNoZWNrZWQtaGVyZQ";

// A grey image as a baseline JPEG of `quality` (libjpeg's default tables and Huffman codes).
std::vector<std::uint8_t> jpeg(const cv::Mat& grey, int quality) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);  // its default error_exit ends the bench: fine for a setup
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(grey.cols);
  cinfo.image_height = static_cast<JDIMENSION>(grey.rows);
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(grey.ptr(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<std::uint8_t> out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

std::vector<std::uint8_t> frame_1080p(bool with_code) {
  cv::Mat frame(1080, 1920, CV_8UC1);
  cv::randn(frame, 140, 4);  // a lit scene with sensor noise
  cv::rectangle(frame, {200, 100}, {1700, 1000}, cv::Scalar(90), 8);
  if (with_code) {
    cv::Mat code;
    cv::QRCodeEncoder::create()->encode(pass, code);
    cv::Mat big;
    cv::resize(code, big, cv::Size(), 6, 6, cv::INTER_NEAREST);
    // White paper with a quiet zone, on a canvas wide enough to turn it without cutting a corner.
    cv::Mat framed(big.rows * 3 / 2, big.cols * 3 / 2, CV_8UC1, cv::Scalar(140));
    const int pad = big.cols / 4;
    framed(cv::Rect(pad - 24, pad - 24, big.cols + 48, big.rows + 48)).setTo(cv::Scalar(255));
    big.copyTo(framed(cv::Rect(pad, pad, big.cols, big.rows)));
    // Held up at an angle, as a phone to the camera.
    const cv::Point2f c(framed.cols / 2.0f, framed.rows / 2.0f);
    cv::Mat turned;
    cv::warpAffine(framed, turned, cv::getRotationMatrix2D(c, 15, 1.0), framed.size(),
                   cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(140));
    turned.copyTo(frame(cv::Rect(600, 150, turned.cols, turned.rows)));
  }
  return jpeg(frame, 85);
}

void decode(benchmark::State& state, bool with_code) {
  const auto frame = frame_1080p(with_code);
  std::vector<double> ms;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto found = read_qr_codes(frame);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
    if (found.codes.size() != (with_code ? 1u : 0u) || (with_code && found.codes[0] != pass)) {
      state.SkipWithError(("the frame did not decode as expected: " +
                           std::to_string(found.codes.size()) + " codes " + found.error).c_str());
      return;
    }
  }
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  state.counters["frame_kb"] = static_cast<double>(frame.size()) / 1024;
}

void BM_Decode1080pWithPass(benchmark::State& state) { decode(state, true); }
void BM_Decode1080pNoCode(benchmark::State& state) { decode(state, false); }
BENCHMARK(BM_Decode1080pWithPass)->Unit(benchmark::kMillisecond)->Iterations(200);
BENCHMARK(BM_Decode1080pNoCode)->Unit(benchmark::kMillisecond)->Iterations(200);

}  // namespace
