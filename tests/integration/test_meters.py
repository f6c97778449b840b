"""Meter buses end to end: the daemon polls simulated DL/T 645, CJ/T 188 and M-Bus meters on
ptys (tests/sim/meter_sim.py) and a pymodbus peer over Modbus TCP; readings land in the store
with outbox rows; a dead meter, a garbage-answering meter and a slow meter on the same line
do not stop the others; `status` shows the per-device counters; technician commands read the
same devices; `read modbus --json` prints what the independent pymodbus peer holds."""

import json
import os
import subprocess
import time
import unittest

from harness import Daemon, MeterSim, ModbusPeer, query, run_cli, tempdir


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling the store for a condition, not synchronising on a guess
    raise TimeoutError(f"{what} not reached within {timeout}s")


SDM630 = {"0": 230.5, "2": 231.25, "4": 229.75, "52": 1500.0, "72": 678.25, "342": 12345.5}


class MeterBuses(unittest.TestCase):
    def test_read_modbus_prints_what_pymodbus_holds(self):
        peer = ModbusPeer(SDM630)
        try:
            p = run_cli("read", "modbus", "--tcp", f"127.0.0.1:{peer.port}", "--unit", 1,
                        "--model", "eastron-sdm630", "--json", check=0)
            points = json.loads(p.stdout)["points"]
            self.assertEqual(points["voltage_l1"], {"value": 230.5, "unit": "V"})
            self.assertEqual(points["voltage_l2"]["value"], 231.25)
            self.assertEqual(points["voltage_l3"]["value"], 229.75)
            self.assertEqual(points["active_power_total"]["value"], 1500.0)
            self.assertEqual(points["total_active_energy"], {"value": 12345.5, "unit": "kWh"})
            self.assertEqual(points["import_active_energy"], {"value": 678.25, "unit": "kWh"})
            self.assertIn("3 request(s)", p.stderr)  # 33 points coalesced into 3 reads
            # mbpoll, another independent client, reads the same float (high word first).
            mb = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(peer.port), "-a", "1", "-t",
                                 "3:float", "-B", "-r", "1", "-c", "1", "-1", "127.0.0.1"],
                                capture_output=True, text=True, timeout=30)
            self.assertIn("230.5", mb.stdout)
            # A unit that is not there: a clear error, exit 1.
            p = run_cli("read", "modbus", "--tcp", f"127.0.0.1:{peer.port}", "--unit", 9,
                        "--model", "eastron-sdm630", "--timeout-ms", "300")
            self.assertNotEqual(p.returncode, 0)
            p = run_cli("read", "modbus", "--tcp", "127.0.0.1:1", "--unit", 1, "--model",
                        "no-such-model")
            self.assertEqual(p.returncode, 2)
            self.assertIn("unknown model 'no-such-model'", p.stderr)
        finally:
            peer.stop()

    def test_scan_and_read_on_ptys(self):
        dlt = MeterSim("dlt645", ["000012345678:1234.56"])
        cjt = MeterSim("cjt188", ["00000000123456:77.50"])
        mbus = MeterSim("mbus", ["5:10", "12345678:20", "12345699:30"])
        try:
            p = run_cli("scan", "dlt645", "--serial", dlt.path, "--json", check=0)
            self.assertEqual(json.loads(p.stdout), [{"address": "000012345678"}])
            p = run_cli("read", "dlt645", "--serial", dlt.path, "--address", "000012345678",
                        "--di", "00010000", "--json", check=0)
            v = json.loads(p.stdout)["values"][0]
            self.assertEqual((v["di"], v["value"], v["unit"]), ("00010000", 1234.56, "kWh"))
            p = run_cli("read", "cjt188", "--serial", cjt.path, "--address", "00000000123456",
                        "--json", check=0)
            j = json.loads(p.stdout)
            self.assertEqual(j["values"][0]["value"], 77.5)
            self.assertEqual(j["valve"], "open")
            p = run_cli("read", "mbus", "--serial", mbus.path, "--address", 5, "--json", check=0)
            j = json.loads(p.stdout)
            self.assertEqual(j["records"][0]["quantity"], "energy")
            p = run_cli("scan", "mbus", "--serial", mbus.path, "--secondary", "--json", check=0)
            ids = sorted(f["secondary"][:8] for f in json.loads(p.stdout))
            self.assertEqual(ids, ["12345678", "12345699"])  # found despite the collision
            p = run_cli("read", "dlt645", "--serial", dlt.path, "--address", "12")
            self.assertEqual(p.returncode, 2)
        finally:
            for s in (dlt, cjt, mbus):
                s.stop()

    def test_daemon_polls_with_dead_garbage_and_slow_meters(self):
        dlt = MeterSim("dlt645", ["000000000001:100.00", "000000000002:200.00:dead",
                             "000000000003:300.00:garbage", "000000000004:400.00:slow"],
                  ["--slow-ms", "400"])
        cjt = MeterSim("cjt188", ["00000000000011:5.00"])
        peer = ModbusPeer(SDM630)
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - id: power
    kind: serial
    protocol: dlt645
    device: {dlt.path}
    baud: 9600
    timeout_ms: 600
  - id: water
    kind: serial
    protocol: cjt188
    device: {cjt.path}
    baud: 9600
  - id: mb
    kind: tcp
    protocol: modbus
    host: 127.0.0.1
    port: {peer.port}
    timeout_ms: 500
devices:
  - {{id: m1, kind: meter, bus: power, address: "000000000001", medium: electricity, poll_interval_s: 1, counter_digits: 6}}
  - {{id: m2-dead, kind: meter, bus: power, address: "000000000002", medium: electricity, poll_interval_s: 1}}
  - {{id: m3-garbage, kind: meter, bus: power, address: "000000000003", medium: electricity, poll_interval_s: 1}}
  - {{id: m4-slow, kind: meter, bus: power, address: "000000000004", medium: electricity, poll_interval_s: 1}}
  - {{id: w1, kind: meter, bus: water, address: "00000000000011", medium: water, poll_interval_s: 1}}
  - {{id: e1, kind: meter, bus: mb, address: "1", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
""")
            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")
            try:
                def enough():
                    rows = dict(query(db, "SELECT meter, count(*) FROM readings "
                                          "WHERE quantity IN ('active_energy_import', 'volume') GROUP BY meter"))
                    return rows if rows.get("m1", 0) >= 4 and rows.get("m4-slow", 0) >= 3 and \
                        rows.get("w1", 0) >= 3 else None
                rows = wait_until(enough, 60, "readings from the healthy meters")
                self.assertNotIn("m2-dead", rows)
                self.assertNotIn("m3-garbage", rows)
                self.assertTrue(wait_until(lambda: query(
                    db, "SELECT count(*) FROM readings WHERE meter = 'e1' AND quantity = 'voltage_l1'"
                        " AND value = '230.5'")[0][0] >= 1, 30, "modbus readings"))

                def offline():
                    st = dict((r[0], r[1:]) for r in query(
                        db, "SELECT device, state, timeouts, frame_errors, readings FROM device_status"))
                    return st if st.get("m2-dead", ("",))[0] == "offline" and \
                        st.get("m3-garbage", ("",))[0] == "offline" else None
                st = wait_until(offline, 60, "breakers open for the dead and garbage meters")
                self.assertGreater(st["m2-dead"][1], 0)       # timeouts counted
                self.assertGreater(st["m3-garbage"][2], 0)    # frame errors counted
                self.assertEqual(st["m1"][0], "ok")
                self.assertEqual(st["m4-slow"][0], "ok")
            finally:
                rc = daemon.stop()
                dlt.stop()
                cjt.stop()
                peer.stop()
            self.assertEqual(rc, 0)
            # Every reading has its outbox record (same seq), deltas exact, values in order.
            missing = query(db, "SELECT count(*) FROM readings r WHERE seq IS NULL OR NOT EXISTS "
                                "(SELECT 1 FROM outbox o WHERE o.seq = r.seq AND o.stream = 'readings')")
            self.assertEqual(missing[0][0], 0)
            m1 = query(db, "SELECT value, delta, quality FROM readings WHERE meter = 'm1' "
                           "AND quantity = 'active_energy_import' ORDER BY id")
            self.assertEqual(m1[0][0], "100.00")      # the meter's BCD digits, exactly
            self.assertIsNone(m1[0][1])                 # first reading: baseline only
            self.assertEqual(m1[1], ("100.01", "0.01", "good"))
            payload = json.loads(query(db, "SELECT payload FROM outbox o JOIN readings r ON r.seq = o.seq "
                                           "WHERE r.meter = 'm1' ORDER BY r.id LIMIT 1 OFFSET 1")[0][0])
            self.assertEqual(payload["id"], f"test-gw-{payload['seq']}")
            first = json.loads(query(db, "SELECT payload FROM outbox o JOIN readings r ON r.seq = o.seq "
                                         "WHERE r.meter = 'm1' ORDER BY r.id LIMIT 1")[0][0])
            self.assertEqual(first["value"], "100.00")  # trailing zeros kept (v1 sent 100.0)
            # The meter's exact decimal text, as strings (envelope v2).
            self.assertEqual((payload["kind"], payload["value"], payload["delta"], payload["unit"]),
                             ("reading", "100.01", "0.01", "kWh"))
            events = [r[0] for r in query(db, "SELECT source FROM events WHERE kind = 'device_offline'")]
            self.assertIn("m2-dead", events)

    def test_technician_commands_on_configured_devices(self):
        dlt = MeterSim("dlt645", ["000000000001:100.00"])
        cjt = MeterSim("cjt188", ["00000000000011:5.00", "00000000000012:6.00:stuck_valve"])
        peer = ModbusPeer(SDM630)
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {{id: power, kind: serial, protocol: dlt645, device: {dlt.path}, baud: 9600}}
  - {{id: water, kind: serial, protocol: cjt188, device: {cjt.path}, baud: 9600}}
  - {{id: mb, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {peer.port}, timeout_ms: 500}}
devices:
  - {{id: m1, kind: meter, bus: power, address: "000000000001", medium: electricity}}
  - {{id: w1, kind: meter, bus: water, address: "00000000000011", medium: water}}
  - {{id: w2, kind: meter, bus: water, address: "00000000000012", medium: water}}
  - {{id: e1, kind: meter, bus: mb, address: "1", model: eastron-sdm630, medium: electricity}}
""")
            try:
                p = run_cli("read", "--device", "e1", "--config", cfg, "--json", check=0)
                r = {x["quantity"]: x for x in json.loads(p.stdout)["readings"]}
                self.assertEqual((r["voltage_l1"]["value"], r["voltage_l1"]["unit"]), (230.5, "V"))
                p = run_cli("read", "--device", "w1", "--config", cfg, "--json", check=0)
                j = json.loads(p.stdout)
                self.assertEqual(j["device"], "w1")
                self.assertEqual([x["quality"] for x in j["readings"] if x["quantity"] == "volume"],
                                 ["good"])
                p = run_cli("read", "cjt188", "--serial", cjt.path, "--address", "00000000000011",
                            "--json", check=0)
                self.assertEqual(json.loads(p.stdout)["valve"], "open")
                p = run_cli("valve", "--device", "w1", "--config", cfg, "close", check=0)
                self.assertIn("w1: valve close: confirmed by the device", p.stdout)
                p = run_cli("read", "cjt188", "--serial", cjt.path, "--address", "00000000000011",
                            "--json", check=0)
                self.assertEqual(json.loads(p.stdout)["valve"], "closed")
                # A valve that does not move: its answer is checked and the command fails.
                p = run_cli("valve", "--device", "w2", "--config", cfg, "close")
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("device w2: valve close failed", p.stderr)
                p = run_cli("relay", "--device", "m1", "--config", cfg, "trip", check=0)
                self.assertIn("m1: relay trip: confirmed by the device", p.stdout)
                p = run_cli("relay", "--device", "w1", "--config", cfg, "trip")
                self.assertEqual(p.returncode, 2)
                self.assertIn("has no relay trip", p.stderr)
                p = run_cli("valve", "--device", "nope", "--config", cfg, "open")
                self.assertEqual(p.returncode, 2)
                # Which Modbus units answer (the peer serves unit 1 only).
                p = run_cli("scan", "modbus", "--tcp", f"127.0.0.1:{peer.port}", "--units", "1-3",
                            "--timeout-ms", "300", "--json", check=0)
                self.assertEqual([h["unit"] for h in json.loads(p.stdout)], [1])
                self.assertIn("probing unit 3", p.stderr)
            finally:
                dlt.stop()
                cjt.stop()
                peer.stop()

    def test_fifty_meters_on_one_bus_and_status(self):
        # 50 DL/T 645 meters and a dead one share one line; every meter is read each cycle and
        # `status` shows the bus and each device with its counters.
        meters = [f"{i:012d}:{i}.00" for i in range(1, 51)] + ["000000000099:9.00:dead"]
        sim = MeterSim("dlt645", meters)
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            lines = [f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - id: line50
    kind: serial
    protocol: dlt645
    device: {sim.path}
    baud: 9600
    timeout_ms: 500
devices:
"""]
            for i in range(1, 51):
                lines.append(f'  - {{id: e{i:02d}, kind: meter, bus: line50, address: "{i:012d}", '
                             f'medium: electricity, poll_interval_s: 3}}\n')
            lines.append('  - {id: e-dead, kind: meter, bus: line50, address: "000000000099", '
                         'medium: electricity, poll_interval_s: 3}\n')
            with open(cfg, "w") as f:
                f.write("".join(lines))
            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")
            try:
                def every_meter_twice():
                    rows = query(db, "SELECT meter, count(*) FROM readings WHERE quantity = "
                                     "'active_energy_import' GROUP BY meter")
                    return len(rows) == 50 and all(n >= 2 for _, n in rows)
                wait_until(every_meter_twice, 90, "two readings from each of the 50 meters")

                def status_shows_all():
                    p = run_cli("status", "--state-dir", os.path.join(d, "state"), "--json")
                    if p.returncode != 0:
                        return None
                    j = json.loads(p.stdout)
                    buses = {b["bus"]: b for b in j["buses"]}
                    b = buses.get("line50")
                    if not b or len(b["devices"]) != 51:
                        return None
                    devs = {x["device"]: x for x in b["devices"]}
                    if devs["e-dead"]["state"] != "offline" or devs["e50"]["readings"] < 2:
                        return None
                    return j
                j = wait_until(status_shows_all, 60, "status with the bus and its 51 devices")
            finally:
                rc = daemon.stop()
                sim.stop()
            self.assertEqual(rc, 0)
            b = j["buses"][0]
            self.assertEqual((b["protocol"], b["state"]), ("dlt645", "up"))
            self.assertIn(sim.path, b["link"])
            self.assertGreaterEqual(b["requests"], 100)
            self.assertGreater(b["timeouts"], 0)
            self.assertIsNotNone(b["last_success"])
            devs = {x["device"]: x for x in b["devices"]}
            for i in range(1, 51):
                x = devs[f"e{i:02d}"]
                # A rare timeout on a loaded machine is retried; the meter stays ok and is read.
                self.assertEqual((x["state"], x["crc_errors"], x["frame_errors"]), ("ok", 0, 0), x)
                self.assertGreaterEqual(x["readings"], 2)
                self.assertLess(x["timeouts"], x["requests"])
                self.assertIsNotNone(x["last_success"])
            dead = devs["e-dead"]
            self.assertIsNone(dead["last_success"])
            self.assertGreater(dead["timeouts"], 0)
            self.assertIn("timeout", dead["last_error"])
            self.assertGreaterEqual(j["readings"], 100)
            # The same for people: aligned tables naming the bus and the devices.
            p = run_cli("status", "--state-dir", os.path.join(d, "state"), check=0)
            self.assertIn("line50", p.stdout)
            self.assertRegex(p.stdout, r"e-dead\s+line50\s+offline")
            self.assertIn("crc errors", p.stdout)


class ModbusRtuOverTcp(unittest.TestCase):
    """Modbus RTU frames through a serial device server ("RTU over TCP"), played by pymodbus with
    its RTU framer on a TCP socket: the gateway's own RTU master against an independent peer,
    and the same results as libmodbus's Modbus TCP against the same registers."""

    def test_read_and_scan_rtu_over_tcp_as_over_modbus_tcp(self):
        rtu = ModbusPeer(SDM630, framer="rtu")
        tcp = ModbusPeer(SDM630)
        try:
            p = run_cli("read", "modbus", "--rtu-over-tcp", f"127.0.0.1:{rtu.port}", "--unit", 1,
                        "--model", "eastron-sdm630", "--json", check=0)
            j = json.loads(p.stdout)
            points = j["points"]
            self.assertEqual(points["voltage_l1"], {"value": 230.5, "unit": "V"})
            self.assertEqual(points["voltage_l3"]["value"], 229.75)
            self.assertEqual(points["active_power_total"]["value"], 1500.0)
            self.assertEqual(points["total_active_energy"], {"value": 12345.5, "unit": "kWh"})
            self.assertIn("3 request(s)", p.stderr)
            self.assertIn(f"modbus rtu over tcp 127.0.0.1:{rtu.port}", p.stderr)
            # The same points, values and request count as libmodbus over Modbus TCP.
            q = run_cli("read", "modbus", "--tcp", f"127.0.0.1:{tcp.port}", "--unit", 1,
                        "--model", "eastron-sdm630", "--json", check=0)
            self.assertEqual(json.loads(q.stdout), j)
            self.assertIn("3 request(s)", q.stderr)
            # Which units answer: unit 1 only; the silent ones cost a timeout each.
            p = run_cli("scan", "modbus", "--rtu-over-tcp", f"127.0.0.1:{rtu.port}", "--units",
                        "1-3", "--timeout-ms", "300", "--json", check=0)
            self.assertEqual(json.loads(p.stdout), [{"unit": 1, "answer": "holding register 0 readable"}])
            self.assertIn("probing unit 3", p.stderr)
            # A unit that is not there: a timeout, exit 1, as over Modbus TCP.
            p = run_cli("read", "modbus", "--rtu-over-tcp", f"127.0.0.1:{rtu.port}", "--unit", 9,
                        "--model", "eastron-sdm630", "--timeout-ms", "300")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("unit 9: timeout", p.stderr)
            # Flags: one transport at a time, HOST:PORT checked.
            p = run_cli("read", "modbus", "--rtu-over-tcp", f"127.0.0.1:{rtu.port}", "--tcp",
                        f"127.0.0.1:{tcp.port}", "--unit", 1, "--model", "eastron-sdm630")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("excludes", p.stderr)
            p = run_cli("read", "modbus", "--rtu-over-tcp", "device-server", "--unit", 1, "--model",
                        "eastron-sdm630")
            self.assertEqual(p.returncode, 2)
            self.assertIn("--rtu-over-tcp: expected HOST:PORT, got 'device-server'", p.stderr)
            p = run_cli("scan", "modbus", "--rtu-over-tcp", "127.0.0.1:1", "--units", "1")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("cannot reach modbus rtu over tcp 127.0.0.1:1: connection refused", p.stderr)
        finally:
            rtu.stop()
            tcp.stop()

    def test_exception_answer_is_the_same_error_as_with_libmodbus(self):
        # Tables of 100 registers: the SDM630's energy registers (342...) are an illegal address.
        rtu = ModbusPeer(SDM630, framer="rtu", registers=100)
        tcp = ModbusPeer(SDM630, registers=100)
        try:
            errors = []
            for flag, peer in (("--rtu-over-tcp", rtu), ("--tcp", tcp)):
                p = run_cli("read", "modbus", flag, f"127.0.0.1:{peer.port}", "--unit", 1,
                            "--model", "eastron-sdm630")
                self.assertEqual(p.returncode, 1, p.stderr)
                errors.append(p.stderr.strip().splitlines()[-1])
            self.assertIn("unit 1: Illegal data address", errors[0])
            self.assertEqual(errors[0], errors[1])
        finally:
            rtu.stop()
            tcp.stop()

    def test_daemon_polls_rtu_over_tcp_into_the_store(self):
        # One device server line with a live meter (unit 1) and a dead one (unit 9); the same
        # meter model on Modbus TCP beside it for comparison.
        rtu = ModbusPeer(SDM630, framer="rtu")
        tcp = ModbusPeer(SDM630)
        with tempdir() as d:
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {{id: line-a, kind: rtu_over_tcp, protocol: modbus, host: 127.0.0.1, port: {rtu.port}, baud: 9600, timeout_ms: 1000}}
  - {{id: mb-tcp, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {tcp.port}, timeout_ms: 1000}}
devices:
  - {{id: e-rtu, kind: meter, bus: line-a, address: "1", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
  - {{id: e-dead, kind: meter, bus: line-a, address: "9", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
  - {{id: e-tcp, kind: meter, bus: mb-tcp, address: "1", model: eastron-sdm630, medium: electricity, poll_interval_s: 1}}
""")
            p = run_cli("check-config", cfg)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")
            try:
                def polled():
                    n = dict(query(db, "SELECT meter, count(*) FROM readings WHERE quantity = "
                                       "'voltage_l1' GROUP BY meter"))
                    return n if n.get("e-rtu", 0) >= 3 and n.get("e-tcp", 0) >= 3 else None
                wait_until(polled, 60, "readings over RTU over TCP and Modbus TCP")

                def offline():
                    st = {r[0]: r[1:] for r in query(
                        db, "SELECT device, state, requests, timeouts, crc_errors, frame_errors, "
                            "polls, failures FROM device_status")}
                    return st if st.get("e-dead", ("",))[0] == "offline" else None
                st = wait_until(offline, 60, "the dead unit's breaker open")
                status = run_cli("status", "--state-dir", os.path.join(d, "state"), "--json", check=0)
            finally:
                rc = daemon.stop()
                rtu.stop()
                tcp.stop()
            self.assertEqual(rc, 0)
            # Both paths: healthy, three coalesced requests per poll, no errors of any kind.
            for dev in ("e-rtu", "e-tcp"):
                state, requests, timeouts, crc, frames, polls, failures = st[dev]
                self.assertEqual((state, timeouts, crc, frames, failures), ("ok", 0, 0, 0, 0), dev)
                self.assertEqual(requests, 3 * polls, dev)
            dead = st["e-dead"]
            self.assertGreater(dead[2], 0)   # timeouts counted
            self.assertEqual(dead[3:5], (0, 0))
            # The values stored are the peer's, the same over both transports.
            rows = {}
            for dev in ("e-rtu", "e-tcp"):
                rows[dev] = dict(query(db, "SELECT quantity, value FROM readings WHERE meter = ? "
                                           "AND id IN (SELECT max(id) FROM readings WHERE meter = ? "
                                           "GROUP BY quantity)", (dev, dev)))
            self.assertEqual(rows["e-rtu"]["voltage_l1"], "230.5")
            self.assertEqual(rows["e-rtu"]["active_energy_total"], "12345.5")
            self.assertEqual(rows["e-rtu"], rows["e-tcp"])
            missing = query(db, "SELECT count(*) FROM readings r WHERE meter = 'e-rtu' AND NOT EXISTS "
                                "(SELECT 1 FROM outbox o WHERE o.seq = r.seq AND o.stream = 'readings')")
            self.assertEqual(missing[0][0], 0)
            buses = {b["bus"]: b for b in json.loads(status.stdout)["buses"]}
            self.assertEqual(buses["line-a"]["link"], f"modbus rtu over tcp 127.0.0.1:{rtu.port}")
            self.assertEqual(buses["line-a"]["protocol"], "modbus")


if __name__ == "__main__":
    unittest.main()
