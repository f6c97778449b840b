"""QR payment codes end to end (docs/mqtt-api.md, "payment-requests" and "qr-result"): the real
daemon with its kiosk API, a real mosquitto, and a platform played by this test, which holds the
platform's Ed25519 key and signs its answers with `estate-edge sign-command`. A payment code
posted as the kiosk's scanner would is journaled, its charge request reaches the broker (valid
against docs/schemas/payment-requests.schema.json), and the platform's signed cmd/qr-result
approves it (the room is credited), declines it, or — not answered in time — leaves it unknown
until the gateway's query is answered. The code never reaches the journal, the audit log or the
daemon's log."""

import hashlib
import json
import os
import sqlite3
import time
import unittest
import uuid

import harness
from harness import Daemon, Mosquitto, free_port, run_cli, tempdir
from test_bridge import GW, PREFIX, MqttClient, stamped
from test_payment_kiosk import Api, KIOSK_TOKEN, TECH_TOKEN, sha

ROOM = "1-2-301"
WECHAT = ["134567890123456789", "101234567890123456", "151111222233334444"]
ALIPAY = "28763443825664394"


def write_seed(path):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    return path


class Platform:
    """The platform's MQTT side: keeps every payment request and ack it receives (the test's
    client reads one message at a time, so nothing read while waiting for one thing is lost)."""

    def __init__(self, port, key):
        self.key = key
        self.client = MqttClient(port, "platform-qr", clean=True).connect()
        for t in ("acks", "state", "payment-requests"):
            self.client.subscribe(PREFIX + t)
        self.requests, self.acks = [], []

    def pump(self, timeout):
        msg = self.client.recv(timeout)
        if msg is None:
            return False
        topic, payload = msg
        if topic == PREFIX + "payment-requests":
            doc = json.loads(payload)
            self.requests += doc if isinstance(doc, list) else [doc]
        elif topic == PREFIX + "acks":
            self.acks.append(json.loads(payload))
        return True

    def wait(self, find, what, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            found = find()
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout}s")
            self.pump(min(left, 1.0))

    def request(self, kind, payment_id, timeout=30):
        return self.wait(lambda: next((r for r in self.requests if r["kind"] == kind and
                                       r["payment_id"] == payment_id), None),
                         f"{kind} for {payment_id}", timeout)

    def answer(self, body):
        """Signs and publishes cmd/qr-result; returns its ack."""
        body = dict(body, id=body.get("id") or "qr-" + uuid.uuid4().hex[:12])
        p = run_cli("sign-command", "qr-result", "-", "--key", self.key, "--valid-for", "300",
                    input=json.dumps(body), check=0)
        message = json.loads(p.stdout)
        self.client.publish(PREFIX + "cmd/qr-result", json.dumps(message))
        return self.wait(lambda: next((a for a in self.acks if a["id"] == body["id"]), None),
                         "ack of " + body["id"])

    def close(self):
        self.client.close()


class QrPayments(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.key = write_seed(os.path.join(d, "platform.key"))
        public = run_cli("sign-command", "--public-key", "--key", cls.key, check=0).stdout.strip()
        cls.broker = Mosquitto(d).start()
        cls.platform = Platform(cls.broker.port, cls.key)
        cls.http_port = free_port()
        path = os.path.join(d, "site.yaml")
        with open(path, "w") as f:
            f.write(f"""site:
  id: test-site
  name: 阳光花园
gateway:
  id: {GW}
mqtt:
  url: {cls.broker.url}
http:
  listen: 127.0.0.1:{cls.http_port}
  tokens:
    - {{ name: kiosk-1, role: kiosk, sha256: {sha(KIOSK_TOKEN)} }}
    - {{ name: tech, role: technician, sha256: {sha(TECH_TOKEN)} }}
devices:
  - {{ id: kiosk-b1, kind: kiosk }}
tariffs:
  - {{ id: water-res, quantity: water, unit: m3, price: "5.00" }}
accounts:
  - {{ room: "{ROOM}", meters: [] }}
kiosk:
  qr_answer_timeout_ms: 1500
  qr_query_interval_ms: 300
security:
  platform_public_keys: ["{public}"]
""")
        cls.daemon = Daemon(d, path).start()
        cls.db = os.path.join(cls.daemon.state_dir, "estate-edge.db")
        cls.api = Api(cls.http_port)
        cls.platform.client.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop()
            logs = cls.daemon.logs()
            for code in WECHAT + [ALIPAY]:
                assert code not in logs, "a payment code reached the daemon's log"
        finally:
            cls.platform.close()
            cls.broker.stop()
            cls.tmp.cleanup()

    def balance(self):
        return harness.query(self.db, "SELECT balance_fen FROM billing_accounts WHERE room = ?",
                             (ROOM,))[0][0]

    def scan(self, code, fen, kind="topup"):
        """As the kiosk page does: the room's sale handle, then the scanned code."""
        status, room = self.api.call("GET", "/api/rooms/" + ROOM)
        self.assertEqual(status, 200, room)
        self.assertTrue(room["qr_payments"])
        return self.api.call("POST", "/api/payments/qr",
                             {"sale": room["sale"], "amount_fen": fen, "kind": kind,
                              "auth_code": code},
                             headers={"Idempotency-Key": uuid.uuid4().hex})

    def stored_anywhere(self, code):
        db = sqlite3.connect(self.db)
        try:
            n = 0
            for sql in ("SELECT count(*) FROM payments WHERE instr(id || room || method || "
                        "COALESCE(result_code,'') || COALESCE(auth_code,'') || COALESCE(rrn,'') || "
                        "COALESCE(card,'') || COALESCE(message,''), ?) > 0",
                        "SELECT count(*) FROM payment_transitions WHERE instr(detail, ?) > 0",
                        "SELECT count(*) FROM audit_log WHERE instr(detail, ?) > 0",
                        "SELECT count(*) FROM outbox WHERE instr(payload, ?) > 0"):
                n += db.execute(sql, (code,)).fetchone()[0]
            return n
        finally:
            db.close()

    def check_schema(self, record):
        errors = harness.contract().errors("payment-requests.schema.json", record)
        self.assertEqual(errors, [], record)

    def test_1_scanned_code_is_charged_by_the_platform_and_the_room_credited(self):
        before = self.balance()
        status, body = self.scan(WECHAT[0], 5000)
        self.assertEqual(status, 202, body)
        pid = body["payment"]["id"]
        self.assertEqual(body["payment"]["method"], "wechat")
        self.assertEqual(body["payment"]["state"], "authorising")
        self.assertNotIn("auth_code", body["payment"])
        req = self.platform.request("payment.qr_charge", pid)
        self.check_schema(req)
        self.assertEqual((req["auth_code"], req["amount_fen"], req["room"], req["method"],
                          req["payment_kind"]), (WECHAT[0], 5000, ROOM, "wechat", "topup"))
        ack = self.platform.answer({"payment_id": pid, "result": "approved", "amount_fen": 5000,
                                    "result_code": "SUCCESS",
                                    "transaction_id": "4200001234202612040000000001"})
        self.assertTrue(ack["ok"], ack)
        self.assertEqual(ack["result"], {"payment_id": pid, "state": "approved", "changed": True})
        p = self.api.wait_payment(pid, lambda p: p["applied"] and p["receipt_attempts"] > 0)
        self.assertEqual(p["topped_up_fen"], 5000)
        self.assertEqual(p["rrn"], "4200001234202612040000000001")
        self.assertEqual(self.balance(), before + 5000)
        # The same answer again under a new command id, and a late decline: nothing changes.
        ack = self.platform.answer({"payment_id": pid, "result": "approved", "amount_fen": 5000})
        self.assertEqual(ack["result"], {"payment_id": pid, "state": "approved", "changed": False})
        ack = self.platform.answer({"payment_id": pid, "result": "declined",
                                    "result_code": "SYSTEMERROR"})
        self.assertFalse(ack["result"]["changed"])
        self.assertEqual(self.balance(), before + 5000)
        # The record of the outcome on transactions; the code nowhere once the broker took it.
        harness.contract()  # (every message on the broker is checked at its stop as well)
        self.platform.wait(lambda: True if self.stored_anywhere(WECHAT[0]) == 0 else None,
                           "the charge request to leave the outbox")
        rows = harness.query(self.db, "SELECT json_extract(payload, '$.status'), "
                             "json_extract(payload, '$.method') FROM outbox WHERE stream = "
                             "'transactions' AND json_extract(payload, '$.payment_id') = ?", (pid,))
        self.assertIn(rows, ([("approved", "wechat")], []))  # [] once the broker took it too

    def test_2_declined_code_charges_nothing(self):
        before = self.balance()
        status, body = self.scan(ALIPAY, 1200, kind="pay")
        self.assertEqual(status, 202, body)
        pid = body["payment"]["id"]
        self.assertEqual(body["payment"]["method"], "alipay")
        self.check_schema(self.platform.request("payment.qr_charge", pid))
        ack = self.platform.answer({"payment_id": pid, "result": "declined",
                                    "result_code": "ACQ.PAYMENT_AUTH_CODE_INVALID",
                                    "message": "付款码无效"})
        self.assertTrue(ack["ok"], ack)
        p = self.api.wait_payment(pid, lambda p: p["state"] == "declined")
        self.assertEqual(p["result_code"], "ACQ.PAYMENT_AUTH_CODE_INVALID")
        self.assertFalse(p["applied"])
        self.assertEqual(self.balance(), before)

    def test_3_unanswered_code_goes_unknown_and_the_query_answer_settles_it(self):
        before = self.balance()
        status, body = self.scan(WECHAT[1], 700)
        self.assertEqual(status, 202, body)
        pid = body["payment"]["id"]
        self.platform.request("payment.qr_charge", pid)
        # No answer: after kiosk.qr_answer_timeout_ms the payment is unknown and asked about.
        self.api.wait_payment(pid, lambda p: p["state"] == "unknown")
        query = self.platform.request("payment.qr_query", pid)
        self.check_schema(query)
        self.assertNotIn("auth_code", query)
        tech = Api(self.http_port, token=TECH_TOKEN)
        status, listed = tech.call("GET", "/api/payments?state=unknown")
        self.assertIn(pid, [p["id"] for p in listed["payments"]])
        # Still paying (the payer confirms on the phone): asked again.
        ack = self.platform.answer({"payment_id": pid, "result": "unknown",
                                    "result_code": "USERPAYING"})
        self.assertEqual(ack["result"]["state"], "unknown")
        asked = len([r for r in self.platform.requests if r["payment_id"] == pid])
        self.platform.wait(lambda: True if len([r for r in self.platform.requests
                                                if r["payment_id"] == pid]) > asked else None,
                           "another query")
        ack = self.platform.answer({"payment_id": pid, "result": "approved", "amount_fen": 700,
                                    "result_code": "SUCCESS"})
        self.assertEqual(ack["result"]["changed"], True)
        p = self.api.wait_payment(pid, lambda p: p["applied"])
        self.assertEqual(p["state"] in ("approved", "receipt_printed", "uploaded"), True)
        self.assertEqual(self.balance(), before + 700)
        rows = harness.query(self.db, "SELECT state FROM payment_transitions WHERE payment_id = ? "
                             "ORDER BY id", (pid,))
        self.assertEqual([r[0] for r in rows], ["intent", "authorising", "unknown", "approved"])

    def test_4_bad_codes_and_stray_answers_change_nothing(self):
        count = lambda: harness.query(self.db, "SELECT count(*) FROM payments")[0][0]  # noqa: E731
        before = count()
        for code in ("13456789012345678", "995112298638468293", "13456789012345678x", "",
                     "6212345678901234567"):
            status, body = self.scan(code, 100)
            self.assertEqual(status, 400, body)
            self.assertTrue(body["message"].startswith("auth_code: "), body)
        status, body = self.api.call("POST", "/api/payments/qr",
                                     {"room": ROOM, "amount_fen": 100, "auth_code": WECHAT[2]},
                                     headers={"Idempotency-Key": uuid.uuid4().hex})
        self.assertEqual(status, 403, body)  # a kiosk pays only the room it looked up
        self.assertEqual(count(), before)
        ack = self.platform.answer({"payment_id": "test-gw-pay-99999", "result": "approved",
                                    "amount_fen": 100})
        self.assertFalse(ack["ok"])
        self.assertEqual(ack["error"], "payment_id: no QR payment 'test-gw-pay-99999' on this gateway")
        # Unsigned: refused by the bridge before the kiosk sees it.
        self.platform.client.publish(PREFIX + "cmd/qr-result", json.dumps(stamped(
            {"v": 1, "id": "qr-unsigned", "payment_id": "x", "result": "unknown"})))
        ack = self.platform.wait(lambda: next((a for a in self.platform.acks
                                               if a["id"] == "qr-unsigned"), None), "ack")
        self.assertTrue(ack["error"].startswith("signature: missing"), ack)


class KioskSection(unittest.TestCase):
    """The `kiosk:` section (docs/config.md): check-config takes it in range and names a value
    out of range or a misspelt key at its file:line:column."""

    BASE = "site:\n  id: test-site\ngateway:\n  id: test-gw\n"

    def check(self, section):
        with tempdir() as d:
            path = os.path.join(d, "site.yaml")
            with open(path, "w") as f:
                f.write(self.BASE + section)
            p = run_cli("check-config", path, check=None)
            return path, p

    def test_in_range_passes(self):
        _, p = self.check("kiosk:\n  qr_answer_timeout_ms: 1000\n  qr_query_interval_ms: 3600000\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ok (site test-site", p.stdout)

    def test_out_of_range_and_unknown_keys_are_refused_where_written(self):
        path, p = self.check("kiosk:\n  qr_answer_timeout_ms: 999\n  qr_query_interval_ms: 199\n"
                             "  qr_timeout_ms: 5000\n")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"{path}:6:25: kiosk.qr_answer_timeout_ms: 999 is out of range "
                      "[1000, 600000]", p.stderr)
        self.assertIn(f"{path}:7:25: kiosk.qr_query_interval_ms: 199 is out of range "
                      "[200, 3600000]", p.stderr)
        self.assertIn(f"{path}:8:3: kiosk.qr_timeout_ms: unknown key", p.stderr)


if __name__ == "__main__":
    unittest.main()
