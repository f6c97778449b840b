"""DL/T 645 and CJ/T 188 lines end to end against tests/sim/meter_sim.py on a pty:
`scan dlt645` / `scan cjt188` find every meter on a line (shortened addresses, colliding answers
resolved byte by byte), a site polls the data items it lists (energy import/export, voltage,
current, power) from 2007 and 1997 meters, an unknown item is a check-config error at its
file:line:column, and a relay command is reported as what the meter's status word 3 says, not as
what was asked (a relay that does not move is a failed command)."""

import json
import os
import time
import unittest

from harness import Daemon, MeterSim, query, run_cli, tempdir


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling the store for a condition, not synchronising on a guess
    raise TimeoutError(f"{what} not reached within {timeout}s")


class Dlt645Lines(unittest.TestCase):
    def test_scan_finds_every_meter_on_a_line(self):
        # 000000000101 and 000000001201 share the low byte: their answers collide at A0 = 01
        # too, so the scan fixes A1 as well.
        dlt = MeterSim("dlt645", ["000000000101:1.00", "000000001201:2.00", "000000000007:3.00"])
        cjt = MeterSim("cjt188", ["00000000000011:5.00", "00000000000023:6.00"])
        try:
            p = run_cli("scan", "dlt645", "--serial", dlt.path, "--timeout-ms", 150, "--json",
                        check=0, timeout=300)
            self.assertEqual([m["address"] for m in json.loads(p.stdout)],
                             ["000000000007", "000000000101", "000000001201"])
            self.assertIn("probing aaaaaaaaaaaa", p.stderr)
            self.assertIn("probing aaaaaaaa1201", p.stderr)
            self.assertIn("found 000000001201", p.stderr)
            p = run_cli("scan", "cjt188", "--serial", cjt.path, "--timeout-ms", 150, "--json",
                        check=0, timeout=300)
            self.assertEqual([m["address"] for m in json.loads(p.stdout)],
                             ["00000000000011", "00000000000023"])
            self.assertIn("found 00000000000023", p.stderr)
        finally:
            dlt.stop()
            cjt.stop()

    def test_data_items_relay_read_back_and_1997(self):
        dlt = MeterSim("dlt645", ["000000000001:100.00", "000000000002:200.00:stuck_relay"])
        old = MeterSim("dlt645", ["000000000097:50.00"])
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            bad = os.path.join(d, "bad.yaml")
            head = f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {{id: power, kind: serial, protocol: dlt645, device: {dlt.path}, baud: 9600, timeout_ms: 600}}
  - {{id: old, kind: serial, protocol: dlt645, device: {old.path}, baud: 9600, timeout_ms: 600}}
devices:
"""
            with open(bad, "w") as f:
                f.write(head + '  - {id: m1, kind: meter, bus: power, address: "000000000001", '
                               'medium: electricity, options: {data_items: "00010000,02019900"}}\n')
            p = run_cli("check-config", bad)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn(f"{bad}:9:", p.stderr)
            self.assertIn("devices.m1.options.data_items: item 2 '02019900' is not a data item", p.stderr)
            with open(cfg, "w") as f:
                f.write(head + """\
  - {id: m1, kind: meter, bus: power, address: "000000000001", medium: electricity, poll_interval_s: 1, options: {data_items: "00010000, 00020000, 02010100, 02020100, 02030000", relay_close: direct}}
  - {id: m2, kind: meter, bus: power, address: "000000000002", medium: electricity, poll_interval_s: 1}
  - {id: m97, kind: meter, bus: old, address: "000000000097", medium: electricity, poll_interval_s: 1, options: {version: "1997", data_items: "9010 B611 B621 B630"}}
""")
            p = run_cli("check-config", cfg)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # Relay commands from the technician's CLI: what status word 3 says is reported.
            p = run_cli("relay", "--device", "m1", "--config", cfg, "trip", check=0)
            self.assertIn("m1: relay trip: confirmed by the device (relay disconnected)", p.stdout)
            p = run_cli("relay", "--device", "m1", "--config", cfg, "close", check=0)
            self.assertIn("(relay connected)", p.stdout)
            p = run_cli("relay", "--device", "m2", "--config", cfg, "trip")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("the meter's state does not confirm the command "
                          "(trip commanded; relay still connected)", p.stderr)
            # close permitted (the default): the meter lets the customer close it.
            p = run_cli("relay", "--device", "m2", "--config", cfg, "close", check=0)
            self.assertIn("confirmed by the device (relay connected)", p.stdout)
            p = run_cli("relay", "--device", "m97", "--config", cfg, "trip")
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)

            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")
            try:
                def polled():
                    rows = query(db, "SELECT meter, quantity, value, unit FROM readings")
                    got = {(m, q) for m, q, _, _ in rows}
                    want = {("m1", "active_energy_import"), ("m1", "active_energy_export"),
                            ("m1", "voltage_l1"), ("m1", "current_l1"), ("m1", "active_power"),
                            ("m97", "active_energy_import"), ("m97", "voltage_l1"),
                            ("m97", "current_l1"), ("m97", "active_power"),
                            ("m2", "active_energy_import")}
                    return rows if want <= got else None
                rows = wait_until(polled, 60, "every listed data item polled")
            finally:
                rc = daemon.stop()
                dlt.stop()
                old.stop()
            self.assertEqual(rc, 0)
            values = {(m, q): (v, u) for m, q, v, u in rows}
            # The meters' BCD digits with the standard's decimals, exactly.
            self.assertEqual(values[("m1", "active_energy_export")], ("12.34", "kWh"))
            self.assertEqual(values[("m1", "voltage_l1")], ("220.1", "V"))
            self.assertEqual(values[("m1", "current_l1")], ("5.123", "A"))
            self.assertEqual(values[("m1", "active_power")], ("1.1276", "kW"))
            self.assertEqual(values[("m97", "voltage_l1")], ("220", "V"))
            self.assertEqual(values[("m97", "current_l1")], ("5.12", "A"))
            self.assertEqual(values[("m97", "active_power")], ("1.1276", "kW"))
            first = query(db, "SELECT value FROM readings WHERE meter = 'm97' AND "
                              "quantity = 'active_energy_import' ORDER BY id LIMIT 1")[0][0]
            self.assertEqual(first, "50.00")
            # Only the import total is billed: m1 has one billed register.
            self.assertEqual(query(db, "SELECT count(DISTINCT quantity) FROM readings WHERE "
                                       "meter = 'm2'")[0][0], 1)


if __name__ == "__main__":
    unittest.main()
