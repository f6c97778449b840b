"""Shared-meter (公摊) allocation in the running daemon: a master water meter and three
sub-meters (CJ/T 188 simulators on ptys, the master counting 50x faster), a shared meter with
one-minute billing periods (`period: 1m`), a real mosquitto.

Covers: a closed period is allocated by the daemon on its own schedule; the shares in the store
are integer fen, one per room, each exactly what the documented rule gives for the period's
stored readings (worked again in this test); each share reaches the broker as
a `transactions` record (kind `shared`) with the same amount, and the period's
`billing.shared_allocated` event on `events`; after a restart the period is not allocated again."""

import json
import os
import unittest
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from harness import Daemon, MeterSim, Mosquitto, query, tempdir
from test_bridge import GW, PREFIX, MqttClient, wait_until

ROOMS = ["1-101", "1-102", "1-103"]
AREAS_CENTI_M2 = [8950, 6025, 4500]  # 89.50, 60.25, 45.00 m2
COMMON_PRICE = Decimal("3.3333")     # yuan per m3, tariff water-common


def hand_worked(db, period):
    """The master's usage in `period` ("YYYY-MM-DDTHH:MM/1m", site time +08:00) and each room's
    share in fen, worked from the stored readings by docs/billing.md: a meter's usage is the sum
    of its billed deltas timed in [start, end); common = master - sum(subs), never below 0; its
    cost rounded half up once to the fen; split by area with the largest remainder (ties to the
    room listed first)."""
    start = datetime.strptime(period.split("/")[0], "%Y-%m-%dT%H:%M").replace(
        tzinfo=timezone(timedelta(hours=8)))
    start_ms = int(start.timestamp()) * 1000

    def usage(meter):
        rows = query(db, "SELECT delta FROM readings WHERE meter = ? AND billed = 1 AND delta IS "
                         "NOT NULL AND ts_ms >= ? AND ts_ms < ?", (meter, start_ms, start_ms + 60000))
        return sum((Decimal(d) for (d,) in rows), Decimal(0))

    master = usage("wm")
    common = max(master - sum(usage(m) for m in ("w1", "w2", "w3")), Decimal(0))
    total = int((common * COMMON_PRICE * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    weight_sum = sum(AREAS_CENTI_M2)
    parts = [total * w // weight_sum for w in AREAS_CENTI_M2]
    remainders = [total * w % weight_sum for w in AREAS_CENTI_M2]
    for i in sorted(range(len(parts)), key=lambda i: (-remainders[i], i))[:total - sum(parts)]:
        parts[i] += 1
    return master, parts


class SharedMeterAllocation(unittest.TestCase):
    def test_daemon_allocates_each_period_once(self):
        master = MeterSim("cjt188", ["00000000000099:100.00"], ["--step", "50"])
        subs = MeterSim("cjt188", ["00000000000001:1.00", "00000000000002:2.00",
                                   "00000000000003:3.00"])
        with tempdir() as d:
            broker = Mosquitto(d).start()
            platform = MqttClient(broker.port, "platform-shared", clean=True).connect()
            platform.subscribe(PREFIX + "transactions")
            platform.subscribe(PREFIX + "events")
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: {GW}
mqtt:
  url: {broker.url}
buses:
  - {{ id: main-bus, kind: serial, protocol: cjt188, device: {master.path}, baud: 9600 }}
  - {{ id: room-bus, kind: serial, protocol: cjt188, device: {subs.path}, baud: 9600 }}
devices:
  - {{ id: wm, kind: meter, bus: main-bus, address: "00000000000099", medium: water, poll_interval_s: 1 }}
  - {{ id: w1, kind: meter, bus: room-bus, address: "00000000000001", medium: water, poll_interval_s: 1 }}
  - {{ id: w2, kind: meter, bus: room-bus, address: "00000000000002", medium: water, poll_interval_s: 1 }}
  - {{ id: w3, kind: meter, bus: room-bus, address: "00000000000003", medium: water, poll_interval_s: 1 }}
tariffs:
  - {{ id: water, quantity: water, unit: m3, price: "3.50" }}
  - {{ id: water-common, quantity: water, unit: m3, price: "3.3333" }}
accounts:
  - {{ room: "{ROOMS[0]}", area_m2: "89.50", meters: [{{ meter: w1, tariff: water }}] }}
  - {{ room: "{ROOMS[1]}", area_m2: "60.25", meters: [{{ meter: w2, tariff: water }}] }}
  - {{ room: "{ROOMS[2]}", area_m2: "45.00", meters: [{{ meter: w3, tariff: water }}] }}
shared_meters:
  - {{ id: common, master: wm, subs: [w1, w2, w3], tariff: water-common, basis: area,
      rooms: {json.dumps(ROOMS)}, period: 1m }}
""")
            daemon = Daemon(d, cfg).start()
            db = os.path.join(d, "state", "estate-edge.db")
            received = []  # every record from the broker

            def drain(seconds=0.5):
                msg = platform.recv(seconds)
                while msg is not None:
                    body = json.loads(msg[1])
                    received.extend(body if isinstance(body, list) else [body])
                    msg = platform.recv(0.01)

            try:
                # A period with usage: the first closed minute may start before the first reading.
                def allocated():
                    return query(db, "SELECT period, total_fen, master_usage_milli FROM "
                                     "billing_shared_periods WHERE shared_meter = 'common' AND "
                                     "state = 'allocated' AND total_fen > 0 ORDER BY period LIMIT 1")
                period, total, master_milli = wait_until(allocated, 200, "an allocated period")[0]
                self.assertGreater(master_milli, 0)
                shares = query(db, "SELECT room, amount_fen FROM billing_charges WHERE kind = "
                                   "'shared' AND ref LIKE ? ORDER BY room", (f"shared:common:{period}:%",))
                self.assertEqual([r for r, _ in shares], ROOMS)
                self.assertEqual(sum(a for _, a in shares), total)
                # Worked again here, from the period's readings, by the rule docs/billing.md
                # states: exact fen per room, not just a sum.
                master_usage, expected = hand_worked(db, period)
                self.assertEqual(master_milli, int(master_usage * 1000))
                self.assertEqual(total, sum(expected))
                self.assertEqual([a for _, a in shares], expected)

                def at_broker():
                    drain()
                    got = {r["room"]: r["amount_fen"] for r in received
                           if r.get("charge_kind") == "shared" and r.get("period") == period}
                    ev = [r for r in received
                          if r.get("kind") == "billing.shared_allocated" and r.get("period") == period]
                    return (got, ev) if len(got) == len(ROOMS) and ev else None
                got, _ = wait_until(at_broker, 30, "the shares at the broker")
                self.assertEqual(got, dict(shares))
                for r in received:
                    if r.get("charge_kind") == "shared" and r.get("period") == period:
                        self.assertEqual(r["kind"], "charge")
                        self.assertEqual(r["shared_meter"], "common")
                        self.assertEqual(r["meter"], "wm")
                        self.assertEqual(r["common_total_fen"], total)
                        self.assertEqual(r["ref"], f"shared:common:{period}:{r['room']}")

                # A restart allocates nothing again for that period; later periods go on.
                done = "SELECT count(*) FROM billing_shared_periods WHERE state = 'allocated'"
                daemon.stop()
                before = query(db, done)[0][0]
                daemon.start()
                wait_until(lambda: query(db, done)[0][0] > before, 200,
                           "a later period allocated after the restart")
                again = query(db, "SELECT count(*), sum(amount_fen) FROM billing_charges WHERE "
                                  "ref LIKE ?", (f"shared:common:{period}:%",))[0]
                self.assertEqual(again, (len(ROOMS), total))
            finally:
                daemon.stop()
                platform.close()
                broker.stop()
                master.stop()
                subs.stop()


if __name__ == "__main__":
    unittest.main()
