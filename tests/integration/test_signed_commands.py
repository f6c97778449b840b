"""Platform commands with proof (docs/mqtt-api.md, "Signed commands"), the real daemon with a
platform key in security.platform_public_keys against a real mosquitto, an I/O module played by
tests/sim/gate_io_sim.py and a prepaid room. Messages are signed with `estate-edge sign-command`.
A signed topup and a signed gate-open run; an unsigned one, one signed by another key, one
changed after signing, a late one and a replayed id each get their documented ack and change
nothing (balance, top-up rows, the gate's audit entries, the relay); a replay after a restart gets
the stored answer; 1 MiB of '[' gets an error ack and the gateway serves on."""

import hashlib
import http.client
import json
import os
import time
import unittest

from harness import (Daemon, Mosquitto, free_port, gate_yaml, io_bus_yaml, query, run_cli,
                     tempdir)
from harness import deliberately_invalid
from test_bridge import GW, PREFIX, MqttClient, stamped
from test_gate import IoModule

ROOM = "1-1-101"
ADMIN = os.urandom(16).hex()


def write_seed(path):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    return path


class SignedCommands(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.key = write_seed(os.path.join(d, "platform.key"))
        cls.other_key = write_seed(os.path.join(d, "attacker.key"))
        public = run_cli("sign-command", "--public-key", "--key", cls.key, check=0).stdout.strip()
        cls.io = IoModule()
        cls.broker = Mosquitto(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-signed", clean=True).connect()
        cls.platform.subscribe(PREFIX + "acks")
        cls.platform.subscribe(PREFIX + "state")
        cls.db = os.path.join(d, "state", "estate-edge.db")
        cls.http_port = free_port()
        admin_hash = hashlib.sha256(ADMIN.encode()).hexdigest()
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
  tokens:
    - {{ name: admin-1, role: admin, sha256: {admin_hash} }}
buses:
{io_bus_yaml(cls.io.port)}  - {{ id: water, kind: serial, protocol: cjt188, device: /dev/null }}
devices:
{gate_yaml("gate-in", "entry", 0)}  - {{ id: w1, kind: meter, bus: water, address: "00000000000001", medium: water }}
tariffs:
  - {{ id: water-base, quantity: water, unit: m3, price: "3.00" }}
accounts:
  - {{ room: "{ROOM}", meters: [{{ meter: w1, tariff: water-base }}] }}
security:
  platform_public_keys: ["{public}"]
""")
        cls.daemon = Daemon(d, path).start()
        cls.platform.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.io.stop()
        cls.tmp.cleanup()

    def sign(self, name, body, *args, key=None):
        p = run_cli("sign-command", name, "-", "--key", key or self.key, *args,
                    input=json.dumps(body), check=0)
        return json.loads(p.stdout)

    def send(self, name, message):
        ack = self.platform.command(PREFIX, name, message)
        self.assertIsNotNone(ack, f"no ack for cmd/{name}")
        self.assertEqual(ack["command"], name)
        return ack

    def balance(self):
        rows = query(self.db, "SELECT balance_fen FROM billing_accounts WHERE room = ?", (ROOM,))
        return rows[0][0] if rows else 0

    def count(self, sql):
        return query(self.db, sql)[0][0]

    def manual_opens(self):
        return self.count("SELECT count(*) FROM audit_log WHERE kind = 'gate.manual_open'")

    def topup(self, cid, amount=5000, ref=None):
        return {"id": cid, "room": ROOM, "amount_fen": amount, "ref": ref or "pay-" + cid}

    def test_1_refused_commands_change_nothing(self):
        before = (self.balance(), self.count("SELECT count(*) FROM billing_topups"),
                  self.manual_opens())
        # Unsigned (with valid times).
        ack = self.send("topup", stamped(dict(self.topup("t-unsigned"), v=1)))
        self.assertFalse(ack["ok"])
        self.assertEqual(ack["id"], "t-unsigned")
        self.assertTrue(ack["error"].startswith("signature: missing"), ack)
        ack = self.send("gate-open", stamped({"v": 1, "id": "g-unsigned", "gate": "gate-in"}))
        self.assertTrue(ack["error"].startswith("signature: missing"), ack)
        # Signed by a key the site does not trust.
        ack = self.send("topup", self.sign("topup", self.topup("t-other"), key=self.other_key))
        self.assertTrue(ack["error"].startswith("signature: does not verify"), ack)
        # Signed by the platform, then changed (the amount) on the way.
        m = self.sign("topup", self.topup("t-changed"))
        m["amount_fen"] = 900000
        ack = self.send("topup", m)
        self.assertTrue(ack["error"].startswith("signature: does not verify"), ack)
        # A valid signature on one command is worthless on another topic.
        m = self.sign("relay", {"id": "g-topic", "gate": "gate-in"})
        ack = self.send("gate-open", m)
        self.assertTrue(ack["error"].startswith("signature: does not verify"), ack)
        # Late: past expires; and a gate-open older than its 60 s max age.
        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
        ack = self.send("topup", self.sign("topup", self.topup("t-late"), "--issued-at", old,
                                           "--valid-for", "3600"))
        self.assertTrue(ack["error"].startswith("expired: expires was"), ack)
        minutes_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
        ack = self.send("gate-open", self.sign("gate-open", {"id": "g-late", "gate": "gate-in"},
                                               "--issued-at", minutes_ago, "--valid-for", "3600"))
        self.assertTrue(ack["error"].startswith("expired: issued"), ack)
        self.assertIn("gate-open may run at most 60 s", ack["error"])
        after = (self.balance(), self.count("SELECT count(*) FROM billing_topups"),
                 self.manual_opens())
        self.assertEqual(after, before)
        self.assertEqual(self.io.coil(0), 0)
        # ping needs no signature.
        self.assertTrue(self.send("ping", stamped({"v": 1, "id": "ping-1"}))["ok"])

    def test_2_signed_commands_run_once(self):
        before = self.balance()
        m = self.sign("topup", self.topup("t-1", 5000))
        ack = self.send("topup", m)
        self.assertTrue(ack["ok"], ack)
        self.assertEqual(self.balance(), before + 5000)
        # The same message again (a replay, or QoS 1 re-delivery): the stored answer, no credit.
        again = self.send("topup", m)
        self.assertTrue(again["ok"])
        self.assertTrue(again["result"]["duplicate"])
        self.assertEqual(again["result"]["balance_fen"], ack["result"]["balance_fen"])
        self.assertEqual(self.balance(), before + 5000)

        g = self.sign("gate-open", {"id": "g-1", "gate": "gate-in", "reason": "visitor"})
        ack = self.send("gate-open", g)
        self.assertTrue(ack["ok"], ack)
        self.io.wait_for("COIL 0 1")
        self.assertEqual(self.manual_opens(), 1)
        again = self.send("gate-open", g)
        self.assertTrue(again["ok"])
        self.assertTrue(again["result"]["duplicate"])
        self.assertEqual(self.manual_opens(), 1)

    def test_3_deep_nesting_gets_an_error_ack(self):
        ack = self.platform.command(PREFIX, "gate-open", deliberately_invalid(b"[" * (1 << 20)))
        self.assertIsNotNone(ack)
        self.assertFalse(ack["ok"])
        self.assertIsNone(ack["id"])
        self.assertEqual(ack["error"], "nesting: deeper than 64 levels at byte 64")
        self.assertTrue(self.send("ping", stamped({"v": 1, "id": "ping-after-deep"}))["ok"])

    def post(self, path, body):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        c.request("POST", path, body=body, headers={"Authorization": f"Bearer {ADMIN}",
                                                    "Content-Type": "application/json"})
        r = c.getresponse()
        status, text = r.status, r.read()
        c.close()
        return status, json.loads(text)

    def test_3b_admin_lists_need_a_token_not_a_signature_and_deep_bodies_are_refused(self):
        status, j = self.post("/api/admin/lists/cards",
                              json.dumps({"version": 1, "items": [{"key": "0A1B2C3D", "unit": ROOM}]}))
        self.assertEqual(status, 200, j)
        self.assertTrue(j["applied"])
        status, j = self.post("/api/admin/lists/cards", b"[" * 60000)
        self.assertEqual(status, 400, j)
        status, j = self.post("/api/admin/lists/cards",
                              b'{"version":2,"items":' + b"[" * 30000 + b"]" * 30000 + b"}")
        self.assertEqual(status, 400, j)
        self.assertEqual(self.count("SELECT version FROM bridge_lists WHERE name = 'cards'"), 1)

    def test_4_a_replay_after_a_restart_gets_the_stored_answer(self):
        before = self.balance()
        m = self.sign("topup", self.topup("t-restart", 700))
        self.assertTrue(self.send("topup", m)["ok"])
        self.assertEqual(self.balance(), before + 700)
        self.daemon.stop()
        self.daemon.start()
        self.platform.wait_online(PREFIX)
        again = self.send("topup", m)
        self.assertTrue(again["ok"], again)
        self.assertTrue(again["result"]["duplicate"])
        self.assertEqual(self.balance(), before + 700)


class CheckConfig(unittest.TestCase):
    def test_warns_without_a_platform_key(self):
        with tempdir() as d:
            path = os.path.join(d, "site.yaml")
            base = f"site:\n  id: s\ngateway:\n  id: g\nmqtt:\n  url: mqtts://platform.example:8883\n"
            with open(path, "w") as f:
                f.write(base)
            p = run_cli("check-config", path, check=0)
            self.assertIn("security.platform_public_keys: warning: not set: commands from the "
                          "platform", p.stderr)
            self.assertIn(": ok (", p.stdout)
            j = json.loads(run_cli("check-config", "--json", path, check=0).stdout)
            self.assertTrue(j["ok"])
            self.assertEqual([w["key"] for w in j["warnings"]], ["security.platform_public_keys"])
            # With a key (or without an uplink): no warning.
            seed = write_seed(os.path.join(d, "k"))
            public = run_cli("sign-command", "--public-key", "--key", seed, check=0).stdout.strip()
            with open(path, "w") as f:
                f.write(base + f"security:\n  platform_public_keys: [{public}]\n")
            self.assertEqual(run_cli("check-config", path, check=0).stderr, "")
            with open(path, "w") as f:
                f.write(base + "security:\n  platform_public_keys: [abc]\n")
            p = run_cli("check-config", path, check=2)
            self.assertIn("security.platform_public_keys: entry[0]: expected an Ed25519 public key",
                          p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
