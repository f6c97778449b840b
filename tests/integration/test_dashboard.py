"""The technician dashboard against the real daemon: a CJ/T 188 water meter answering on a pty
(tests/sim/meter_sim.py), a second configured meter that never answers, a real mosquitto. The
JSON API behind the technician role (no token, a kiosk token, bad parameters), the page and the
Chart.js the daemon serves, and the page in headless Chromium (Debian's `chromium`): the DOM
after its scripts ran shows the devices with their state, last reading and error, the broker,
the backlog, the events and both charts drawn. Screenshots at phone and desktop widths are kept
in the build dir (artifacts/dashboard-phone.png, artifacts/dashboard-desktop.png)."""

import os
import shutil
import subprocess
import time
import unittest

from harness import (BUILD_DIR, Daemon, MeterSim, Mosquitto, camera_push, free_port, gate_yaml,
                     io_bus_yaml, mask_plate, tempdir)
from test_gate import IoModule
from test_payment_kiosk import KIOSK_TOKEN, TECH_TOKEN, Api, sha

CHROMIUM = shutil.which("chromium")
CHART_JS = os.environ.get("ESTATE_EDGE_CHARTJS", "/usr/share/javascript/chart.js/chart.min.js")
GOOD, SILENT = "00000000000041", "00000000000042"
CAMERA_SECRET = "5c672c8cde05e1b249f30a655299be61"  # 128 bits: check-config refuses less
PLATE = "粤B12345"


def chromium(profile, url, size, *mode):
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={size}",
         "--virtual-time-budget=5000", *mode, url],
        capture_output=True, text=True, timeout=120)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)  # polling a condition with a deadline
    raise TimeoutError(f"{what} not reached in {timeout}s")


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.meter = MeterSim("cjt188", [f"{GOOD}:12.50"])
        cls.io = IoModule()
        cls.broker = Mosquitto(d).start()
        cls.http_port = free_port()
        config = os.path.join(d, "site.yaml")
        with open(config, "w") as f:
            f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
mqtt:
  url: {cls.broker.url}
http:
  listen: 127.0.0.1:{cls.http_port}
  tokens:
    - {{ name: kiosk-1, role: kiosk, sha256: {sha(KIOSK_TOKEN)} }}
    - {{ name: tech, role: technician, sha256: {sha(TECH_TOKEN)} }}
buses:
  - {{ id: water-b1, kind: serial, protocol: cjt188, device: {cls.meter.path}, baud: 9600, timeout_ms: 300 }}
devices:
  - {{ id: w-301, kind: meter, bus: water-b1, address: "{GOOD}", medium: water, poll_interval_s: 1 }}
  - {{ id: w-302, kind: meter, bus: water-b1, address: "{SILENT}", medium: water, poll_interval_s: 1 }}
{gate_yaml("gate-in", "entry", 0, "cam-in", CAMERA_SECRET)}{gate_yaml("gate-out", "exit", 1, io_module=False)}""".replace("devices:\n", io_bus_yaml(cls.io.port) + "devices:\n"))
        cls.daemon = Daemon(d, config).start()
        cls.tech = Api(cls.http_port, token=TECH_TOKEN)
        # A car at the entry: the lane's last decision, its plate masked.
        status, _ = camera_push(cls.http_port, PLATE, CAMERA_SECRET)
        assert status == 200, status

        def ready():
            status, body = cls.tech.call("GET", "/api/dashboard")
            if status != 200 or not body["buses"]:
                return None
            devs = {x["device"]: x for x in body["buses"][0]["devices"]}
            good, silent = devs.get("w-301"), devs.get("w-302")
            gates = {g["gate"]: g for g in body["gates"]}
            if good and good["readings"] >= 3 and silent and silent["last_error"] and \
                    gates.get("gate-in", {}).get("last_decision") and \
                    gates.get("gate-out", {}).get("barrier") != "unknown":
                return body
            return None
        cls.overview = wait_until(ready, 60, "readings of w-301 and an error for w-302")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.broker.stop()
        cls.meter.stop()
        cls.io.stop()
        cls.tmp.cleanup()

    def test_api_needs_a_technician_token(self):
        for path in ("/api/dashboard", "/api/dashboard/polls",
                     "/api/dashboard/consumption?meter=w-301&range=day"):
            self.assertEqual(Api(self.http_port, token=None).call("GET", path)[0], 401, path)
            self.assertEqual(Api(self.http_port, token=KIOSK_TOKEN).call("GET", path)[0], 403, path)
            self.assertEqual(self.tech.call("GET", path)[0], 200, path)

    def test_overview_shows_devices_states_readings_and_errors(self):
        o = self.overview
        self.assertEqual(o["gateway"], "test-gw")
        bus = o["buses"][0]
        self.assertEqual((bus["bus"], bus["protocol"]), ("water-b1", "cjt188"))
        devs = {x["device"]: x for x in bus["devices"]}
        self.assertEqual(devs["w-301"]["state"], "ok")
        self.assertEqual(devs["w-301"]["last_reading"]["unit"], "m3")
        self.assertIn(devs["w-302"]["state"], ("failing", "offline"))
        self.assertIsNone(devs["w-302"]["last_reading"])
        self.assertGreater(bus["timeouts"], 0)
        self.assertIn("w-301", o["meters"])
        self.assertEqual([g["gate"] for g in o["gates"]], ["gate-in", "gate-out"])
        # The exit saw no car: its arm was closed at the start (the loop clear) and is known.
        out = o["gates"][1]
        self.assertEqual((out["lane"], out["barrier"], out["loop_occupied"], out["passages"]),
                         ("exit", "closed", False, 0))
        self.assertIsNone(out["last_decision"])
        gate = o["gates"][0]
        self.assertEqual((gate["gate"], gate["lane"], gate["state"]), ("gate-in", "entry", "ok"))
        self.assertEqual(gate["drive"], "relay io-1:0, loop io-1:0")
        self.assertIn(gate["barrier"], ("open", "closed"))   # driven since the start
        self.assertEqual(gate["faults"], 0)
        last = gate["last_decision"]
        self.assertEqual((last["kind"], last["credential"]), ("plate", mask_plate(PLATE)))
        self.assertNotIn(PLATE, str(o))
        self.assertIn(o["broker"]["state"], ("connected", "connecting", "disconnected"))
        self.assertIn("readings", [s["stream"] for s in o["outbox"]["streams"]])

    def test_consumption_and_polls(self):
        status, c = self.tech.call("GET", "/api/dashboard/consumption?meter=w-301&range=day")
        self.assertEqual(status, 200)
        self.assertEqual(len(c["labels"]), 24)
        self.assertEqual(c["bucket_s"], 3600)
        water = [s for s in c["series"] if s["unit"] == "m3"]
        self.assertTrue(water, c)
        # The simulator's counter grows 0.01 m3 per read: the hour's sum is positive.
        self.assertGreater(water[0]["values"][-1], 0)
        status, w = self.tech.call("GET", "/api/dashboard/consumption?meter=w-301&range=week")
        self.assertEqual((status, len(w["labels"]), w["bucket_s"]), (200, 7, 86400))
        status, e = self.tech.call("GET", "/api/dashboard/consumption?meter=w-301&range=year")
        self.assertEqual(status, 400)
        self.assertIn("range", e["message"])
        status, e = self.tech.call("GET", "/api/dashboard/consumption?range=day")
        self.assertEqual(status, 400)
        self.assertIn("meter", e["message"])
        status, p = self.tech.call("GET", "/api/dashboard/polls")
        self.assertEqual(status, 200)
        points = p["buses"][0]["points"]
        self.assertTrue(points)
        self.assertTrue(all(x["device"] == "w-301" and x["interval_ms"] > 0 for x in points))

    def test_page_and_assets_are_served(self):
        anon = Api(self.http_port, token=None)
        status, page = anon.call("GET", "/dashboard/")
        self.assertEqual(status, 200)
        self.assertIn("网关状态", page)
        self.assertEqual(anon.call("GET", "/dashboard/app.js")[0], 200)
        self.assertEqual(anon.call("GET", "/dashboard/style.css")[0], 200)
        self.assertIn(anon.call("GET", "/dashboard/../kiosk/index.html")[0], (400, 404))
        self.assertEqual(anon.call("GET", "/dashboard/.hidden")[0], 404)
        if os.path.exists(CHART_JS):
            status, js = anon.call("GET", "/dashboard/chart.js")
            self.assertEqual(status, 200)
            self.assertIn("Chart", js[:4000])

    @unittest.skipIf(CHROMIUM is None, "chromium is not installed (scripts/bootstrap installs it)")
    @unittest.skipIf(not os.path.exists(CHART_JS), "libjs-chart.js is not installed")
    def test_page_in_a_browser(self):
        url = f"http://127.0.0.1:{self.http_port}/dashboard/?token={TECH_TOKEN}"
        dom = chromium(os.path.join(self.tmp.name, "profile-dom"), url, "412,900", "--dump-dom")
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        html = dom.stdout
        self.assertIn('data-loaded="1"', html)
        self.assertIn('<span id="gateway">test-gw</span>', html)
        self.assertIn('<tr id="device-w-301"><td>w-301</td><td><span class="state ok" data-state="ok">', html)
        self.assertRegex(html, r'<tr id="device-w-302"><td>w-302</td><td><span class="state (failing|offline)"')
        self.assertIn(" m3 (volume)", html)          # the last reading with its unit
        self.assertIn('class="err">', html)   # w-302's last error
        self.assertRegex(html, r'<canvas id="consumption-chart"[^>]*data-drawn="1"')
        self.assertRegex(html, r'<canvas id="polls-chart"[^>]*data-drawn="1"')
        self.assertNotIn("无法读取网关状态", html)
        self.assertRegex(html, r'<tr id="gate-gate-in" title="relay io-1:0, loop io-1:0"><td>gate-in</td>'
                               r'<td>入口</td><td><span><span class="state (open|closed)"')
        self.assertIn(mask_plate(PLATE), html)
        self.assertNotIn(PLATE, html)
        artifacts = os.path.join(BUILD_DIR, "artifacts")
        os.makedirs(artifacts, exist_ok=True)
        for name, size in (("dashboard-phone.png", "412,1400"), ("dashboard-desktop.png", "1280,1200")):
            shot = os.path.join(artifacts, name)
            if os.path.exists(shot):
                os.unlink(shot)
            r = chromium(os.path.join(self.tmp.name, "profile-" + name), url, size,
                         f"--screenshot={shot}")
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            with open(shot, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertNotIn("handler failed", self.daemon.logs())


if __name__ == "__main__":
    unittest.main(verbosity=2)
