"""Modbus RTU on a serial line, end to end: libmodbus (the gateway's RTU master) on one end of a
socat pty pair, Debian's pymodbus serial server (RTU framer) on the other. On one line: a
healthy slave (unit 1), a slow slave that answers 400 ms late, within the timeout (unit 2), and a
silent slave that never answers (unit 3). `read modbus --serial` and the daemon both read the
healthy and the slow one; the silent one fails with a timeout that names the unit and the line,
and the next poll of the line goes on."""

import json
import os
import time
import unittest

from harness import Daemon, ModbusPeer, query, run_cli, tempdir

SDM630 = {"0": 230.5, "2": 231.25, "4": 229.75, "52": 1500.0, "72": 678.25, "342": 12345.5}


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling the store for a condition, not synchronising on a guess
    raise TimeoutError(f"{what} not reached within {timeout}s")


class ModbusRtuSerialLine(unittest.TestCase):
    def test_read_modbus_serial_healthy_slow_and_silent(self):
        peer = ModbusPeer(SDM630, units=(1,), serial=True, slow={2: 400}, silent=(3,))
        try:
            p = run_cli("read", "modbus", "--serial", peer.path, "--baud", 9600, "--unit", 1,
                        "--model", "eastron-sdm630", "--json", check=0)
            points = json.loads(p.stdout)["points"]
            self.assertEqual(points["voltage_l1"], {"value": 230.5, "unit": "V"})
            self.assertEqual(points["total_active_energy"], {"value": 12345.5, "unit": "kWh"})
            self.assertIn(f"modbus rtu {peer.path} 9600 8N1", p.stderr)
            self.assertIn("3 request(s)", p.stderr)
            # The slow slave answers 400 ms late, inside a 1500 ms timeout: the same values.
            p = run_cli("read", "modbus", "--serial", peer.path, "--unit", 2, "--model",
                        "eastron-sdm630", "--timeout-ms", 1500, "--json", check=0)
            self.assertEqual(json.loads(p.stdout)["points"]["voltage_l2"]["value"], 231.25)
            # ... and outside a 150 ms one: a timeout, not a value.
            p = run_cli("read", "modbus", "--serial", peer.path, "--unit", 2, "--model",
                        "eastron-sdm630", "--timeout-ms", 150, "--json")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(p.stdout, "")
            # The silent slave: exit 1, the error names the unit, the timeout and the line.
            p = run_cli("read", "modbus", "--serial", peer.path, "--unit", 3, "--model",
                        "eastron-sdm630", "--timeout-ms", 300, "--json")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(p.stdout, "")
            self.assertIn(f"unit 3: timeout (no answer within 300 ms on modbus rtu {peer.path}",
                          p.stderr)
            # The line is still good for the next request (late answers were flushed).
            p = run_cli("read", "modbus", "--serial", peer.path, "--unit", 1, "--model",
                        "eastron-sdm630", "--json", check=0)
            self.assertEqual(json.loads(p.stdout)["points"]["voltage_l3"]["value"], 229.75)
        finally:
            peer.stop()

    def test_daemon_polls_a_serial_line_with_slow_and_silent_slaves(self):
        peer = ModbusPeer(SDM630, units=(1,), serial=True, slow={2: 400}, silent=(3,))
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {{id: rs485, kind: serial, protocol: modbus, device: {peer.path}, baud: 9600, timeout_ms: 1000}}
devices:
  - {{id: e-ok, kind: meter, bus: rs485, address: "1", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
  - {{id: e-slow, kind: meter, bus: rs485, address: "2", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
  - {{id: e-silent, kind: meter, bus: rs485, address: "3", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
""")
            p = run_cli("check-config", cfg)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")

            def counts():
                # 230.5 is voltage L1 alone among the values: one row per successful poll.
                return dict(query(db, "SELECT meter, count(*) FROM readings WHERE value = '230.5' "
                                      "GROUP BY meter"))

            def status():
                return {r[0]: r[1:] for r in query(
                    db, "SELECT device, state, timeouts, failures, last_error, polls "
                        "FROM device_status")}
            try:
                # The silent slave's first poll fails with a timeout ...
                st = wait_until(lambda: (lambda s: s if s.get("e-silent", ("", 0, 0))[2] >= 1
                                         else None)(status()), 60, "a failed poll of unit 3")
                failed_at = counts()
                # ... and the healthy and slow slaves are polled again after it.
                wait_until(lambda: (lambda n: n.get("e-ok", 0) >= failed_at.get("e-ok", 0) + 2 and
                                    n.get("e-slow", 0) >= failed_at.get("e-slow", 0) + 2)(counts()),
                           60, "polls after the silent slave's timeout")
                st = status()
            finally:
                rc = daemon.stop()
                peer.stop()
            self.assertEqual(rc, 0)
            state, timeouts, failures, last_error, polls = st["e-silent"]
            self.assertIn(state, ("failing", "offline"))
            self.assertGreaterEqual(timeouts, 1)
            self.assertEqual(last_error, "timeout")
            self.assertEqual(query(db, "SELECT count(*) FROM readings WHERE meter = 'e-silent'")[0][0], 0)
            for dev in ("e-ok", "e-slow"):
                self.assertEqual(st[dev][0:3], ("ok", 0, 0), dev)
            # What the store holds is what pymodbus holds, the slow slave's included.
            values = {r[0] for r in query(db, "SELECT value FROM readings WHERE meter = 'e-slow'")}
            self.assertTrue({"230.5", "231.25", "229.75", "1500", "12345.5"} <= values, values)
            events = query(db, "SELECT source, detail FROM events WHERE kind = 'device_offline'")
            for source, detail in events:
                self.assertEqual(source, "e-silent")
                self.assertIn("timeout", detail)


if __name__ == "__main__":
    unittest.main()
