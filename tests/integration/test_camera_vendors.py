"""Plate cameras of real vendors, end to end: the real daemon with an entry gate on an I/O module
(pymodbus, tests/sim/gate_io_sim.py), residents only (access.unknown_plates: deny), a
Vzenith-style camera (model vzenith: the JSON "plate result" push, answered with the open
instruction) and a Hikvision ANPR camera (model hikvision-isapi: EventNotificationAlert XML in
a multipart body with its pictures), both given only a URL with ?camera=&secret=, as such
cameras are. Frames are the layouts of drivers/camera/testdata with the plate swapped.

A third camera speaks a JSON of no model in the table (model json-fields): the site describes it
by the JSON pointers of its fields in the camera's options (the layout of
drivers/camera/testdata/json_fields_nested.json), and its push of a listed plate opens too.

Each vendor's push of a listed plate opens the barrier and answers as the camera expects; an
unlisted plate is refused and the barrier stays shut; a wrong secret is refused before the body
is read. The access event (MQTT, checked against docs/schemas by the harness, and the
access_events row) carries the camera, plate colour, confidence, channel and the snapshot's
file, whose bytes are the picture the push carried; the database holds only the reference."""

import base64
import http.client
import json
import os
import unittest
import urllib.parse

from harness import (Daemon, free_port, io_bus_yaml, mask_plate, Mosquitto, query, SOURCE_DIR,
                     tempdir)
from test_bridge import GW, PREFIX, MqttClient
from test_gate import IoModule, wait_in_log

TESTDATA = os.path.join(SOURCE_DIR, "drivers", "camera", "testdata")
VZ_SECRET = "6f0d2b8c9a4e17f35d2c8b0a9e6f4d13"
HIK_SECRET = "b7e2c94d0f8a3165e9d2c7b4a0f61e58"
SITE_SECRET = "3c9e1f7a5b2d8064e1a7c3f9b5d20e86"
MONTHLY = "粤B00002"
STRANGER = "粤B99999"
BOUNDARY = "MIME_boundary_estate"


def testdata(name, mode="rb"):
    with open(os.path.join(TESTDATA, name), mode) as f:
        return f.read()


def vzenith_body(plate):
    frame = json.loads(testdata("vzenith_plate_result.json", "r"))
    frame["AlarmInfoPlate"]["result"]["PlateResult"]["license"] = plate
    return json.dumps(frame, ensure_ascii=False).encode()


def json_fields_body(plate):
    doc = json.loads(testdata("json_fields_nested.json", "r"))
    doc["data"]["vehicle"]["plate"]["number"] = plate
    doc["device"]["lane"] = "entry"
    return json.dumps(doc, ensure_ascii=False).encode()


def hikvision_body(plate):
    xml = testdata("hikvision_anpr.xml", "r").replace("粤B12345", plate).encode()

    def part(name, ctype, data):
        return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}\"\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode() + data + b"\r\n"
    return (part("anpr.xml", "text/xml", xml) +
            part("licensePlatePicture.jpg", "image/jpeg", testdata("plate.jpg")) +
            part("detectionPicture.jpg", "image/jpeg", testdata("scene.jpg")) +
            f"--{BOUNDARY}--\r\n".encode())


class CameraVendors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.io = IoModule()
        cls.broker = Mosquitto(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-cameras", clean=True).connect()
        cls.platform.subscribe(PREFIX + "acks")
        cls.platform.subscribe(PREFIX + "state")
        cls.platform.subscribe(PREFIX + "events")
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
access:
  unknown_plates: deny
buses:
{io_bus_yaml(cls.io.port)}devices:
  - {{id: io-1, kind: io_module, bus: io-bus, address: "1"}}
  - id: gate-in
    kind: gate
    lane: entry
    relay: io-1:0
    loop_input: io-1:0
    options: {{loop_poll_ms: 50, open_timeout_s: 600}}
  - {{id: cam-vz, kind: camera, model: vzenith, gate: gate-in, secret: {VZ_SECRET}}}
  - {{id: cam-hik, kind: camera, model: hikvision-isapi, gate: gate-in, secret: {HIK_SECRET}}}
  - id: cam-site
    kind: camera
    model: json-fields
    gate: gate-in
    secret: {SITE_SECRET}
    options:
      plate: /data/vehicle/plate/number
      colour: /data/vehicle/plate/color
      confidence: /data/vehicle/plate/score
      lane: /device/lane
      snapshot: /data/pictures/0/base64
""")
        cls.daemon = Daemon(d, path).start()
        cls.platform.wait_online(PREFIX)
        ack = cls.platform.command(PREFIX, "monthly-passes", {
            "v": 1, "id": "mp-1", "version": 1, "entries": [
                {"kind": "plate", "value": MONTHLY, "room": "3-1-402",
                 "valid_from": "2020-01-01T00:00:00+08:00",
                 "valid_to": "2099-01-01T00:00:00+08:00"}]})
        assert ack and ack["ok"], ack
        cls.state = os.path.join(d, "state")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.io.stop()
        cls.tmp.cleanup()

    def post(self, camera, secret, body, content_type):
        q = urllib.parse.urlencode({"camera": camera, "secret": secret})
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=20)
        c.request("POST", "/api/cameras/anpr?" + q, body=body,
                  headers={"Content-Type": content_type})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data)

    def access_event(self, plate):
        """The next gate.access event for `plate` published to the platform."""
        while True:
            msg = self.platform.recv(timeout=20)
            self.assertIsNotNone(msg, f"no gate.access event for {plate}")
            topic, payload = msg
            if not topic.endswith("/events"):
                continue
            doc = json.loads(payload)
            for ev in doc if isinstance(doc, list) else [doc]:  # a batch is an array
                if ev.get("kind") == "gate.access" and ev.get("credential") == mask_plate(plate):
                    return ev

    def pass_vehicle(self):
        mark = len(self.daemon.logs())
        self.io.set_loop(1)
        wait_in_log(self.daemon, "gate gate-in: barrier vehicle_arrived", mark)
        self.io.set_loop(0)
        self.io.wait_for("COIL 0 0")

    def check_snapshot(self, ev, camera, picture):
        snap = ev["camera"]["snapshot"]
        self.assertRegex(snap, r"^snapshots/\d{8}/" + camera + r"-\d+-\d+\.jpg$")
        with open(os.path.join(self.state, snap), "rb") as f:
            self.assertEqual(f.read(), picture, "the snapshot file holds the pushed picture")
        # The database keeps the reference only, with the camera's fields.
        db = os.path.join(self.state, "estate-edge.db")
        rows = query(db, "SELECT camera, snapshot FROM access_events WHERE snapshot = ?", (snap,))
        self.assertEqual(rows, [(camera, snap)])
        return snap

    def test_1_vzenith_listed_plate_opens_and_is_answered_ok(self):
        status, body = self.post("cam-vz", VZ_SECRET, vzenith_body(MONTHLY), "application/json")
        self.assertEqual((status, body), (200, {"Response_AlarmInfoPlate": {"info": "ok"}}))
        self.io.wait_for("COIL 0 1")
        ev = self.access_event(MONTHLY)
        self.assertEqual(ev["verdict"], "open")
        self.assertEqual(ev["camera"]["device"], "cam-vz")
        self.assertEqual(ev["camera"]["model"], "vzenith")
        self.assertEqual(ev["camera"]["colour"], "blue")
        self.assertEqual(ev["camera"]["confidence"], 93)
        self.assertEqual(ev["camera"]["channel"], 0)
        self.check_snapshot(ev, "cam-vz", testdata("scene.jpg"))
        self.pass_vehicle()

    def test_2_vzenith_unlisted_plate_refused(self):
        status, body = self.post("cam-vz", VZ_SECRET, vzenith_body(STRANGER), "application/json")
        self.assertEqual((status, body), (200, {"Response_AlarmInfoPlate": {"info": "no"}}))
        ev = self.access_event(STRANGER)
        self.assertEqual(ev["verdict"], "deny")
        self.check_snapshot(ev, "cam-vz", testdata("scene.jpg"))
        self.assertEqual(self.io.coil(0), 0, "an unlisted plate must not open the barrier")

    def test_3_hikvision_listed_plate_opens(self):
        ctype = f"multipart/form-data; boundary={BOUNDARY}"
        status, body = self.post("cam-hik", HIK_SECRET, hikvision_body(MONTHLY), ctype)
        self.assertEqual((status, body), (200, {"ok": True, "open": True}))
        self.io.wait_for("COIL 0 1")
        ev = self.access_event(MONTHLY)
        self.assertEqual(ev["verdict"], "open")
        self.assertEqual(ev["camera"], {"device": "cam-hik", "model": "hikvision-isapi",
                                        "colour": "blue", "confidence": 96, "channel": 1,
                                        "snapshot": ev["camera"]["snapshot"]})
        self.check_snapshot(ev, "cam-hik", testdata("scene.jpg"))
        self.pass_vehicle()

    def test_4_hikvision_unlisted_plate_refused(self):
        ctype = f"multipart/form-data; boundary={BOUNDARY}"
        status, body = self.post("cam-hik", HIK_SECRET, hikvision_body(STRANGER), ctype)
        self.assertEqual((status, body), (200, {"ok": True, "open": False}))
        ev = self.access_event(STRANGER)
        self.assertEqual(ev["verdict"], "deny")
        self.assertEqual(self.io.coil(0), 0)

    def test_5_wrong_secret_or_other_camera_secret_refused(self):
        mark = len(self.daemon.logs())
        status, body = self.post("cam-vz", HIK_SECRET, vzenith_body(MONTHLY), "application/json")
        self.assertEqual((status, body), (401, {"ok": False,
                                                "error": "unknown camera or wrong secret"}))
        status, _ = self.post("cam-hik", "0" * 32, hikvision_body(MONTHLY),
                              f"multipart/form-data; boundary={BOUNDARY}")
        self.assertEqual(status, 401)
        self.assertEqual(self.io.coil(0), 0)
        self.assertNotIn(f"plate {mask_plate(MONTHLY)} ->", self.daemon.logs()[mark:])

    def test_6_heartbeat_and_malformed_pushes(self):
        status, body = self.post("cam-hik", HIK_SECRET, testdata("hikvision_videoloss_heartbeat.xml"),
                                 "application/xml")
        self.assertEqual((status, body), (200, {"ok": True, "open": False}))
        status, body = self.post("cam-vz", VZ_SECRET, testdata("bad_vzenith_confidence.json"),
                                 "application/json")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"], "AlarmInfoPlate.result.PlateResult.confidence: "
                                        "expected a whole number 0..100")
        self.assertEqual(self.io.coil(0), 0)

    def test_7_json_fields_camera_listed_plate_opens(self):
        status, body = self.post("cam-site", SITE_SECRET, json_fields_body(MONTHLY),
                                 "application/json")
        self.assertEqual((status, body), (200, {"ok": True}))
        self.io.wait_for("COIL 0 1")
        ev = self.access_event(MONTHLY)
        self.assertEqual(ev["verdict"], "open")
        self.assertEqual(ev["camera"]["device"], "cam-site")
        self.assertEqual(ev["camera"]["model"], "json-fields")
        self.assertEqual(ev["camera"]["colour"], "yellow")
        self.assertEqual(ev["camera"]["confidence"], 88)
        self.check_snapshot(ev, "cam-site", testdata("scene.jpg"))
        self.pass_vehicle()

    def test_8_json_fields_camera_unlisted_plate_refused(self):
        status, body = self.post("cam-site", SITE_SECRET, json_fields_body(STRANGER),
                                 "application/json")
        self.assertEqual((status, body), (200, {"ok": True}))
        ev = self.access_event(STRANGER)
        self.assertEqual(ev["verdict"], "deny")
        self.assertEqual(self.io.coil(0), 0)


if __name__ == "__main__":
    unittest.main()
