"""M-Bus multi-telegram reads end to end against tests/sim/meter_sim.py on a pty: meters whose
data spans two telegrams (DIF 1F, "more records follow"), read by primary address and by
secondary address (select with CI 52 to FDh, then REQ_UD2 to FDh), from a simulator that
enforces the FCB rule (a request whose FCB does not toggle gets the same telegram again), so a
master that does not toggle never sees the second telegram."""

import json
import os
import time
import unittest

from harness import Contract, Daemon, MeterSim, query, run_cli, tempdir


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling the store for a condition, not synchronising on a guess
    raise TimeoutError(f"{what} not reached within {timeout}s")


class MbusMultiTelegram(unittest.TestCase):
    def test_cli_reads_every_telegram_with_storage_tariff_and_time(self):
        sim = MeterSim("mbus", ["7:10.00:multi"])
        try:
            p = run_cli("read", "mbus", "--serial", sim.path, "--address", 7, "--json", check=0)
            telegrams = json.loads(p.stdout)
            self.assertEqual(len(telegrams), 2, p.stdout)  # the second one needed FCB toggled
            records = [r for t in telegrams for r in t["records"]]
            kinds = {(r["quantity"], r.get("storage", 0), r.get("tariff", 0)) for r in records}
            self.assertIn(("energy", 0, 0), kinds)
            self.assertIn(("volume", 0, 0), kinds)
            self.assertIn(("energy", 1, 0), kinds)   # storage 1 kept
            self.assertIn(("energy", 0, 1), kinds)   # tariff 1 kept
            self.assertTrue(any("2024-05-17T13:45" in json.dumps(r) for r in records), records)
        finally:
            sim.stop()

    def test_daemon_polls_two_telegrams_by_primary_and_secondary_address(self):
        sim = MeterSim("mbus", ["7:10.00:multi", "12345678:20.00:multi"])
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {{id: heat, kind: serial, protocol: mbus, device: {sim.path}, baud: 2400, timeout_ms: 500}}
devices:
  - {{id: h7, kind: meter, bus: heat, address: "7", medium: heat, poll_interval_s: 1}}
  - {{id: h-sec, kind: meter, bus: heat, address: "12345678", medium: heat, poll_interval_s: 1}}
""")
            p = run_cli("check-config", cfg)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")
            try:
                def polled():
                    n = {(m, q): c for m, q, c in query(
                        db, "SELECT meter, quantity, count(*) FROM readings GROUP BY meter, quantity")}
                    ok = all(n.get((m, q), 0) >= 3 for m in ("h7", "h-sec")
                             for q in ("heat_energy", "volume"))
                    return n if ok else None
                wait_until(polled, 60, "three polls of both telegrams of both meters")
            finally:
                rc = daemon.stop()
                sim.stop()
            self.assertEqual(rc, 0)
            # Energy (telegram 1) and volume (telegram 2) of the same poll agree: 10.00 -> 10 kWh,
            # 10000 l; each poll steps the counter by 0.01.
            for meter, start in (("h7", 1000), ("h-sec", 2000)):
                vols = [v for (v,) in query(db, "SELECT value FROM readings WHERE meter = ? AND "
                                                "quantity = 'volume' ORDER BY id", (meter,))]
                self.assertEqual(vols[0], f"{start * 10 // 1000}.{start * 10 % 1000:03d}", vols)
                self.assertEqual(len(set(vols)), len(vols), vols)  # a new telegram each poll
            # The platform's records: the stored value of the second telegram (DIF 44: storage 1;
            # VIF 06: 4321 x 10^3 Wh; dated 2024-04-30 by its DIF 42 VIF 6C record) leaves with
            # "storage" and neither a delta nor a row among the current registers; the current
            # values carry the meter's own clock (VIF 6D, 2024-05-17 13:45).
            records = [json.loads(p) for (p,) in query(
                db, "SELECT payload FROM outbox WHERE stream = 'readings' ORDER BY seq")]
            contract = Contract()
            for r in records:
                self.assertEqual(contract.errors("readings.schema.json", r), [], r)
            for meter in ("h7", "h-sec"):
                mine = [r for r in records if r["meter"] == meter]
                stored = [r for r in mine if "storage" in r]
                self.assertGreaterEqual(len(stored), 3, mine)
                for r in stored:
                    self.assertEqual((r["quantity"], r["storage"], r["value"], r["unit"],
                                      r["meter_time"]),
                                     ("heat_energy", 1, "4321000", "Wh", "2024-04-30"), r)
                    self.assertNotIn("delta", r)
                current = [r for r in mine if "storage" not in r]
                self.assertTrue(all(r["meter_time"] == "2024-05-17T13:45:00" for r in current),
                                current)
                self.assertTrue(any("delta" in r for r in current if r["quantity"] == "volume"))
            self.assertEqual(query(db, "SELECT count(*) FROM readings WHERE value = '4321000'"), [(0,)])


if __name__ == "__main__":
    unittest.main()
