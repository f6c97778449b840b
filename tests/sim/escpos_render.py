#!/usr/bin/env python3
"""Renders ESC/POS bytes (as sent to a receipt printer) to a PNG, so a receipt's layout can be
looked at: text decoded from GB18030 and drawn with GNU Unifont's bitmap glyphs
(/usr/share/unifont/unifont.hex, Debian package `unifont`), scaled to font A's 12x24 cell;
alignment, emphasis and GS ! sizes honoured; a QR code (GS ( k) drawn as a placeholder box
with its three finder squares; a cut drawn as a dashed line. Independent of the gateway's
encoder: it parses the bytes itself and returns the text lines it found.

    python3 escpos_render.py receipt.bin out.png [--width 58|80]
"""

import struct
import sys
import zlib

UNIFONT = "/usr/share/unifont/unifont.hex"
_glyphs = None


def glyphs():
    global _glyphs
    if _glyphs is None:
        _glyphs = {}
        with open(UNIFONT) as f:
            for line in f:
                cp, _, bits = line.strip().partition(":")
                _glyphs[int(cp, 16)] = bits
    return _glyphs


def glyph_rows(ch):
    """(width 8|16, rows of ints) of a character's 16-row bitmap."""
    bits = glyphs().get(ord(ch)) or glyphs().get(0xFFFD)
    w = 8 if len(bits) == 32 else 16
    step = w // 4
    return w, [int(bits[i:i + step], 16) for i in range(0, len(bits), step)]


def parse(data):
    """ESC/POS bytes -> list of items: ("text", align, bold, (w, h), str) | ("qr", align, n, text)
    | ("cut",) | ("feed", n)."""
    items = []
    align, bold, size = 0, False, (1, 1)
    line = bytearray()
    qr_data, qr_module = b"", 3

    def flush(force=False):
        nonlocal line
        if line or force:
            items.append(("text", align, bold, size, line.decode("gb18030", "replace")))
        line = bytearray()

    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x0A:
            flush(True)
            i += 1
        elif b == 0x1B and i + 1 < len(data):
            c = data[i + 1]
            if c == 0x40:  # ESC @
                align, bold, size = 0, False, (1, 1)
                i += 2
            elif c == 0x61:  # ESC a n
                align = data[i + 2] % 48 if data[i + 2] >= 48 else data[i + 2]
                i += 3
            elif c == 0x45:  # ESC E n
                bold = bool(data[i + 2] & 1)
                i += 3
            elif c == 0x64:  # ESC d n
                flush()
                items.append(("feed", data[i + 2]))
                i += 3
            else:
                i += 2
        elif b == 0x1C and i + 1 < len(data) and data[i + 1] in (0x26, 0x2E):  # FS & / FS .
            i += 2
        elif b == 0x1D and i + 1 < len(data):
            c = data[i + 1]
            if c == 0x21:  # GS ! n
                n = data[i + 2]
                size = ((n >> 4) + 1, (n & 7) + 1)
                i += 3
            elif c == 0x28 and data[i + 2] == 0x6B:  # GS ( k pL pH cn fn ...
                p = data[i + 3] | data[i + 4] << 8
                fn = data[i + 6]
                args = data[i + 7:i + 5 + p]
                if fn == 67:
                    qr_module = args[0]
                elif fn == 80:
                    qr_data = args[1:]
                elif fn == 81:
                    flush()
                    items.append(("qr", align, qr_module, qr_data.decode("ascii", "replace")))
                i += 5 + p
            elif c == 0x56:  # GS V m [n]
                flush()
                items.append(("cut",))
                i += 4 if data[i + 2] in (65, 66) else 3
            else:
                i += 2
        else:
            line.append(b)
            i += 1
    flush()
    return items


def render(data, width_mm=58):
    dots = 384 if width_mm == 58 else 576
    items = parse(data)
    rows = []  # list of bytearray rows, 0 = black, 255 = white

    def blank(n):
        for _ in range(n):
            rows.append(bytearray([255]) * dots)

    blank(16)
    for item in items:
        if item[0] == "feed":
            blank(24 * item[1])
        elif item[0] == "cut":
            blank(8)
            rows.append(bytearray(([0] * 8 + [255] * 8) * (dots // 16)))
            blank(8)
        elif item[0] == "qr":
            _, align, module, text = item
            side = module * 29
            x0 = {0: 0, 1: (dots - side) // 2, 2: dots - side}[align]
            block = [bytearray([255]) * dots for _ in range(side)]
            for y in range(side):
                for x in range(side):
                    edge = x < 2 or y < 2 or x >= side - 2 or y >= side - 2
                    finder = False
                    for fx, fy in ((0, 0), (side - 7 * module, 0), (0, side - 7 * module)):
                        if fx <= x < fx + 7 * module and fy <= y < fy + 7 * module:
                            dx, dy = (x - fx) // module, (y - fy) // module
                            finder = dx in (0, 6) or dy in (0, 6) or (2 <= dx <= 4 and 2 <= dy <= 4)
                    if edge or finder:
                        block[y][x0 + x] = 0
            rows.extend(block)
        else:
            _, align, bold, (sw, sh), text = item
            cells = []
            for ch in text:
                w, g = glyph_rows(ch)
                cells.append((w, g))
            # Font A: 12x24 dots per half-width column; unifont is 8x16, scaled by 1.5.
            line_w = sum((12 if w == 8 else 24) * sw for w, _ in cells)
            x0 = {0: 0, 1: max(0, (dots - line_w) // 2), 2: max(0, dots - line_w)}.get(align, 0)
            h = 24 * sh
            block = [bytearray([255]) * dots for _ in range(h)]
            x = x0
            for w, g in cells:
                cw = (12 if w == 8 else 24) * sw
                for yy in range(h):
                    src = g[min(15, yy * 16 // h)]
                    for xx in range(cw):
                        sx = xx * w // cw
                        on = src >> (w - 1 - sx) & 1
                        if bold and not on and sx > 0:
                            on = src >> (w - sx) & 1
                        if on and x + xx < dots:
                            block[yy][x + xx] = 0
                x += cw
            rows.extend(block)
    blank(16)
    return png(dots, rows), [it[4] for it in items if it[0] == "text"], items


def png(width, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)

    def chunk(kind, body):
        c = struct.pack(">I", len(body)) + kind + body
        return c + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, len(rows), 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    src, dst = sys.argv[1], sys.argv[2]
    width = 80 if "--width" in sys.argv and sys.argv[sys.argv.index("--width") + 1] == "80" else 58
    image, lines, _ = render(open(src, "rb").read(), width)
    with open(dst, "wb") as f:
        f.write(image)
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
