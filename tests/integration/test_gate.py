"""The gate end to end: the real daemon with an I/O module played by a pymodbus 3.0 Modbus TCP
server (tests/sim/gate_io_sim.py: coil 0 = the barrier relay, discrete input 0 = the presence
loop), a plate camera pushing over the local HTTP listener, and access lists and a manual open
sent down through a real mosquitto.

Covers: the start-up close held while a vehicle is on the loop, a blocklist sent in two chunks
(a chunk re-delivered under its command id answered again, not staged twice; the plate denied as
soon as the last chunk is acknowledged), an id repeated across chunks refusing the version, a
monthly-pass plate (open, then closed once the vehicle cleared the loop), a blocklist swapped for
a newer version in the deprecated {version, entries} shape (the same plate then opens), an old
version refused, a wrong camera secret,
gate-open from the platform, a signed push (HMAC of timestamp and body) that opens once while
its replay and a stale one are refused, and a camera-secret guesser locked out like a token
guesser (429, audited)."""

import hashlib
import hmac
import http.client
import json
import os
import subprocess
import time
import unittest

from harness import (camera_push, Daemon, free_port, gate_yaml, io_bus_yaml, mask_plate, Mosquitto,
                     query, SOURCE_DIR, tempdir, wait_for_line)
from harness import deliberately_invalid as invalid
from test_bridge import GW, PREFIX, MqttClient

SIM = os.path.join(SOURCE_DIR, "tests", "sim", "gate_io_sim.py")
SECRET = "9e1cd24fdd81fe25f1468488fa6a57ca"  # 128 bits: check-config refuses less
BLOCKED = "粤B00001"
MONTHLY = "粤B00002"


class IoModule:
    def __init__(self, *args):
        self.proc = subprocess.Popen(["/usr/bin/python3", SIM] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(wait_for_line(self.proc.stdout, "LISTENING", 15, "gate_io_sim").split()[1])
        self.lines = []

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_for(self, needle, timeout=20):
        line = wait_for_line(self.proc.stdout, needle, timeout, "I/O module")
        self.lines.append(line.strip())
        return line

    def coil(self, address):
        self.send(f"get {address}")
        return int(self.wait_for(f"GET {address} ").split()[2])

    def set_loop(self, value):
        self.send(f"set 0 {value}")
        self.wait_for(f"DI 0 {value}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def signed_push(http_port, plate, secret, timestamp=None, camera="cam-in", body=None, source=None):
    """A push signed as docs/security.md says: X-Estate-Signature = hex HMAC-SHA256(secret,
    timestamp + "\\n" + body). Returns (status, parsed body, the body bytes, headers sent)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    if body is None:
        body = json.dumps({"camera": camera, "plate": plate, "lane": "entry"}).encode()
    sig = hmac.new(secret.encode(), ts.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Estate-Timestamp": ts,
               "X-Estate-Signature": sig}
    return post(http_port, body, headers, source) + (body, headers)


def post(http_port, body, headers, source=None):
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=20,
                                   source_address=(source, 0) if source else None)
    c.request("POST", "/api/cameras/anpr", body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data)


def wait_in_log(daemon, needle, start=0, timeout=20):
    """Waits until the daemon's log, from offset `start`, contains `needle`; returns the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = daemon.logs()
        i = text.find(needle, start)
        if i >= 0:
            return i + len(needle)
        time.sleep(0.05)
    raise TimeoutError(f"'{needle}' not in the daemon log within {timeout}s:\n{daemon.logs()[-3000:]}")


class Gate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        # The barrier was left open and a vehicle stands on the loop when the gateway starts.
        cls.io = IoModule("--coil-on", "0", "--input-on", "0")
        cls.broker = Mosquitto(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-gate", clean=True).connect()
        cls.platform.subscribe(PREFIX + "acks")
        cls.platform.subscribe(PREFIX + "state")
        cls.http_port = free_port()
        path = os.path.join(d, "site.yaml")
        with open(path, "w") as f:
            f.write(f"""site:
  id: test-site
gateway:
  id: {GW}
mqtt:
  url: {cls.broker.url}
http:
  listen: 127.0.0.1:{cls.http_port}
buses:
{io_bus_yaml(cls.io.port)}devices:
{gate_yaml("gate-in", "entry", 0, "cam-in", SECRET)}parking_rules:
  - id: visitor
    free_minutes: 30
    unit_minutes: 60
    unit_price_fen: 500
    daily_cap_fen: 2000
""")
        cls.daemon = Daemon(d, path).start()
        cls.platform.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.io.stop()
        cls.tmp.cleanup()

    def command(self, name, payload):
        ack = self.platform.command(PREFIX, name, payload)
        self.assertIsNotNone(ack, f"no ack for cmd/{name}")
        return ack

    def push(self, plate, secret=SECRET):
        return camera_push(self.http_port, plate, secret)

    def pass_vehicle(self):
        """A vehicle drives over the loop; the barrier closes behind it."""
        mark = len(self.daemon.logs())
        self.io.set_loop(1)
        # The gateway polls the loop: clear it only once the vehicle was seen on it.
        wait_in_log(self.daemon, "gate gate-in: barrier vehicle_arrived", mark)
        self.io.set_loop(0)
        self.io.wait_for("COIL 0 0")

    def test_1_startup_close_held_until_loop_clears(self):
        wait_in_log(self.daemon, "gate gate-in: barrier close_held: loop occupied")
        # Held: the relay was not written; the barrier stays open over the vehicle.
        self.assertEqual(self.io.coil(0), 1)
        self.assertFalse(any(l.startswith("COIL 0 0") for l in self.io.lines))
        self.io.set_loop(0)
        self.io.wait_for("COIL 0 0")
        self.assertEqual(self.io.coil(0), 0)

    def test_2_lists_blocked_monthly_and_swap(self):
        # The blocklist in two chunks of one version; the first chunk delivered twice under its
        # command id is answered again, not staged twice; nothing is blocked before the last.
        chunk0 = {"v": 1, "id": "bl-1a", "version": 1, "chunk": 0, "chunks": 2, "items": [
            {"key": "bl-card", "kind": "card", "value": "04A1B2C3"}]}
        ack = self.command("blocklist", chunk0)
        self.assertEqual((ack["ok"], ack["result"]),
                         (True, {"list": "blocklist", "version": 1, "applied": False,
                                 "staged": 1, "chunks": 2}), ack)
        ack = self.command("blocklist", chunk0)
        self.assertEqual((ack["ok"], ack["result"]["staged"], ack["result"]["duplicate"]),
                         (True, 1, True), ack)
        ack = self.command("blocklist", {"v": 1, "id": "bl-1b", "version": 1, "chunk": 1,
                                         "chunks": 2, "items": [
            {"key": "bl-stolen", "kind": "plate", "value": BLOCKED, "reason": "stolen"}]})
        self.assertEqual((ack["ok"], ack["result"]),
                         (True, {"list": "blocklist", "version": 1, "applied": True, "items": 2,
                                 "chunks": 2}), ack)
        # Acknowledged "applied" only once the gates decide from it: the very next push is denied.
        mark = len(self.daemon.logs())
        self.assertEqual(self.push(BLOCKED)[0], 200)
        wait_in_log(self.daemon, f"gate gate-in entry: plate {mask_plate(BLOCKED)} -> deny", mark)
        self.assertEqual(self.io.coil(0), 0, "a blocked plate must not open the barrier")
        ack = self.command("monthly-passes", {"v": 1, "id": "mp-1", "version": 1, "items": [
            {"key": "mp-402", "kind": "plate", "value": MONTHLY, "unit": "3-1-402",
             "valid_from": "2020-01-01T00:00:00+08:00", "valid_to": "2099-01-01T00:00:00+08:00"}]})
        self.assertEqual((ack["ok"], ack["result"]["applied"], ack["result"]["items"]),
                         (True, True, 1), ack)
        # An id repeated across the chunks of a version refuses it; the blocklist stays.
        ack = self.command("blocklist", {"v": 1, "id": "bl-dup-a", "version": 3, "chunk": 0,
                                         "chunks": 2, "items": [
            {"key": "bl-x", "kind": "qr", "value": "QR-1"}]})
        self.assertTrue(ack["ok"], ack)
        ack = self.command("blocklist", {"v": 1, "id": "bl-dup-b", "version": 3, "chunk": 1,
                                         "chunks": 2, "items": [
            {"key": "bl-x", "kind": "qr", "value": "QR-2"}]})
        self.assertFalse(ack["ok"], ack)
        self.assertIn("key already given by an earlier chunk", ack["error"])

        mark = len(self.daemon.logs())
        self.assertEqual(self.push(BLOCKED)[0], 200)
        wait_in_log(self.daemon, f"gate gate-in entry: plate {mask_plate(BLOCKED)} -> deny", mark)
        self.assertEqual(self.io.coil(0), 0, "a blocked plate must not open the barrier")

        self.assertEqual(self.push(MONTHLY)[0], 200)
        self.io.wait_for("COIL 0 1")
        self.pass_vehicle()

        # An old version is refused and changes nothing.
        ack = self.command("blocklist", {"v": 1, "id": "bl-old", "version": 1, "entries": []})
        self.assertFalse(ack["ok"])
        self.assertIn("not newer", ack["error"])
        mark = len(self.daemon.logs())
        self.push(BLOCKED)
        wait_in_log(self.daemon, f"plate {mask_plate(BLOCKED)} -> deny", mark)
        self.assertEqual(self.io.coil(0), 0)

        # Swapped for a newer list without the plate, in the old shape (deprecated, still
        # taken): it is now an unknown plate, let in as a visitor.
        ack = self.command("blocklist", {"v": 1, "id": "bl-2", "version": 4, "entries": [
            {"kind": "qr", "value": "QR-9", "reason": ""}]})
        self.assertEqual((ack["ok"], ack["result"]),
                         (True, {"list": "blocklist", "version": 4, "applied": True, "items": 1,
                                 "chunks": 1}), ack)
        mark = len(self.daemon.logs())
        self.push(BLOCKED)
        wait_in_log(self.daemon, f"plate {mask_plate(BLOCKED)} -> charge_as_visitor", mark)
        self.io.wait_for("COIL 0 1")
        self.pass_vehicle()

    def test_3_wrong_secret_is_refused(self):
        status, _ = self.push(MONTHLY, secret="wrong")
        self.assertEqual(status, 401)
        self.assertEqual(self.io.coil(0), 0)

    def test_4_bad_list_is_refused(self):
        ack = self.command("blocklist", invalid({"v": 1, "id": "bl-bad", "version": 9,
                                         "entries": [{"kind": "boat", "value": "x"}]}))
        self.assertFalse(ack["ok"])
        ack = self.command("monthly-passes", invalid({"v": 1, "id": "mp-bad", "version": 5,
                                                     "extra": 1}))
        self.assertFalse(ack["ok"])
        self.assertIn("unknown field 'extra'", ack["error"])

    def test_5_gate_open_from_platform(self):
        ack = self.command("gate-open", {"v": 1, "id": "open-1", "gate": "gate-in",
                                         "reason": "guard request"})
        self.assertTrue(ack["ok"], ack)
        # Acknowledged only once the open and who asked for it are durable.
        db = os.path.join(self.tmp.name, "state", "estate-edge.db")
        self.assertEqual(query(db, "SELECT actor, subject FROM audit_log WHERE kind = "
                                   "'gate.manual_open'"), [("platform:open-1", "device:gate-in")])
        self.io.wait_for("COIL 0 1")
        self.pass_vehicle()
        ack = self.command("gate-open", {"v": 1, "id": "open-2", "gate": "nope"})
        self.assertFalse(ack["ok"])
        self.assertEqual(query(db, "SELECT count(*) FROM audit_log WHERE kind = "
                                   "'gate.manual_open'")[0][0], 1)

    def test_6_signed_push_opens_once_replay_and_stale_refused(self):
        status, body, raw, headers = signed_push(self.http_port, MONTHLY, SECRET)
        self.assertEqual((status, body), (200, {"ok": True}))
        self.io.wait_for("COIL 0 1")
        self.pass_vehicle()
        # The same bytes captured and sent again: refused, the barrier stays shut.
        status, body = post(self.http_port, raw, headers)
        self.assertEqual((status, body), (401, {"ok": False, "error":
                                                "replayed push: this signature was already accepted"}))
        # Signed an hour ago, or with another secret: refused.
        status, body, _, _ = signed_push(self.http_port, MONTHLY, SECRET, int(time.time()) - 3600)
        self.assertEqual(status, 401)
        self.assertIn("stale push", body["error"])
        status, body, _, _ = signed_push(self.http_port, MONTHLY, "0" * 32)
        self.assertEqual((status, body["error"]), (401, "unknown camera or wrong secret"))
        self.assertEqual(self.io.coil(0), 0)

    def test_7_camera_secret_guesses_lock_the_address_out(self):
        guesser = "127.0.0.7"
        for i in range(10):
            status, _ = post(self.http_port, b'{"camera":"cam-in","plate":"A1"}',
                             {"X-Camera-Secret": f"guess-{i}"}, guesser)
            self.assertEqual(status, 401)
        # Locked out: even the right secret is refused without being looked at.
        status, body = post(self.http_port, b'{"camera":"cam-in","plate":"A1"}',
                            {"X-Camera-Secret": SECRET}, guesser)
        self.assertEqual((status, body["error"]), (429, "too_many_attempts"))
        # The camera's own address is not affected.
        self.assertEqual(self.push(BLOCKED)[0], 200)
        db = os.path.join(self.tmp.name, "state", "estate-edge.db")
        deadline = time.monotonic() + 20
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = query(db, "SELECT actor, subject FROM audit_log "
                             "WHERE kind = 'security.token_lockout'")
            if not rows:
                time.sleep(0.05)
        self.assertEqual(rows, [(f"remote:{guesser}", "http:/api/cameras/anpr")])
        log = self.daemon.logs()
        self.assertIn(f"http: {guesser}: POST /api/cameras/anpr: credential refused", log)
        self.assertNotIn("guess-", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
