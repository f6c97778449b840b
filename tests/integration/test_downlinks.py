"""Downlinks reaching the domains, end to end: the real daemon with a real mosquitto, a barrier's
I/O module (tests/sim/gate_io_sim.py, pymodbus), a plate camera pushing over the local HTTP
listener, billing, and a CJ/T 188 water meter simulated on a pty (tests/sim/meter_sim.py).

Covers: a plates list over MQTT opens the gate for a listed plate and not for an unlisted one
(the site admits no visitors: access.unknown_plates: deny); a refused list changes nothing; an
arrears list from the platform turns the listed plate away (access.arrears: 2 -> deny) until a
newer list clears it; cmd/valve closes the simulated meter's valve (checked afterwards on the
meter itself with `estate-edge read`), hostile valve/relay commands get a clear error ack; every
command gets exactly one ack; and after a restart with the broker gone the listed plate still
opens."""

import json
import os
import unittest

from harness import (camera_push, Daemon, free_port, gate_yaml, io_bus_yaml, mask_plate, MeterSim,
                     Mosquitto, run_cli, tempdir)
from test_bridge import GW, PREFIX, MqttClient
from test_gate import IoModule, wait_in_log

import harness

# Hostile commands sent on purpose: not checked against docs/schemas.
for _id in ("plates-2-bad", "valve-type", "valve-action", "valve-extra"):
    harness.deliberately_invalid(_id)
harness.deliberately_invalid(b'{"v":1,"id":"valve-json","meter":')

SECRET = "f557020f8e1249061c7d8ef838c7b55d"  # 128 bits: check-config refuses less
LISTED = "粤B12345"
UNLISTED = "粤B99999"
ROOM = "3-1-402"
WATER = "00000000000011"


class Downlinks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.io = IoModule()
        cls.water = MeterSim("cjt188", [f"{WATER}:12.50"])
        cls.broker = Mosquitto(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-downlinks", clean=True).connect()
        cls.platform.subscribe(PREFIX + "acks")
        cls.platform.subscribe(PREFIX + "state")
        cls.acks = []  # every ack seen, to check that each command got exactly one
        cls.http_port = free_port()
        cls.config = os.path.join(d, "site.yaml")
        with open(cls.config, "w") as f:
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
  arrears:
    1: warn
    2: deny
buses:
{io_bus_yaml(cls.io.port)}  - id: water
    kind: serial
    protocol: cjt188
    device: {cls.water.path}
    baud: 9600
devices:
{gate_yaml("gate-in", "entry", 0, "cam-in", SECRET)}  - id: w1
    kind: meter
    bus: water
    address: "{WATER}"
    medium: water
    poll_interval_s: 5
tariffs:
  - {{ id: water, quantity: water, unit: m3, price: "3.50" }}
accounts:
  - {{ room: "{ROOM}", meters: [{{ meter: w1, tariff: water }}] }}
arrears:
  levels:
    - {{ level: 1, min_days: 1, min_fen: 1, actions: [warn] }}
    - {{ level: 2, min_days: 30, min_fen: 10000, actions: [warn, deny_gate] }}
parking_rules:
  - id: visitor
    free_minutes: 30
    unit_minutes: 60
    unit_price_fen: 500
    daily_cap_fen: 2000
""")
        cls.daemon = Daemon(d, cls.config).start()
        cls.wait_online()

    @classmethod
    def wait_online(cls):
        cls.platform.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.io.stop()
        cls.water.stop()
        cls.tmp.cleanup()

    def command(self, name, payload):
        """Publishes on cmd/<name>; returns the ack with the payload's id (null for raw bytes)."""
        ack = self.platform.command(PREFIX, name, payload, seen=type(self).acks)
        self.assertIsNotNone(ack, f"no ack for cmd/{name}")
        self.assertEqual(ack["v"], 1)
        self.assertEqual(ack["command"], name)
        self.assertEqual("error" in ack, not ack["ok"], ack)
        return ack

    def push(self, plate):
        self.assertEqual(camera_push(self.http_port, plate, SECRET)[0], 200)

    def opens_for(self, plate):
        """The camera reads `plate`: the barrier opens, the vehicle drives through, it closes."""
        self.push(plate)
        self.io.wait_for("COIL 0 1")
        mark = len(self.daemon.logs())
        self.io.set_loop(1)
        wait_in_log(self.daemon, "gate gate-in: barrier vehicle_arrived", mark)
        self.io.set_loop(0)
        self.io.wait_for("COIL 0 0")

    def turned_away(self, plate, reason):
        mark = len(self.daemon.logs())
        self.push(plate)
        wait_in_log(self.daemon, f"gate gate-in entry: plate {mask_plate(plate)} -> deny ({reason}",
                    mark)
        self.assertEqual(self.io.coil(0), 0, f"{plate} must not open the barrier")

    def test_1_plates_list_opens_for_listed_plates_only(self):
        # Start-up: the barrier is closed once the loop reads clear.
        self.io.wait_for("COIL 0 0")
        self.turned_away(LISTED, "unknown plate: visitors not admitted")
        ack = self.command("plates", {"v": 1, "id": "plates-1", "version": 1,
                                      "items": [{"key": LISTED, "unit": ROOM}]})
        self.assertTrue(ack["ok"], ack)
        self.assertEqual(ack["result"], {"list": "plates", "version": 1, "applied": True,
                                         "items": 1, "chunks": 1})
        self.opens_for(LISTED)
        self.turned_away(UNLISTED, "unknown plate: visitors not admitted")

        # A refused list (bad item, older version) leaves the applied one in use.
        ack = self.command("plates", {"v": 1, "id": "plates-2-bad", "version": 2,
                                      "items": [{"key": UNLISTED, "unit": 42}]})
        self.assertFalse(ack["ok"])
        self.assertEqual(ack["error"], "items[0]: unit: expected a string of 1 to 128 bytes")
        ack = self.command("plates", {"v": 1, "id": "plates-0", "version": 1, "items": []})
        self.assertFalse(ack["ok"])
        self.assertIn("not newer than the applied version 1", ack["error"])
        self.turned_away(UNLISTED, "unknown plate")
        self.opens_for(LISTED)

    def test_2_arrears_list_reaches_the_gate_through_billing(self):
        ack = self.command("arrears", {"v": 1, "id": "arrears-1", "version": 1,
                                       "items": [{"key": ROOM, "level": 2}]})
        self.assertTrue(ack["ok"], ack)
        self.assertTrue(ack["result"]["applied"])
        self.turned_away(LISTED, f"arrears level 2 (room {ROOM}): deny")
        ack = self.command("arrears", {"v": 1, "id": "arrears-2-bad", "version": 2,
                                       "items": [{"key": ROOM, "level": 5}]})
        self.assertFalse(ack["ok"])
        self.assertIn("level 5 is not a level of the site's arrears policy", ack["error"])
        self.turned_away(LISTED, "arrears level 2")
        ack = self.command("arrears", {"v": 1, "id": "arrears-3", "version": 3,
                                       "items": [{"key": ROOM, "level": 0}]})
        self.assertTrue(ack["ok"], ack)
        self.opens_for(LISTED)

    def test_3_hostile_valve_and_relay_commands_get_a_clear_error(self):
        cases = [
            ("valve", {"v": 1, "id": "valve-unknown", "meter": "nope", "action": "close"},
             "meter: 'nope' is not a meter on this gateway"),
            ("valve", {"v": 1, "id": "valve-type", "meter": 7, "action": "close"},
             "meter: expected the id of a meter (a string of 1 to 128 bytes)"),
            ("valve", {"v": 1, "id": "valve-action", "meter": "w1", "action": "explode"},
             'action: expected "open" or "close"'),
            ("valve", {"v": 1, "id": "valve-extra", "meter": "w1", "action": "close", "force": 1},
             "unknown field 'force'"),
            ("valve", {"v": 1, "id": "valve-gate", "meter": "gate-in", "action": "close"},
             "meter: 'gate-in' is not a meter on this gateway"),
            ("relay", {"v": 1, "id": "relay-water", "meter": "w1", "action": "trip"},
             "meter w1 (cjt188) has no relay trip"),
        ]
        for name, payload, error in cases:
            ack = self.command(name, payload)
            self.assertFalse(ack["ok"], ack)
            self.assertEqual(ack["error"], error)
        ack = self.command("valve", b'{"v":1,"id":"valve-json","meter":')
        self.assertFalse(ack["ok"])
        self.assertIn("not valid JSON", ack["error"])

    def test_4_valve_close_is_acked_and_the_meter_closes(self):
        ack = self.command("valve", {"v": 1, "id": "valve-close-1", "meter": "w1",
                                     "action": "close"})
        self.assertTrue(ack["ok"], ack)
        self.assertEqual(ack["result"], {"meter": "w1", "action": "close", "confirmed": True})
        # Exactly one ack per command id, also for the refused ones: a ping is answered next.
        self.assertTrue(self.command("ping", {"v": 1, "id": "ping-after-valve"})["ok"])
        ids = [a["id"] for a in self.acks if a["id"] is not None]
        self.assertEqual(len(ids), len(set(ids)), ids)

    def test_5_restart_with_the_broker_gone_keeps_the_lists(self):
        self.assertEqual(self.daemon.stop(), 0)
        self.broker.stop()
        # The simulated meter itself, asked directly now that the daemon let go of the line.
        p = run_cli("read", "cjt188", "--serial", self.water.path, "--address", WATER, "--json",
                    check=0)
        self.assertEqual(json.loads(p.stdout)["valve"], "closed")
        self.daemon.start()
        self.io.wait_for("COIL 0 0")  # start-up close, loop clear
        self.opens_for(LISTED)
        self.turned_away(UNLISTED, "unknown plate")


if __name__ == "__main__":
    unittest.main(verbosity=2)
