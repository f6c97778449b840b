#!/usr/bin/python3
"""Writes the frame decoder's fixtures (drivers/camera/grey_frame.hpp) into this folder, with
encoders independent of the gateway's decoder: Pillow (python3-pil) for PNG, JPEG and BMP,
python3-qrcode for the visitor-pass code, and zlib by hand for the interlaced PNG (Pillow does
not write Adam7). Run once; the files are committed and the tests read them
(tests/unit/drivers/camera/opencv_grey_frame_test.cpp, opencv_qr_test.cpp). README.md lists
each file and the grey values the tests expect of it."""

import os
import struct
import zlib

import qrcode
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def ramp(w, h):
    """The grey test pattern: value (37 x + 11 y) mod 256 at column x, row y."""
    return [[(37 * x + 11 * y) % 256 for x in range(w)] for y in range(h)]


def grey_image(rows):
    img = Image.new("L", (len(rows[0]), len(rows)))
    img.putdata([v for row in rows for v in row])
    return img


# Colours of the colour fixtures, one per column (left to right), every row alike.
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (200, 120, 40)]


def colour_image(mode="RGB", alpha=None):
    img = Image.new(mode, (len(COLOURS), 4))
    px = []
    for _ in range(4):
        for i, c in enumerate(COLOURS):
            px.append(c + ((alpha or [0] * 6)[i],) if mode == "RGBA" else c)
    img.putdata(px)
    return img


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def adam7_png(rows):
    """An 8-bit grey PNG, interlaced (ISO/IEC 15948 §8.2 Adam7), filter type 0 on every row."""
    h, w = len(rows), len(rows[0])
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        if not xs:
            continue
        for y in range(y0, h, dy):
            raw += b"\x00" + bytes(rows[y][x] for x in xs)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def blocks(mode, left, right):
    """32 x 16: the left 16 columns one flat colour, the right 16 another (whole JPEG MCUs)."""
    img = Image.new(mode, (32, 16), left)
    img.paste(Image.new(mode, (16, 16), right), (16, 0))
    return img


PASS = ("EEP1.eyJwYXNzIjoiVi03Iiwic2l0ZSI6InRlc3Qtc2l0ZSIsImZyb20iOjAsInRvIjoxfQ."
        "c2lnbmF0dXJlLWJ5dGVzLWFyZS1ub3QtY2hlY2tlZC1oZXJl")


def main():
    g = ramp(7, 5)
    grey_image(g).save(path("grey_ramp.png"))
    # 16-bit grey: the high byte is the ramp, the low byte 0x7F (cut off by the decoder).
    img16 = Image.new("I;16", (7, 5))
    img16.putdata([v * 256 + 0x7F for row in g for v in row])
    img16.save(path("grey_ramp_16bit.png"))
    with open(path("grey_ramp_interlaced.png"), "wb") as f:
        f.write(adam7_png(ramp(9, 9)))
    colour_image().save(path("colours_rgb.png"))
    colour_image("RGBA", [255, 0, 128, 7, 255, 60]).save(path("colours_rgba.png"))
    colour_image().quantize(colors=8, method=Image.Quantize.MAXCOVERAGE).save(path("colours_palette.png"))
    grey_image(g).convert("1", dither=Image.Dither.NONE).save(path("bits_1.png"))
    colour_image().convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(path("colours_palette8.bmp"))
    colour_image().save(path("colours_rgb24.bmp"))
    colour_image("RGBA", [255, 0, 128, 7, 255, 60]).save(path("colours_rgba32.bmp"))
    blocks("L", 40, 200).save(path("blocks_grey.jpg"), quality=95)
    blocks("RGB", (255, 0, 0), (0, 0, 255)).save(path("blocks_colour.jpg"), quality=95)
    blocks("RGB", (255, 0, 0), (0, 0, 255)).save(path("blocks_progressive.jpg"), quality=95,
                                                 progressive=True)
    q = qrcode.QRCode(border=4, box_size=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    q.add_data(PASS)
    q.make(fit=True)
    code = q.make_image(fill_color="black", back_color="white").get_image().convert("L")
    code.save(path("qr_pass.png"))
    code.save(path("qr_pass.jpg"), quality=90)


if __name__ == "__main__":
    main()
