"""QR visitor passes in a camera frame, end to end: the real daemon with a pedestrian gate (I/O
module played by pymodbus, tests/sim/gate_io_sim.py) and a camera that POSTs frames to
/api/cameras/frame. The frames are PBM images of QR codes made here with python3-qrcode, an
encoder independent of the gateway's OpenCV detector, and the passes are signed here with the
platform's Ed25519 key (python3-cryptography).

With OpenCV in the build (-DESTATE_EDGE_WITH_OPENCV=ON): a frame with a valid signed pass opens
the gate; a frame with an expired pass and one with no code leave it shut; a wrong secret is
refused. Without OpenCV: the frame is answered 501 and the gate stays shut."""

import http.client
import json
import os
import re
import time
import unittest

import qrcode

from harness import BUILD_DIR, Daemon, free_port, gate_yaml, io_bus_yaml, tempdir
from test_gate import IoModule, wait_in_log
from test_gate_cards_pay import PLATFORM_PUB, signed_pass

SECRET = "244a9c10c6497014b60f80d62170b19d"  # 128 bits: check-config refuses less


def with_opencv():
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
        return re.search(r"^ESTATE_EDGE_WITH_OPENCV:BOOL=ON$", f.read(), re.M) is not None


def qr_frame(text, scale=3, canvas=(360, 260)):
    """A black-and-white frame (binary PBM, P4) of `canvas` pixels with the QR code of `text`
    (quiet zone included) pasted off-centre, `scale` pixels per module, and a few stray dark
    marks around it; text=None gives a frame without a code."""
    w, h = canvas
    dark = [[False] * w for _ in range(h)]
    for i in range(0, w, 7):  # stray marks along the top and bottom edges
        dark[2][i] = dark[h - 3][i] = True
    if text is not None:
        q = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
        q.add_data(text)
        q.make(fit=True)
        m = q.get_matrix()
        size = len(m) * scale
        assert size + 20 <= min(w, h), f"code of {size} px larger than the frame"
        x0, y0 = 30, 10
        for r, row in enumerate(m):
            for c, on in enumerate(row):
                for dy in range(scale):
                    line = dark[y0 + r * scale + dy]
                    for dx in range(scale):
                        line[x0 + c * scale + dx] = on
    rows = []
    for line in dark:
        bits = bytearray((w + 7) // 8)
        for x, on in enumerate(line):
            if on:
                bits[x // 8] |= 0x80 >> (x % 8)
        rows.append(bytes(bits))
    return f"P4\n{w} {h}\n".encode() + b"".join(rows)


class CameraQr(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.io = IoModule()
        cls.http_port = free_port()
        path = os.path.join(d, "site.yaml")
        with open(path, "w") as f:
            f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
http:
  listen: 127.0.0.1:{cls.http_port}
buses:
{io_bus_yaml(cls.io.port)}devices:
{gate_yaml("gate-walk", "entry", 0, "cam-walk", SECRET)}access:
  qr_pass_public_key: "{PLATFORM_PUB}"
""")
        cls.daemon = Daemon(d, path).start()
        cls.io.wait_for("COIL 0 0")

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        cls.io.stop()
        cls.tmp.cleanup()
        assert rc == 0, f"daemon exit {rc}"

    def frame(self, image, secret=SECRET, camera="cam-walk"):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=20)
        c.request("POST", "/api/cameras/frame", body=image,
                  headers={"Content-Type": "image/x-portable-bitmap", "X-Camera-Id": camera,
                           "X-Camera-Secret": secret})
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return r.status, body

    def test_frames(self):
        now = int(time.time())
        good = signed_pass("V-QR-1", now - 60, now + 3600)
        expired = signed_pass("V-QR-2", now - 7200, now - 3600)
        image = qr_frame(good)
        self.assertLess(len(image), 64 * 1024)  # within the listener's body limit

        status, body = self.frame(image, secret="wrong")
        self.assertEqual((status, body), (401, {"ok": False, "error": "unknown camera or wrong secret"}))

        if not with_opencv():
            status, body = self.frame(image)
            self.assertEqual(status, 501, body)
            self.assertIn("ESTATE_EDGE_WITH_OPENCV", body["error"])
            self.assertEqual(self.io.coil(0), 0)
            return

        status, body = self.frame(qr_frame(None))
        self.assertEqual((status, body), (200, {"ok": True, "codes": 0}))
        mark = len(self.daemon.logs())
        status, body = self.frame(b"GIF89a not really")
        self.assertEqual(status, 400, body)
        wait_in_log(self.daemon, "gate: frame from camera cam-walk refused: not an image", mark)

        mark = len(self.daemon.logs())
        status, body = self.frame(qr_frame(expired))
        self.assertEqual((status, body), (200, {"ok": True, "codes": 1}))
        end = wait_in_log(self.daemon, "gate gate-walk entry: qr ", mark)
        self.assertIn("-> deny (signed pass V-QR-2 expired", self.daemon.logs()[end:])
        self.assertEqual(self.io.coil(0), 0)

        mark = len(self.daemon.logs())
        status, body = self.frame(image)
        self.assertEqual((status, body), (200, {"ok": True, "codes": 1}))
        self.io.wait_for("COIL 0 1")
        self.assertNotIn(good, self.daemon.logs()[mark:])  # codes are logged masked


if __name__ == "__main__":
    unittest.main(verbosity=2)
