"""A gate whose barrier is a serial (RS-485) barrier controller: the real daemon with two
controllers on one line played on a pty (tests/sim/barrier_controller_sim.py, generic-485
frames), a plate camera pushing over the local HTTP listener, and the monthly-pass list sent
down through a real mosquitto.

Covers: the start-up close held while the controller reports a vehicle on its loop; a known
plate opens its lane's barrier (and only that one); a vehicle that stays on the loop past the
open timeout is not closed on; the close once it has left; a controller reporting a fault raises
the barrier_fault alarm on the `alarms` stream, cleared once the arm was driven again; config
errors of the barrier kind named with file:line:column."""

import json
import os
import subprocess
import time
import unittest

from harness import Daemon, Mosquitto, SOURCE_DIR, camera_push, free_port, run_cli, tempdir, wait_for_line
from test_bridge import GW, PREFIX, MqttClient
from test_gate import wait_in_log

SIM = os.path.join(SOURCE_DIR, "tests", "sim", "barrier_controller_sim.py")
SECRET = "a2aabfa8f455a033225c4a444f7ffec3"  # 128 bits: check-config refuses less
MONTHLY = "粤B00002"


class Controllers:
    def __init__(self, *specs):
        args = []
        for s in specs:
            args += ["--controller", s]
        self.proc = subprocess.Popen(["/usr/bin/python3", SIM] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.path = wait_for_line(self.proc.stdout, "PTY", 15, "barrier controllers").split()[1]
        self.lines = []

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_for(self, needle, timeout=20):
        line = wait_for_line(self.proc.stdout, needle, timeout, "barrier controllers")
        self.lines.append(line.strip())
        return line

    def arm(self, address):
        self.send(f"get {address}")
        return self.wait_for(f"ARM {address} ").split()[2]

    def set_loop(self, address, value):
        self.send(f"loop {address} {value}")
        self.wait_for(f"LOOP {address} {value}")

    def set_fault(self, address, value):
        self.send(f"fault {address} {value}")
        self.wait_for(f"FAULT {address} {value}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()


class SerialBarrierGate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        # Controller 2 (entry): its arm was left up with a vehicle under it at start-up.
        # Controller 3 (exit): closed, loop clear.
        cls.line = Controllers("2:loop:open", "3")
        cls.broker = Mosquitto(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-serial-gate", clean=True).connect()
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
  - {{id: barrier-line, kind: serial, protocol: barrier, device: {cls.line.path}, baud: 9600, timeout_ms: 300}}
devices:
  - id: gate-in
    kind: gate
    lane: entry
    barrier: serial_controller
    bus: barrier-line
    address: "2"
    options: {{loop_poll_ms: 50, open_timeout_s: 1}}
  - {{id: gate-out, kind: gate, lane: exit, barrier: serial_controller, bus: barrier-line, address: "3", model: generic-485}}
  - {{id: cam-in, kind: camera, model: generic-json, gate: gate-in, lane: entry, secret: {SECRET}}}
parking_rules:
  - id: visitor
    free_minutes: 30
    unit_minutes: 60
    unit_price_fen: 500
    daily_cap_fen: 2000
access:
  unknown_plates: deny
""")
        cls.daemon = Daemon(d, path).start()
        cls.platform.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.line.stop()
        cls.tmp.cleanup()

    def test_1_startup_close_held_until_the_loop_clears(self):
        wait_in_log(self.daemon, "gate gate-in: barrier close_held: loop occupied")
        # Held: no close was sent to controller 2; its arm is still up over the vehicle.
        self.assertEqual(self.line.arm(2), "open")
        self.assertFalse(any(l.startswith(("CMD 2 close", "REFUSED 2")) for l in self.line.lines))
        self.line.set_loop(2, 0)
        self.line.wait_for("CMD 2 close")
        self.assertEqual(self.line.arm(2), "closed")
        self.assertIn("gate gate-in: entry lane, controller 2 on bus barrier-line (generic-485",
                      self.daemon.logs())

    def test_2_known_plate_opens_and_the_close_waits_for_the_vehicle(self):
        self.assertEqual(self.line.arm(2), "closed")  # test_1 saw it closed
        ack = self.platform.command(PREFIX, "monthly-passes", {"v": 1, "id": "mp-1", "version": 1, "entries": [
            {"kind": "plate", "value": MONTHLY, "room": "3-1-402",
             "valid_from": "2020-01-01T00:00:00+08:00", "valid_to": "2099-01-01T00:00:00+08:00"}]})
        self.assertTrue(ack and ack["ok"], ack)
        # An unknown plate (unknown_plates: deny) does not open.
        mark = len(self.daemon.logs())
        self.assertEqual(camera_push(self.http_port, "粤B99999", SECRET)[0], 200)
        wait_in_log(self.daemon, "-> deny", mark)
        self.assertEqual(self.line.arm(2), "closed")
        # The monthly-pass plate opens the entry barrier, not the exit one.
        self.assertEqual(camera_push(self.http_port, MONTHLY, SECRET)[0], 200)
        self.line.wait_for("CMD 2 open")
        self.assertEqual(self.line.arm(2), "open")
        self.assertEqual(self.line.arm(3), "closed")
        # The vehicle drives onto the loop and stays there past the 1 s open timeout: the
        # barrier is not closed on it (the controller would refuse, and report, a close).
        mark = len(self.daemon.logs())
        self.line.set_loop(2, 1)
        wait_in_log(self.daemon, "gate gate-in: barrier vehicle_arrived", mark)
        with self.assertRaises(TimeoutError):
            self.line.wait_for("2 close", timeout=2.5)
        self.assertEqual(self.line.arm(2), "open")
        # It leaves: the barrier closes behind it.
        self.line.set_loop(2, 0)
        self.line.wait_for("CMD 2 close")
        wait_in_log(self.daemon, "gate gate-in: barrier vehicle_passed", mark)
        self.assertFalse(any(l.startswith("REFUSED") for l in self.line.lines), self.line.lines)

    def test_3_a_controller_fault_raises_barrier_fault_until_the_arm_is_driven(self):
        watcher = MqttClient(self.broker.port, "platform-alarms", clean=True).connect()
        watcher.subscribe(PREFIX + "alarms")
        alarms = []

        def next_alarm(state, timeout=20):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for a in alarms:
                    if a["alarm"] == "barrier_fault" and a["state"] == state:
                        return a
                msg = watcher.recv(max(0.0, deadline - time.monotonic()))
                if msg is not None:
                    body = json.loads(msg[1])
                    alarms.extend(body if isinstance(body, list) else [body])
            raise TimeoutError(f"no barrier_fault {state}: {alarms}")

        try:
            # The exit controller reports a fault: its loop reading is not trusted.
            self.line.set_fault(3, 1)
            raised = next_alarm("raised")
            self.assertEqual((raised["device"], raised["severity"]), ("gate-out", "major"))
            self.assertIn("loop read", raised["detail"])
            wait_in_log(self.daemon, "gate gate-out: barrier fault: loop read")
            # Raised once per transition, not on every failed poll.
            self.assertEqual(len([a for a in alarms if a["state"] == "raised"]), 1, alarms)
            # The fault goes; a guard opens the exit from the platform: the arm was driven.
            self.line.set_fault(3, 0)
            ack = self.platform.command(PREFIX, "gate-open", {"v": 1, "id": "open-out-1",
                                                              "gate": "gate-out", "reason": "guard"})
            self.assertTrue(ack and ack["ok"], ack)
            self.line.wait_for("CMD 3 open")
            cleared = next_alarm("cleared")
            self.assertEqual((cleared["device"], cleared["severity"]), ("gate-out", "info"))
            self.assertEqual([a["state"] for a in alarms if a["alarm"] == "barrier_fault"],
                             ["raised", "cleared"])
        finally:
            watcher.close()


class SerialBarrierConfig(unittest.TestCase):
    def run_with(self, gate_yaml):
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {{id: barrier-line, kind: serial, protocol: barrier, device: /dev/null}}
  - {{id: meters, kind: serial, protocol: dlt645, device: /dev/null}}
devices:
{gate_yaml}""")
            return cfg, run_cli("run", "--config", cfg, "--state-dir", os.path.join(d, "state"))

    def test_errors_name_the_file_line_and_column(self):
        cfg, p = self.run_with("  - {id: g1, kind: gate, barrier: serial, bus: barrier-line}\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{cfg}:9:35: devices[0].barrier: 'serial' is not one of: io_module, "
                      "serial_controller", p.stderr)
        cfg, p = self.run_with("  - {id: g1, kind: gate, barrier: serial_controller, bus: meters}\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"{cfg}:9:59: devices.g1.bus: 'meters' is not a bus with protocol: barrier",
                      p.stderr)
        cfg, p = self.run_with("  - {id: g1, kind: gate, barrier: serial_controller, bus: barrier-line,"
                               " address: \"300\"}\n")
        self.assertIn(f"{cfg}:9:82: devices.g1.address: a generic-485 controller needs its bus "
                      "address 0..255, got '300'", p.stderr)
        cfg, p = self.run_with("  - {id: g1, kind: gate, barrier: serial_controller, bus: barrier-line,"
                               " address: \"1\", relay: \"x:0\"}\n  - {id: x, kind: io_module, bus: meters}\n")
        self.assertIn("devices.g1.relay: a serial barrier controller drives its arm itself", p.stderr)
        cfg, p = self.run_with("  - {id: g1, kind: gate, barrier: serial_controller, bus: barrier-line,"
                               " address: \"1\", model: acme}\n")
        self.assertIn("devices.g1.model: unknown barrier controller model 'acme' (known: "
                      "generic-485, aa55-sum)", p.stderr)
        cfg, p = self.run_with("  - {id: g1, kind: gate, barrier: serial_controller, bus: barrier-line,"
                               " address: \"1\"}\n  - {id: g2, kind: gate, barrier: serial_controller,"
                               " bus: barrier-line, address: \"1\"}\n")
        self.assertIn(f"{cfg}:10:82: devices.g2.address: address 1 is already used by g1 on bus "
                      "barrier-line", p.stderr)


if __name__ == "__main__":
    unittest.main()
