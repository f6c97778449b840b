"""Power loss: SIGKILL at random points while meter readings, telemetry, payments and list
updates flow, then restart on the same state, many times over. The real daemon runs with a real
mosquitto, a CJ/T 188 water meter on a pty (tests/sim/meter_sim.py) billed to a room, the POS
and printer simulators, and the demo heartbeat as a fast telemetry stream.

After every kill, before the restart:
  - the store passes PRAGMA integrity_check;
  - every payment the kiosk API accepted (202) is in the journal;
  - every arrears list the gateway acknowledged (ack ok) is the applied one or older than it;
  - the outbox counter is at or above every seq the platform has seen (a seq is never reused);
  - every card charge the bank took belongs to a journaled payment, once.
At the end (clean restart, payments resolved, clean stop):
  - each payment charged at the bank is credited exactly once (one top-up row, the bank's
    amount), declined ones never; the room's top-ups add up to what the bank took;
  - every record seq 1..last reached the platform except those still pending, each seq with one
    payload (a record seen before a kill is byte-identical when re-sent after it);
  - each meter reading is charged at most once.

The suite runs a few iterations; `scripts/power-loss N` runs the same test N times longer
(ESTATE_EDGE_POWER_LOSS_ITERATIONS)."""

import json
import os
import random
import sqlite3
import threading
import time
import unittest

from harness import Daemon, Mosquitto, free_port, tempdir
from test_bridge import GW, PREFIX, MqttClient, stamped
from harness import MeterSim
from test_payment_kiosk import FINAL, Api, Sim, by_payment, seed_bills, write_config

ITERATIONS = int(os.environ.get("ESTATE_EDGE_POWER_LOSS_ITERATIONS", "6"))
SEED = int(os.environ.get("ESTATE_EDGE_POWER_LOSS_SEED", str(random.randrange(1 << 30))))
WATER = "00000000000021"
ROOM = "1-2-302"


class Platform(threading.Thread):
    """The platform's subscriber: every record and ack, read on its own thread (the MQTT client
    is single-threaded; commands go out on a second client)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.client = MqttClient(port, "platform-power-loss-sub").connect()
        self.client.subscribe(PREFIX + "#")
        self.lock = threading.Lock()
        self.records = {}   # seq -> payload (canonical JSON)
        self.conflicts = []  # (seq, first payload, later payload)
        self.acks = {}      # command id -> ack
        self.online = 0     # birth messages seen (the bridge is connected and subscribed)
        self.stop_flag = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop_flag.is_set():
                msg = self.client.recv(0.2)
                if msg is None:
                    continue
                topic, payload = msg
                body = json.loads(payload)
                with self.lock:
                    if topic == PREFIX + "acks":
                        self.acks[body.get("id")] = body
                        continue
                    if topic == PREFIX + "state":
                        if body.get("state") == "online":
                            self.online += 1
                        continue
                    if "/cmd/" in topic:
                        continue
                    for r in body if isinstance(body, list) else [body]:
                        text = json.dumps(r, sort_keys=True)
                        first = self.records.setdefault(r["seq"], text)
                        if first != text:
                            self.conflicts.append((r["seq"], first, text))
        except Exception as e:  # surfaced by the test
            self.error = e

    def snapshot(self):
        with self.lock:
            return dict(self.records), dict(self.acks), list(self.conflicts)

    def wait_ack(self, cid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if cid in self.acks:
                    return self.acks[cid]
            threading.Event().wait(0.02)
        return None

    def wait_online(self, above, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.online > above:
                    return self.online
            threading.Event().wait(0.02)
        raise AssertionError(f"the gateway did not come online within {timeout}s")

    def wait_seqs(self, wanted, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if wanted <= self.records.keys():
                    return
            threading.Event().wait(0.05)
        with self.lock:
            missing = sorted(wanted - self.records.keys())
        raise AssertionError(f"{len(missing)} record(s) never reached the platform: {missing[:20]}")

    def close(self):
        self.stop_flag.set()
        self.join(5)
        self.client.close()


def store_path(state_dir):
    return os.path.join(state_dir, "estate-edge.db")


def query(state_dir, sql, *args):
    db = sqlite3.connect(store_path(state_dir))
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


class PowerLoss(unittest.TestCase):
    def test_sigkill_at_random_points_loses_nothing_acknowledged(self):
        rng = random.Random(SEED)
        print(f"power loss: {ITERATIONS} iteration(s), seed {SEED}", flush=True)
        with tempdir() as d:
            broker = Mosquitto(d).start()
            platform = Platform(broker.port)
            platform.start()
            commander = MqttClient(broker.port, "platform-power-loss-cmd", clean=True).connect()
            meter = MeterSim("cjt188", [f"{WATER}:100.00"])
            pos = Sim("pos_sim.py", "--mode", "approve", "--ledger", os.path.join(d, "bank.json"),
                      "--delay", "0.3")
            printer = Sim("printer_sim.py", "--state", "ok", "--out", os.path.join(d, "r.bin"),
                          "--state-file", os.path.join(d, "printer.state"))
            http_port = free_port()
            config = write_config(d, http_port, pos.port, printer.port, broker.url)
            with open(config) as f:
                text = f.read()
            # The room with the water meter; arrears levels for cmd/arrears; fast telemetry.
            text = text.replace('  - { room: "1-2-302", meters: [] }\n',
                                f'  - {{ room: "{ROOM}", meters: [{{ meter: w1, tariff: water-res }}] }}\n')
            text = text.replace("buses:\n", f"""buses:
  - {{ id: water, kind: serial, protocol: cjt188, device: {meter.path}, baud: 9600 }}
""", 1)
            text = text.replace("devices:\n", """devices:
  - { id: w1, kind: meter, bus: water, address: "%s", medium: water, poll_interval_s: 1 }
""" % WATER, 1)
            text += """arrears:
  levels:
    - { level: 1, min_days: 1, min_fen: 1, actions: [warn] }
    - { level: 2, min_days: 30, min_fen: 10000, actions: [warn] }
demo:
  heartbeat_interval_ms: 5
"""
            with open(config, "w") as f:
                f.write(text)
            daemon = Daemon(d, config)
            api = Api(http_port)
            accepted = {}        # payment id -> amount
            acked_version = 0    # highest arrears version acknowledged ok
            version = 0
            try:
                daemon.start()
                daemon.stop()
                seed_bills(daemon.state_dir)
                for i in range(ITERATIONS):
                    with platform.lock:
                        online = platform.online
                    daemon.start()
                    # Commands sent before the bridge subscribed would never reach it.
                    platform.wait_online(online)
                    # A list update, acknowledged before the kill.
                    version += 1
                    cid = f"arrears-{version}"
                    commander.publish(PREFIX + "cmd/arrears", json.dumps(stamped(
                        {"v": 1, "id": cid, "version": version,
                         "items": [{"key": ROOM, "level": version % 3}]})))
                    ack = platform.wait_ack(cid, 30)
                    self.assertIsNotNone(ack, f"no ack for {cid}")
                    self.assertTrue(ack["ok"], ack)
                    acked_version = version
                    # A payment, and another list update racing the kill.
                    status, body = api.pay(ROOM, 100 + i)
                    self.assertEqual(status, 202, body)
                    accepted[body["payment"]["id"]] = 100 + i
                    version += 1
                    racing = f"arrears-{version}"
                    commander.publish(PREFIX + "cmd/arrears", json.dumps(stamped(
                        {"v": 1, "id": racing, "version": version,
                         "items": [{"key": ROOM, "level": version % 3}]})))
                    # The random point of the power cut: anywhere in the next 1.5 s (the
                    # sale takes 0.3 s at the terminal; readings come every second).
                    threading.Event().wait(rng.uniform(0.0, 1.5))
                    daemon.kill()
                    records, acks, conflicts = platform.snapshot()
                    if racing in acks and acks[racing]["ok"]:
                        acked_version = version
                    self.check_after_kill(daemon.state_dir, accepted, acked_version, records,
                                          d, i)
                    self.assertFalse(platform.error, platform.error)

                # Clean restart: every accepted payment reaches a final state.
                with platform.lock:
                    online = platform.online
                daemon.start()
                # (A SIGTERM while the bridge is still connecting can abort the process with an
                # uncaught mqtt::exception: a cloud-bridge bug outside this test's subject.)
                platform.wait_online(online)
                for pid in accepted:
                    api.wait_payment(pid, lambda p: p["state"] in FINAL and
                                     (p["state"] == "declined" or p["applied"]), timeout=60)
                self.assertEqual(daemon.stop(), 0)
                self.check_money(daemon.state_dir, accepted, d)
                last = query(daemon.state_dir,
                             "SELECT value FROM counters WHERE name = 'outbox_seq'")[0][0]
                pending = {s for (s,) in query(daemon.state_dir, "SELECT seq FROM outbox")}
                # The clean stop drained what it could; the rest waits in the outbox.
                platform.wait_seqs(set(range(1, last + 1)) - pending, 60)
                records, acks, conflicts = platform.snapshot()
                self.assertEqual(conflicts[:3], [], "a seq was reused for another record")
                self.assertFalse(set(records) - set(range(1, last + 1)), "seq beyond the counter")
                for seq, text in records.items():
                    self.assertEqual(json.loads(text)["id"], f"{GW}-{seq}")
                readings = query(daemon.state_dir, "SELECT count(*) FROM readings")[0][0]
                self.assertGreater(readings, 0, "the meter was read")
                dup = query(daemon.state_dir,
                            "SELECT meter, reading_seq, count(*) FROM billing_charges "
                            "WHERE reading_seq IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1")
                self.assertEqual(dup, [])
                print(f"power loss: {ITERATIONS} kill(s) survived; {len(accepted)} payment(s), "
                      f"{last} record(s), {readings} reading(s), arrears v{acked_version}",
                      flush=True)
            except BaseException:
                print("daemon log (tail):\n" + "".join(daemon.logs().splitlines(True)[-40:]))
                raise
            finally:
                daemon.kill()
                commander.close()
                platform.close()
                meter.stop()
                pos.stop()
                printer.stop()
                broker.stop()

    def check_after_kill(self, state_dir, accepted, acked_version, records, d, i):
        where = f"after kill {i + 1}"
        self.assertEqual(query(state_dir, "PRAGMA integrity_check"), [("ok",)], where)
        self.assertEqual(query(state_dir, "PRAGMA foreign_key_check"), [], where)
        journal = {pid for (pid,) in query(state_dir, "SELECT id FROM payments")}
        self.assertLessEqual(set(accepted), journal, f"{where}: accepted payment not journaled")
        applied = query(state_dir, "SELECT version FROM bridge_lists WHERE name = 'arrears'")
        self.assertTrue(applied, f"{where}: no arrears list stored")
        self.assertGreaterEqual(applied[0][0], acked_version, f"{where}: acknowledged list lost")
        counter = query(state_dir, "SELECT value FROM counters WHERE name = 'outbox_seq'")[0][0]
        if records:
            self.assertGreaterEqual(counter, max(records), f"{where}: seq counter went back")
        self.check_bank(state_dir, d, where)

    def check_bank(self, state_dir, d, where):
        ledger_path = os.path.join(d, "bank.json")
        ledger = {}
        if os.path.exists(ledger_path):
            with open(ledger_path) as f:
                ledger = json.load(f)
        rows = dict(query(state_dir, "SELECT id, amount_fen FROM payments"))
        ledger = by_payment(ledger, list(rows))  # the terminal keeps tickets
        for ref, amount in ledger.items():
            self.assertIn(ref, rows, f"{where}: the bank charged {ref}, unknown to the journal")
            self.assertEqual(rows[ref], amount, where)
        doubled = query(state_dir, "SELECT ref, count(*) FROM billing_topups GROUP BY ref "
                                   "HAVING count(*) > 1")
        self.assertEqual(doubled, [], f"{where}: a payment credited twice")
        return ledger

    def check_money(self, state_dir, accepted, d):
        ledger = self.check_bank(state_dir, d, "at the end")
        states = dict(query(state_dir, "SELECT id, state FROM payments"))
        for pid, amount in accepted.items():
            topups = query(state_dir, "SELECT amount_fen FROM billing_topups WHERE ref = ?", pid)
            credited = sum(a for (a,) in topups)
            if pid in ledger:
                self.assertEqual(credited, amount, f"{pid}: charged {ledger[pid]}, credited "
                                                   f"{credited} ({states[pid]})")
                self.assertNotEqual(states[pid], "declined", pid)
            else:
                self.assertEqual(states[pid], "declined", pid)
                self.assertEqual(topups, [], f"{pid}: credited without a charge")
        # Top-ups of the room's payments add up to what the bank took (settling bills counts).
        paid = query(state_dir, "SELECT coalesce(sum(settled_fen + topped_up_fen), 0) FROM "
                                "payments WHERE state <> 'declined'")[0][0]
        self.assertEqual(paid, sum(ledger.values()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
