"""Bills in the running daemon (docs/billing.md, "Bills"): one-minute billing periods
(`bills.period: 1m`, due at the period's end), a real mosquitto, and the kiosk's HTTP API with
the POS and printer simulators.

A room owes an old bill (seeded as October's, due 45 days ago) and 20.00 yuan of charges no bill
has taken. At start the daemon issues the last closed period's bills (the 20.00 goes on one,
the other room gets a paid bill of 0 fen), accrues the old bill's late fee (30 days after 15
days' grace: 1000 x 0.0005 x 30 = 15 fen) and derives the arrears level from the overdue bills
(45 days, 30.15 yuan: level 2). The kiosk shows both bills with their due dates and the late
fee; a card payment of exactly the old bill settles it (oldest first) and the level falls to 1.
Every bill record reaches the broker and validates against docs/schemas/bills.schema.json."""

import json
import os
import sqlite3
import time
import unittest
from datetime import datetime

from harness import Daemon, Mosquitto, tempdir
from test_bridge import GW, PREFIX, MqttClient, wait_until
from test_payment_kiosk import KIOSK_TOKEN, Api, Sim, pos_printer_yaml, sha

ROOM, OTHER = "1-2-301", "1-2-302"
OVERDUE_DAYS = 45


def write_config(d, broker_url, http_port, pos_port, printer_port, bills=True):
    buses, devices = pos_printer_yaml(pos_port, printer_port)
    path = os.path.join(d, "site.yaml")
    with open(path, "w") as f:
        f.write(f"""site:
  id: test-site
  name: 阳光花园
  utc_offset: "+08:00"
gateway:
  id: {GW}
mqtt:
  url: {broker_url}
http:
  listen: 127.0.0.1:{http_port}
  tokens:
    - {{ name: kiosk-1, role: kiosk, sha256: {sha(KIOSK_TOKEN)} }}
buses:
{buses}devices:
{devices}tariffs:
  - {{ id: water, quantity: water, unit: m3, price: "5.00" }}
accounts:
  - {{ room: "{ROOM}", meters: [] }}
  - {{ room: "{OTHER}", meters: [] }}
{"bills: { period: 1m, due_days: 0 }" if bills else ""}
late_fees: {{ daily_rate: "0.0005", grace_days: 15, cap_percent: "100" }}
arrears:
  levels:
    - {{ level: 1, min_days: 0, min_fen: 1, actions: [warn] }}
    - {{ level: 2, min_days: 30, min_fen: 2000, actions: [warn, charge_as_visitor, deny_gate] }}
""")
    return path


def seed(state_dir):
    """October's bill of 10.00 (due OVERDUE_DAYS days ago) with its charge, and a charge of
    20.00 no bill has taken (an hour ago): the room owes 30.00."""
    db = sqlite3.connect(os.path.join(state_dir, "estate-edge.db"))
    now = int(time.time())
    due = now - OVERDUE_DAYS * 86400 - 600
    db.execute("INSERT INTO billing_bills(room, period, period_start, period_end, issued_at, "
               "due_at, amount_fen, status) VALUES(?, '2026-10', ?, ?, ?, ?, 1000, 'open')",
               (ROOM, due - 31 * 86400, due, due, due))
    bill = db.execute("SELECT id FROM billing_bills").fetchone()[0]
    db.execute("INSERT INTO billing_charges(kind, ref, room, ts, amount_fen, balance_after_fen, "
               "detail, at_s, bill_id) VALUES('usage', 'chg-oct', ?, '2026-10-20T08:00:00+08:00', "
               "1000, -1000, '{}', ?, ?)", (ROOM, due - 20 * 86400, bill))
    db.execute("INSERT INTO billing_charges(kind, ref, room, ts, amount_fen, balance_after_fen, "
               "detail, at_s) VALUES('usage', 'chg-now', ?, '2026-12-05T08:00:00+08:00', 2000, "
               "-3000, '{}', ?)", (ROOM, now - 3600))
    db.execute("UPDATE billing_accounts SET balance_fen = -3000 WHERE room = ?", (ROOM,))
    db.commit()
    db.close()


class BillsThroughTheDaemon(unittest.TestCase):
    def test_bills_issued_late_fee_kiosk_view_and_oldest_first_payment(self):
        with tempdir() as d:
            broker = Mosquitto(d).start()
            platform = MqttClient(broker.port, "platform-bills", clean=True).connect()
            platform.subscribe(PREFIX + "bills")
            pos = Sim("pos_sim.py", "--mode", "approve", "--ledger", os.path.join(d, "bank.json"))
            printer = Sim("printer_sim.py", "--state", "ok", "--out", os.path.join(d, "r.bin"),
                          "--state-file", os.path.join(d, "printer.state"))
            from harness import free_port
            http_port = free_port()
            cfg = write_config(d, broker.url, http_port, pos.port, printer.port)
            daemon = Daemon(d, cfg)
            received = []

            def drain(seconds=0.2):
                msg = platform.recv(seconds)
                while msg is not None:
                    body = json.loads(msg[1])
                    received.extend(body if isinstance(body, list) else [body])
                    msg = platform.recv(0.01)

            try:
                # The store is created by a start without bills (which would issue the last
                # closed minute's bills before the seed is in).
                write_config(d, broker.url, http_port, pos.port, printer.port, bills=False)
                daemon.start()
                daemon.stop()
                write_config(d, broker.url, http_port, pos.port, printer.port)
                seed(daemon.state_dir)
                daemon.start()
                api = Api(http_port)

                status, room = api.call("GET", "/api/rooms/" + ROOM)
                self.assertEqual(status, 200, room)
                bills = room["bills"]
                self.assertEqual([b["item"] for b in bills], ["bill", "bill"], bills)
                old, new = bills
                # October's bill: 10.00 + a late fee of 0.15 (30 days x 1000 x 0.0005), overdue.
                self.assertEqual(old["period"], "2026-10")
                self.assertEqual((old["bill_amount_fen"], old["late_fee_fen"], old["paid_fen"],
                                  old["amount_fen"]), (1000, 15, 0, 1015))
                self.assertEqual((old["status"], old["overdue"], old["days_overdue"]),
                                 ("open", True, OVERDUE_DAYS))
                # The bill issued at start took the 20.00; due at its period's end, a minute.
                self.assertRegex(new["period"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/1m$")
                self.assertEqual((new["bill_amount_fen"], new["late_fee_fen"], new["amount_fen"],
                                  new["status"]), (2000, 0, 2000, "open"))
                self.assertEqual(new["due"], new["to"])
                self.assertTrue(new["due"].endswith("+08:00"))
                self.assertEqual(room["due_fen"], 3015)
                self.assertEqual(room["balance_fen"], -3015)
                self.assertEqual(room["unbilled_fen"], 0)
                # Arrears from the overdue bills: 45 days since the oldest, 30.15 owed. The new
                # bill is overdue only once its due second has passed: a start in the first
                # second of a minute reads the room while it is exactly due (not yet overdue).
                due_s = datetime.fromisoformat(new["due"]).timestamp()
                wait_until(lambda: time.time() >= due_s + 1, 5, "the new bill's due second")
                status, room = api.call("GET", "/api/rooms/" + ROOM)
                self.assertEqual(room["arrears"], {"level": 2, "source": "computed",
                                                   "actions": ["warn", "charge_as_visitor", "deny_gate"],
                                                   "overdue_fen": 3015, "days_overdue": OVERDUE_DAYS})
                status, other = api.call("GET", "/api/rooms/" + OTHER)
                self.assertEqual((status, other["bills"], other["arrears"]["level"]), (200, [], 0))

                # A card payment of exactly the old bill: the oldest bill is settled first.
                status, started = api.pay(ROOM, 1015)
                self.assertEqual(status, 202, started)
                pid = started["payment"]["id"]
                api.wait_payment(pid, lambda p: p["applied"] and p["state"] != "authorising")
                status, room = api.call("GET", "/api/rooms/" + ROOM)
                self.assertEqual([b["period"] for b in room["bills"]], [new["period"]])
                self.assertEqual(room["due_fen"], 2000)
                self.assertEqual(room["arrears"]["level"], 1)
                self.assertEqual(room["arrears"]["days_overdue"], 0)

                # The broker got each bill record: issued, the late fee, the payment.
                def got_payment():
                    drain()
                    return any(r.get("kind") == "bill" and r["period"] == "2026-10" and
                               r["change"] == "payment" for r in received)
                wait_until(got_payment, 30, "the paid bill's record")
                mine = [(r["period"], r["change"], r["status"], r["unpaid_fen"])
                        for r in received if r["room"] == ROOM and r["period"] == "2026-10"]
                self.assertEqual(mine, [("2026-10", "late_fee", "open", 1015),
                                        ("2026-10", "payment", "paid", 0)])
                issued = [(r["room"], r["amount_fen"], r["status"]) for r in received
                          if r["change"] == "issued" and r["period"] == new["period"]]
                self.assertEqual(sorted(issued), [(ROOM, 2000, "open"), (OTHER, 0, "paid")])

                # A restart issues nothing again and keeps what is owed.
                daemon.stop()
                daemon.start()
                status, again = api.call("GET", "/api/rooms/" + ROOM)
                self.assertEqual((again["due_fen"], [b["period"] for b in again["bills"]]),
                                 (2000, [new["period"]]))
                self.assertNotIn("handler failed", daemon.logs())
            finally:
                if daemon.proc and daemon.proc.poll() is None:
                    daemon.stop()
                pos.stop()
                printer.stop()
                broker.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
