"""A parking fee paid at the kiosk's POS, end to end: the real daemon with a car park (I/O
module played by pymodbus, tests/sim/gate_io_sim.py; plate cameras pushing over HTTP), the POS
simulator and the receipt printer simulator on loopback.

A visitor drives in; the kiosk page (headless Chromium, when installed) finds the car by its
plate and shows the fee; a payment for a stale amount is refused before the terminal; the fee is
paid by card at the simulated POS (one charge at the bank), the receipt is printed, the session
is paid, and at the exit the barrier opens without waiting; the session is closed and a second
payment for it is refused without touching the terminal."""

import hashlib
import json
import os
import select
import time
import unittest
import urllib.parse

from harness import Daemon, camera_push, free_port, gate_yaml, io_bus_yaml, tempdir
from test_gate import IoModule
from test_kiosk_page import CHROMIUM, chromium
from test_payment_kiosk import KIOSK_TOKEN, Api, Sim, by_payment, db_query, pos_printer_yaml

SECRET_IN = "9c1d6e0f4b2a87d35e61f0a4c7b29e18"  # 128 bits: check-config refuses less
SECRET_OUT = "e3b7a1045fd2c69880a7d14e2c5f9b36"  # 128 bits: check-config refuses less
VISITOR = "苏E65432"


def wait_until(what, probe, timeout=30):
    """Calls probe() until it returns something true (bounded); returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        select.select([], [], [], 0.05)
    raise TimeoutError(f"{what}: not within {timeout}s (last: {last})")


class KioskParking(unittest.TestCase):
    def setUp(self):
        self.tmp = tempdir()
        d = self.tmp.name
        self.io = IoModule()
        self.ledger = os.path.join(d, "bank.json")
        self.receipts = os.path.join(d, "receipts.bin")
        self.pos = Sim("pos_sim.py", "--mode", "approve", "--ledger", self.ledger)
        self.printer = Sim("printer_sim.py", "--state", "ok", "--out", self.receipts,
                           "--state-file", os.path.join(d, "printer.state"))
        self.http_port = free_port()
        token_sha = hashlib.sha256(KIOSK_TOKEN.encode()).hexdigest()
        path = os.path.join(d, "site.yaml")
        pos_buses, pos_devices = pos_printer_yaml(self.pos.port, self.printer.port)
        with open(path, "w") as f:
            f.write(f"""site:
  id: test-site
  name: 阳光花园
gateway:
  id: test-gw
http:
  listen: 127.0.0.1:{self.http_port}
  tokens:
    - {{name: kiosk-1, role: kiosk, sha256: {token_sha}}}
buses:
{io_bus_yaml(self.io.port)}{pos_buses}devices:
{gate_yaml("gate-in", "entry", 0, "cam-in", SECRET_IN)}{gate_yaml("gate-out", "exit", 1, "cam-out", SECRET_OUT, io_module=False)}{pos_devices}parking_rules:
  - id: visitor
    free_minutes: 0
    unit_minutes: 60
    unit_price_fen: 500
    daily_cap_fen: 2000
""")
        self.daemon = Daemon(d, path).start()
        self.api = Api(self.http_port)
        # Start-up: both barriers are closed once their loops read clear.
        self.io.wait_for("COIL 0 0")
        self.io.wait_for("COIL 1 0")

    def tearDown(self):
        try:
            rc = self.daemon.stop()
            self.assertEqual(rc, 0, "daemon exit")
        finally:
            self.io.stop()
            self.pos.stop()
            self.printer.stop()
            self.tmp.cleanup()

    def session(self):
        return self.api.call("GET", "/api/parking/sessions?plate=" + urllib.parse.quote(VISITOR))

    def bank(self):
        if not os.path.exists(self.ledger):
            return {}
        with open(self.ledger) as f:
            ledger = json.load(f)
        pids = [pid for (pid,) in db_query(self.daemon.state_dir, "SELECT id FROM payments")]
        return by_payment(ledger, pids)

    def test_visitor_pays_at_the_kiosk_pos_and_leaves_without_waiting(self):
        status, _ = camera_push(self.http_port, VISITOR, SECRET_IN)
        self.assertEqual(status, 200)
        self.io.wait_for("COIL 0 1")
        # free_minutes is 0: any stay of a second or more is one started unit.
        s = wait_until("a fee is due", lambda: (lambda r: r[1] if r[0] == 200 and r[1]["due_fen"] > 0
                                                else None)(self.session()))
        self.assertEqual((s["state"], s["rule"], s["due_fen"]), ("parked", "visitor", 500))
        session = s["session"]

        if CHROMIUM:
            url = (f"http://127.0.0.1:{self.http_port}/kiosk/?token={KIOSK_TOKEN}&plate="
                   + urllib.parse.quote(VISITOR))
            dom = chromium(os.path.join(self.tmp.name, "profile"), url, "--dump-dom")
            self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
            self.assertIn('<section id="parking" class="panel">', dom.stdout)
            self.assertIn(f'<span id="park-plate">{s["plate"]}</span>', dom.stdout)
            self.assertIn('<span id="park-due" class="money">¥5.00</span>', dom.stdout)

        # The kiosk pays the session its plate search found, by the search's sale handle: a
        # session named by its number (they are sequential) is refused without telling whether
        # it exists or what it owes, and so is another handle or a session not the handle's.
        sale = s["sale"]
        self.assertRegex(sale, r"^[0-9a-f]{32}$")
        for n, (body, want) in enumerate([
                ({"kind": "parking", "session": session, "amount_fen": 500}, (403, "no_sale")),
                ({"kind": "parking", "session": session + 1000, "amount_fen": 500},
                 (403, "no_sale")),
                ({"kind": "parking", "sale": "0" * 32, "amount_fen": 500}, (403, "no_sale")),
                ({"kind": "parking", "sale": sale, "session": session + 1, "amount_fen": 500},
                 (400, "bad_request"))]):
            status, err = self.api.call("POST", "/api/payments", body,
                                        headers={"Idempotency-Key": f"park-scope-{n}"})
            self.assertEqual((status, err["error"]), want, (body, err))
            self.assertNotIn("owes", err["message"])
        # A stale amount and garbage are refused before the terminal.
        status, err = self.api.call("POST", "/api/payments",
                                    {"kind": "parking", "sale": sale, "amount_fen": 400},
                                    headers={"Idempotency-Key": "park-1"})
        self.assertEqual((status, err["error"]), (409, "fee_changed"), err)
        self.assertIn("owes 500 fen", err["message"])
        status, err = self.api.call("POST", "/api/payments",
                                    {"kind": "parking", "sale": 1, "amount_fen": 500},
                                    headers={"Idempotency-Key": "park-3"})
        self.assertEqual(status, 403, err)
        self.assertEqual(self.bank(), {})

        status, body = self.api.call("POST", "/api/payments",
                                     {"kind": "parking", "sale": sale, "amount_fen": 500,
                                      "method": "card"},
                                    headers={"Idempotency-Key": "park-4"})
        self.assertEqual(status, 202, body)
        pid = body["payment"]["id"]
        self.assertEqual((body["payment"]["kind"], body["payment"]["room"]),
                         ("parking", f"parking-{session}"))
        p = self.api.wait_payment(pid, lambda p: p["state"] == "receipt_printed")
        self.assertTrue(p["applied"])
        self.assertEqual(p["settled_fen"], 500)
        self.assertEqual(self.bank(), {pid: 500})
        with open(self.receipts, "rb") as f:
            self.assertIn("停车缴费".encode("gb18030"), f.read())

        status, s = self.session()
        self.assertEqual((status, s["state"], s["due_fen"], s["paid_fen"]), (200, "paid", 0, 500))
        rows = db_query(self.daemon.state_dir,
                        "SELECT state, paid_fen, payment_ref FROM parking_sessions WHERE id = ?",
                        session)
        self.assertEqual(rows, [("paid", 500, pid)])

        # Within the grace time the exit opens at once and the session closes.
        status, _ = camera_push(self.http_port, VISITOR, SECRET_OUT, camera="cam-out", lane="exit")
        self.assertEqual(status, 200)
        self.io.wait_for("COIL 1 1")
        wait_until("the session is closed", lambda: self.session()[0] == 404)

        # Paying the closed session again is refused without a second sale.
        status, err = self.api.call("POST", "/api/payments",
                                    {"kind": "parking", "sale": sale, "amount_fen": 500},
                                    headers={"Idempotency-Key": "park-5"})
        self.assertEqual((status, err["error"]), (409, "nothing_due"), err)
        self.assertEqual(self.bank(), {pid: 500})
        records = db_query(self.daemon.state_dir,
                           "SELECT json_extract(payload, '$.status') FROM outbox WHERE stream = "
                           "'transactions' AND json_extract(payload, '$.payment_id') = ?", pid)
        self.assertEqual(records, [("approved",)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
