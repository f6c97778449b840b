#include "drivers/camera/grey_frame.hpp"

// libjpeg's headers need FILE and size_t declared first.
#include <cstddef>
#include <cstdio>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <optional>

namespace estate::drivers::camera {

namespace {

// ITU-R BT.601 luma in 14-bit fixed point (0.299, 0.587, 0.114 of 16384, summing to 16384),
// rounded: the weights OpenCV's imdecode used for a grey read of a colour image.
std::uint8_t luma(unsigned r, unsigned g, unsigned b) {
  return static_cast<std::uint8_t>((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14);
}

std::string row_of(std::uint64_t row, std::uint32_t height) {
  return "row " + std::to_string(row) + " of " + std::to_string(height);
}

const char* const size_mismatch = "image decoded to another size than its header declares";

std::uint32_t le16(const std::uint8_t* p) { return (std::uint32_t{p[1]} << 8) | p[0]; }
std::uint32_t le32(const std::uint8_t* p) { return (le16(p + 2) << 16) | le16(p); }

// ---- JPEG (libjpeg-turbo) -----------------------------------------------------------------
// libjpeg reports a fatal error by calling error_exit, which must not return: ours longjmps
// back to run_jpeg's setjmp. Everything the jump crosses is C or trivially destructible, and
// all state lives in JpegRead (memory, not registers, so it is valid after the jump).

// Progressive files have a few scans per component (about 10 in all); a file of thousands of
// tiny scans makes the decoder loop over the image for each, a cheap way to burn CPU.
constexpr int max_jpeg_scans = 500;

struct JpegRead {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_source_mgr src;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool created;
  bool truncated;
  bool too_many_scans;
  bool wrong_size;
  std::uint8_t* out;
  std::uint32_t width;
  std::uint32_t height;
};

JpegRead& jpeg_state(j_common_ptr cinfo) { return *static_cast<JpegRead*>(cinfo->client_data); }

void jpeg_fail(j_common_ptr cinfo) {
  auto& r = jpeg_state(cinfo);
  (*cinfo->err->format_message)(cinfo, r.message);
  std::longjmp(r.jump, 1);
}
// Warnings (corrupt data the decoder steps over, extraneous bytes) are not printed: the frame
// is decoded as libjpeg recovers it, as OpenCV did.
void jpeg_quiet(j_common_ptr, int) {}

void jpeg_count_scans(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > max_jpeg_scans) {
    jpeg_state(cinfo).too_many_scans = true;
    std::longjmp(jpeg_state(cinfo).jump, 1);
  }
}

// The whole image is the source's one buffer: a call for more data means it ended early.
void jpeg_src_init(j_decompress_ptr) {}
void jpeg_src_term(j_decompress_ptr) {}
void jpeg_src_ended(j_decompress_ptr cinfo) {
  jpeg_state(reinterpret_cast<j_common_ptr>(cinfo)).truncated = true;
  cinfo->err->msg_code = JERR_INPUT_EOF;
  (*cinfo->err->error_exit)(reinterpret_cast<j_common_ptr>(cinfo));
}
boolean jpeg_src_fill(j_decompress_ptr cinfo) {
  jpeg_src_ended(cinfo);
  return FALSE;
}
void jpeg_src_skip(j_decompress_ptr cinfo, long count) {
  if (count <= 0) return;
  if (static_cast<unsigned long>(count) > cinfo->src->bytes_in_buffer) jpeg_src_ended(cinfo);
  cinfo->src->next_input_byte += count;
  cinfo->src->bytes_in_buffer -= static_cast<std::size_t>(count);
}

bool run_jpeg(JpegRead* r, const std::uint8_t* data, std::size_t size) {
  if (setjmp(r->jump)) return false;
  jpeg_create_decompress(&r->cinfo);
  r->created = true;
  r->progress.progress_monitor = jpeg_count_scans;
  r->cinfo.progress = &r->progress;
  r->src.init_source = jpeg_src_init;
  r->src.fill_input_buffer = jpeg_src_fill;
  r->src.skip_input_data = jpeg_src_skip;
  r->src.resync_to_restart = jpeg_resync_to_restart;
  r->src.term_source = jpeg_src_term;
  r->src.next_input_byte = data;
  r->src.bytes_in_buffer = size;
  r->cinfo.src = &r->src;
  jpeg_read_header(&r->cinfo, TRUE);
  if (r->cinfo.image_width != r->width || r->cinfo.image_height != r->height) {
    r->wrong_size = true;
    return false;
  }
  r->cinfo.out_color_space = JCS_GRAYSCALE;  // the luma plane; chroma is not converted
  jpeg_start_decompress(&r->cinfo);
  if (r->cinfo.output_components != 1 || r->cinfo.output_width != r->width) {
    r->wrong_size = true;
    return false;
  }
  while (r->cinfo.output_scanline < r->cinfo.output_height) {
    JSAMPROW row = r->out + std::size_t{r->cinfo.output_scanline} * r->width;
    jpeg_read_scanlines(&r->cinfo, &row, 1);
  }
  // Not jpeg_finish_decompress: every row is read, and what follows the last scan changes no
  // pixel. (Data that ends before the decoder meets the EOI marker is truncated all the same:
  // the entropy decoder reads ahead of the row it is on.)
  return true;
}

std::string decode_jpeg(std::span<const std::uint8_t> image, GreyFrame& frame) {
  JpegRead r{};
  r.cinfo.err = jpeg_std_error(&r.err);
  r.cinfo.client_data = &r;  // kept by jpeg_create_decompress; its own errors need it
  r.err.error_exit = jpeg_fail;
  r.err.emit_message = jpeg_quiet;
  r.out = frame.pixels.data();
  r.width = frame.width;
  r.height = frame.height;
  const bool ok = run_jpeg(&r, image.data(), image.size());
  const auto rows = r.created ? r.cinfo.output_scanline : 0;
  if (r.created) jpeg_destroy_decompress(&r.cinfo);
  if (ok) return {};
  if (r.wrong_size) return size_mismatch;
  if (r.too_many_scans) {
    return "JPEG of more than " + std::to_string(max_jpeg_scans) + " scans: not decoded";
  }
  if (r.truncated) return "truncated JPEG at " + row_of(rows, frame.height);
  return std::string("corrupt JPEG at ") + row_of(rows, frame.height) + ": " + r.message;
}

// ---- PNG (libpng) ---------------------------------------------------------------------------
// As for JPEG: libpng's errors longjmp to run_png's setjmp (png_jmpbuf); state in PngRead.

struct PngRead {
  png_structp png;
  png_infop info;
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  std::uint8_t* out;
  std::uint32_t width;
  std::uint32_t height;
  std::uint32_t row;
  int pass;
  int passes;
  bool truncated;
  bool wrong_size;
  char message[160];
};

void png_fail(png_structp png, png_const_charp message) {
  auto* r = static_cast<PngRead*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof r->message, "%s", message ? message : "error");
  png_longjmp(png, 1);
}
void png_quiet(png_structp, png_const_charp) {}  // warnings: an ancillary chunk's bad CRC ...

void png_read_bytes(png_structp png, png_bytep out, std::size_t count) {
  auto* r = static_cast<PngRead*>(png_get_io_ptr(png));
  if (count > r->size - r->pos) {
    r->truncated = true;
    png_error(png, "truncated");
  }
  std::memcpy(out, r->data + r->pos, count);
  r->pos += count;
}

bool run_png(PngRead* r) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  png_set_read_fn(r->png, r, png_read_bytes);
  png_read_info(r->png, r->info);  // up to the first IDAT; no row buffer allocated yet
  if (png_get_image_width(r->png, r->info) != r->width ||
      png_get_image_height(r->png, r->info) != r->height) {
    r->wrong_size = true;
    return false;
  }
  const int colour = png_get_color_type(r->png, r->info);
  const int depth = png_get_bit_depth(r->png, r->info);
  // To 8-bit grey (ISO/IEC 15948 §10.3 colour types): palette expanded to RGB, grey of 1, 2
  // or 4 bits widened, 16-bit samples cut to their high byte, alpha dropped (not composited:
  // a code is printed opaque), RGB weighted as BT.601 luma. A tRNS chunk is left unexpanded,
  // so transparency adds no alpha channel.
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
  if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
  if (depth == 16) png_set_strip_16(r->png);
  if (colour & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(r->png);
  if (colour & PNG_COLOR_MASK_COLOR) {
    png_set_rgb_to_gray_fixed(r->png, PNG_ERROR_ACTION_NONE, 29900, 58700);
  }
  r->passes = png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  if (png_get_channels(r->png, r->info) != 1 || png_get_bit_depth(r->png, r->info) != 8 ||
      png_get_rowbytes(r->png, r->info) != r->width) {
    png_error(r->png, "not reduced to 8-bit grey");
  }
  // An interlaced (Adam7) image comes in 7 passes over the rows, each filling in more pixels.
  for (r->pass = 0; r->pass < r->passes; ++r->pass) {
    for (r->row = 0; r->row < r->height; ++r->row) {
      png_read_row(r->png, r->out + std::size_t{r->row} * r->width, nullptr);
    }
  }
  // Not png_read_end: the chunks after the image data change no pixel.
  return true;
}

std::string decode_png(std::span<const std::uint8_t> image, GreyFrame& frame) {
  PngRead r{};
  r.data = image.data();
  r.size = image.size();
  r.out = frame.pixels.data();
  r.width = frame.width;
  r.height = frame.height;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, png_fail, png_quiet);
  if (!r.png) return "PNG decoder not created (out of memory)";
  r.info = png_create_info_struct(r.png);
  if (!r.info) {
    png_destroy_read_struct(&r.png, nullptr, nullptr);
    return "PNG decoder not created (out of memory)";
  }
  const bool ok = run_png(&r);
  png_destroy_read_struct(&r.png, &r.info, nullptr);
  if (ok) return {};
  if (r.wrong_size) return size_mismatch;
  std::string where = row_of(r.row, frame.height);
  if (r.passes > 1) {
    where += " (interlace pass " + std::to_string(r.pass + 1) + " of " +
             std::to_string(r.passes) + ")";
  }
  if (r.truncated) return "truncated PNG at " + where;
  return "corrupt PNG at " + where + ": " + r.message;
}

// ---- BMP ----------------------------------------------------------------------------------
// The Windows bitmap: BITMAPFILEHEADER (14 bytes, the pixel data's offset at 10), then
// BITMAPCOREHEADER (12 bytes, OS/2: 16-bit sizes, 3-byte palette entries) or BITMAPINFOHEADER
// and its later versions (40+ bytes: signed 32-bit sizes, a negative height for top-down rows,
// 4-byte BGRx palette entries). Rows are padded to 4 bytes; pixels are palette indices (1, 4,
// 8 bits) or B, G, R bytes (24 bits; 32 bits adds an unused or alpha byte).

const char* bmp_compression_name(std::uint32_t c) {
  switch (c) {
    case 1: return "BI_RLE8";
    case 2: return "BI_RLE4";
    case 3: return "BI_BITFIELDS";
    case 4: return "BI_JPEG";
    case 5: return "BI_PNG";
    case 6: return "BI_ALPHABITFIELDS";
    default: return "unknown";
  }
}

std::string decode_bmp(std::span<const std::uint8_t> b, GreyFrame& frame) {
  if (b.size() < 26 || b[0] != 'B' || b[1] != 'M') return "truncated BMP header";
  const std::uint32_t info = le32(&b[14]);
  std::uint32_t width = 0, height = 0, bits = 0, compression = 0, colours = 0;
  std::size_t palette_at = 14 + std::size_t{info}, entry = 4;
  bool top_down = false;
  if (info == 12) {
    if (b.size() < 26) return "truncated BMP header";
    width = le16(&b[18]);
    height = le16(&b[20]);
    bits = le16(&b[24]);
    entry = 3;
  } else {
    if (b.size() < 54) return "truncated BMP header";
    const auto h = static_cast<std::int32_t>(le32(&b[22]));
    width = le32(&b[18]);
    top_down = h < 0;
    height = static_cast<std::uint32_t>(top_down ? -static_cast<std::int64_t>(h) : h);
    bits = le16(&b[28]);
    compression = le32(&b[30]);
    colours = le32(&b[46]);
  }
  if (width != frame.width || height != frame.height) return size_mismatch;
  if (compression != 0) {
    return "BMP compression " + std::to_string(compression) + " (" +
           bmp_compression_name(compression) +
           ") not read: only uncompressed BMP (BI_RGB) is decoded";
  }
  if (bits != 1 && bits != 4 && bits != 8 && bits != 24 && bits != 32) {
    return "BMP of " + std::to_string(bits) + " bits per pixel not read (1, 4, 8, 24 or 32)";
  }
  // Palette indices to grey; an index past the palette's end reads as black.
  std::uint8_t grey[256] = {};
  if (bits <= 8) {
    const std::uint32_t max_colours = 1u << bits;
    const std::uint32_t n = colours == 0 || colours > max_colours ? max_colours : colours;
    if (palette_at + std::size_t{n} * entry > b.size()) return "truncated BMP in its palette";
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint8_t* e = &b[palette_at + i * entry];
      grey[i] = luma(e[2], e[1], e[0]);
    }
  }
  const std::uint64_t offset = le32(&b[10]);
  const std::uint64_t stride = (std::uint64_t{width} * bits + 31) / 32 * 4;
  const std::uint64_t used = (std::uint64_t{width} * bits + 7) / 8;  // the last row's padding
  for (std::uint32_t r = 0; r < height; ++r) {                       // may be missing
    const std::uint64_t at = offset + r * stride;
    if (at > b.size() || used > b.size() - at) {
      return "truncated BMP at " + row_of(r, height) +
             (top_down ? "" : " (rows stored bottom-up)");
    }
    const std::uint8_t* in = &b[at];
    std::uint8_t* out = &frame.pixels[std::size_t{top_down ? r : height - 1 - r} * width];
    switch (bits) {
      case 24:
      case 32: {
        const std::size_t step = bits / 8;
        for (std::uint32_t x = 0; x < width; ++x, in += step) out[x] = luma(in[2], in[1], in[0]);
        break;
      }
      case 8:
        for (std::uint32_t x = 0; x < width; ++x) out[x] = grey[in[x]];
        break;
      default: {  // 1 or 4 bits, leftmost pixel in the high bits
        const unsigned per_byte = 8 / bits, mask = (1u << bits) - 1;
        for (std::uint32_t x = 0; x < width; ++x) {
          const unsigned shift = (per_byte - 1 - x % per_byte) * bits;
          out[x] = grey[(in[x / per_byte] >> shift) & mask];
        }
      }
    }
  }
  return {};
}

// ---- PNM ----------------------------------------------------------------------------------
// Netpbm (netpbm.sourceforge.net/doc/pbm.html, pgm.html, ppm.html): "P" and a digit, then
// width, height and (not for bitmaps) maxval as decimal text between whitespace and '#'
// comments. Plain formats (P1 bits, P2 grey, P3 RGB) continue as text; raw ones (P4, P5, P6)
// after exactly one whitespace character as bytes: bits packed 8 to a byte and each row
// starting on a byte, or samples of one byte (maxval < 256) or two, most significant first.
// In a bitmap 1 is black.

struct PnmText {
  std::span<const std::uint8_t> b;
  std::size_t i = 0;
  void skip_space() {
    while (i < b.size()) {
      if (b[i] == '#') {
        while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
      } else if (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
        ++i;
      } else {
        return;
      }
    }
  }
  // The next decimal number, up to `max`; nullopt when the text ends, has no digit here or the
  // number is larger.
  std::optional<std::uint32_t> number(std::uint32_t max) {
    skip_space();
    if (i >= b.size() || b[i] < '0' || b[i] > '9') return std::nullopt;
    std::uint64_t v = 0;
    while (i < b.size() && b[i] >= '0' && b[i] <= '9') {
      v = v * 10 + (b[i++] - '0');
      if (v > max) return std::nullopt;
    }
    return static_cast<std::uint32_t>(v);
  }
};

std::string decode_pnm(std::span<const std::uint8_t> b, GreyFrame& frame) {
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '6') return "truncated PNM header";
  const char kind = static_cast<char>(b[1]);
  const bool bitmap = kind == '1' || kind == '4';
  const bool colour = kind == '3' || kind == '6';
  const bool plain = kind <= '3';
  PnmText t{b, 2};
  const auto width = t.number(0xFFFFFFFFu), height = t.number(0xFFFFFFFFu);
  if (!width || !height || *width != frame.width || *height != frame.height) return size_mismatch;
  std::uint32_t maxval = 1;
  if (!bitmap) {
    const auto m = t.number(65535);
    if (!m || *m == 0) return "PNM maxval missing or not in 1-65535";
    maxval = *m;
  }
  auto scale = [maxval](std::uint32_t v) -> unsigned {
    v = std::min(v, maxval);
    return maxval == 255 ? v : (v * 255 + maxval / 2) / maxval;
  };
  auto truncated = [&](std::uint32_t row) { return "truncated PNM at " + row_of(row, frame.height); };
  const std::uint32_t w = frame.width, h = frame.height;
  const unsigned channels = colour ? 3 : 1;
  if (plain) {
    for (std::uint32_t y = 0; y < h; ++y) {
      std::uint8_t* out = &frame.pixels[std::size_t{y} * w];
      for (std::uint32_t x = 0; x < w; ++x) {
        if (bitmap) {  // one character per pixel, whitespace between optional
          t.skip_space();
          if (t.i >= b.size()) return truncated(y);
          const std::uint8_t c = b[t.i++];
          if (c != '0' && c != '1') return "PNM bitmap pixel not 0 or 1 at " + row_of(y, h);
          out[x] = c == '1' ? 0 : 255;
          continue;
        }
        unsigned s[3] = {0, 0, 0};
        for (unsigned c = 0; c < channels; ++c) {
          t.skip_space();
          if (t.i >= b.size()) return truncated(y);
          const auto v = t.number(65535);
          if (!v) return "PNM sample not a number up to 65535 at " + row_of(y, h);
          s[c] = scale(*v);
        }
        out[x] = colour ? luma(s[0], s[1], s[2]) : static_cast<std::uint8_t>(s[0]);
      }
    }
    return {};
  }
  // Raw: exactly one whitespace character after the last header number.
  if (t.i >= b.size()) return truncated(0);
  ++t.i;
  const std::size_t sample_bytes = maxval > 255 ? 2 : 1;
  const std::uint64_t row_bytes = bitmap ? (std::uint64_t{w} + 7) / 8
                                         : std::uint64_t{w} * channels * sample_bytes;
  for (std::uint32_t y = 0; y < h; ++y) {
    const std::uint64_t at = t.i + y * row_bytes;
    if (at > b.size() || row_bytes > b.size() - at) return truncated(y);
    const std::uint8_t* in = &b[at];
    std::uint8_t* out = &frame.pixels[std::size_t{y} * w];
    if (bitmap) {
      for (std::uint32_t x = 0; x < w; ++x) out[x] = (in[x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
      continue;
    }
    auto sample = [&] {
      const std::uint32_t v = sample_bytes == 2 ? (std::uint32_t{in[0]} << 8) | in[1] : in[0];
      in += sample_bytes;
      return scale(v);
    };
    for (std::uint32_t x = 0; x < w; ++x) {
      if (colour) {
        const unsigned r = sample(), g = sample();
        out[x] = luma(r, g, sample());
      } else {
        out[x] = static_cast<std::uint8_t>(sample());
      }
    }
  }
  return {};
}

}  // namespace

GreyFrame decode_grey_frame(std::span<const std::uint8_t> image, const ImageHeader& header) {
  GreyFrame frame;
  const std::uint64_t pixels = std::uint64_t{header.width} * header.height;
  if (pixels == 0) {
    frame.error = "image of no pixels (" + std::to_string(header.width) + " x " +
                  std::to_string(header.height) + ")";
    return frame;
  }
  if (pixels > max_frame_pixels) {
    frame.error = "frame larger than 4096 x 4096 pixels";
    return frame;
  }
  frame.width = header.width;
  frame.height = header.height;
  frame.pixels.resize(static_cast<std::size_t>(pixels));
  if (header.format == "jpeg") {
    frame.error = decode_jpeg(image, frame);
  } else if (header.format == "png") {
    frame.error = decode_png(image, frame);
  } else if (header.format == "bmp") {
    frame.error = decode_bmp(image, frame);
  } else if (header.format == "pnm") {
    frame.error = decode_pnm(image, frame);
  } else {
    frame.error = "not an image (JPEG, PNG, BMP or PNM expected)";
  }
  if (!frame.error.empty()) {
    frame.pixels.clear();
    frame.pixels.shrink_to_fit();
  }
  return frame;
}

}  // namespace estate::drivers::camera
