"""Downlink commands through a real mosquitto: ping, a versioned list (applied, then an older
version refused), a chunked list applied only when complete, a re-delivered command id, an
unknown command, malformed JSON and an oversized message; refusals change nothing stored. A site
without gates stores the card and plate lists as keyed hashes all the same (docs/security.md)."""

import hashlib
import hmac
import json
import os
import sqlite3
import unittest

from harness import Daemon, tempdir
from harness import deliberately_invalid as invalid
from test_bridge import GW, PREFIX, Broker, MqttClient

MAX_COMMAND_BYTES = 1 << 20


def keyed_hash(state_dir, kind, value):
    """privacy::keyed_hash with the gateway's own key (DIR/privacy.key): what the lists keep of
    a normalised card UID (kind card_uid) or plate."""
    with open(os.path.join(state_dir, "privacy.key"), "rb") as f:
        raw = f.read()
    key = raw if len(raw) == 32 else bytes.fromhex(raw.decode().strip())
    return hmac.new(key, f"estate-edge/{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


class BridgeDownlink(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.broker = Broker(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-cmd", clean=True).connect()
        cls.platform.subscribe(PREFIX + "acks")
        cls.platform.subscribe(PREFIX + "state")
        # No heartbeat: only commands and their acks on the wire.
        path = os.path.join(d, "site.yaml")
        with open(path, "w") as f:
            f.write(f"site:\n  id: test-site\ngateway:\n  id: {GW}\n"
                    f"mqtt:\n  url: {cls.broker.url}\n")
        cls.daemon = Daemon(d, path).start()
        # Commands are taken once the gateway has subscribed: its birth message says so.
        cls.platform.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.tmp.cleanup()

    def command(self, name, payload, match_id=True):
        """Publishes on cmd/<name> and returns the ack that answers it."""
        if isinstance(payload, dict) and not match_id:
            payload = json.dumps(payload)  # sent as is; its ack carries no readable id
        ack = self.platform.command(PREFIX, name, payload)
        self.assertIsNotNone(ack, f"no ack for cmd/{name}")
        self.assertEqual(ack["v"], 1)
        self.assertEqual(ack["command"], name)
        return ack

    def db(self):
        return sqlite3.connect(
            f"file:{os.path.join(self.daemon.state_dir, 'estate-edge.db')}?mode=ro", uri=True)

    def list_state(self, name):
        with self.db() as db:
            row = db.execute("SELECT version, items FROM bridge_lists WHERE name=?", (name,)).fetchone()
            keys = [r[0] for r in db.execute(
                "SELECT key FROM bridge_list_items WHERE name=? ORDER BY key", (name,))]
        return row, keys

    def test_ping(self):
        ack = self.command("ping", {"v": 1, "id": "ping-1"})
        self.assertTrue(ack["ok"])
        self.assertTrue(ack["result"]["pong"])
        self.assertIn("backlog", ack["result"])
        self.assertNotIn("error", ack)

    def test_list_versions_old_refused_duplicate_answered(self):
        cards = {"v": 1, "id": "cards-7", "version": 7,
                 "items": [{"key": "04A1B2C3", "unit": "3-201"}, {"key": "04D5E6F7", "unit": "3-202"}]}
        ack = self.command("cards", cards)
        self.assertTrue(ack["ok"], ack)
        self.assertEqual(ack["result"], {"list": "cards", "version": 7, "applied": True,
                                         "items": 2, "chunks": 1})
        # Up to 16 hex digits a UID loses its leading zeros before it is hashed.
        stored = sorted(keyed_hash(self.daemon.state_dir, "card_uid", c)
                        for c in ("4A1B2C3", "4D5E6F7"))
        self.assertEqual(self.list_state("cards"), ((7, 2), stored))
        with self.db() as db:
            items = [json.loads(i) for (i,) in db.execute(
                "SELECT item FROM bridge_list_items WHERE name = 'cards' ORDER BY key")]
        self.assertEqual(sorted(i["shown"] for i in items), ["****B2C3", "****E6F7"])

        old = self.command("cards", {"v": 1, "id": "cards-6", "version": 6,
                                     "items": [{"key": "FFFFFFFF", "unit": "3-203"}]})
        self.assertFalse(old["ok"])
        self.assertEqual(old["error"], "version 6 is not newer than the applied version 7")
        self.assertEqual(self.list_state("cards"), ((7, 2), stored))

        again = self.command("cards", cards)  # the platform re-sends after a lost ack
        self.assertTrue(again["ok"])
        self.assertTrue(again["result"]["duplicate"])
        self.assertEqual(self.list_state("cards"), ((7, 2), stored))

        bad_item = self.command("cards", invalid({"v": 1, "id": "cards-8", "version": 8,
                                          "items": [{"key": "AA"}, {"nokey": 1}]}))
        self.assertFalse(bad_item["ok"])
        self.assertEqual(bad_item["error"], "items[1].key: expected a string of 1 to 128 bytes")
        self.assertEqual(self.list_state("cards"), ((7, 2), stored))

    def test_chunked_list_applies_all_or_nothing(self):
        chunks = [[{"key": f"粤B{i:05d}", "unit": "3-201"} for i in range(c * 500, (c + 1) * 500)] for c in range(3)]
        for c in (0, 2):
            ack = self.command("plates", {"v": 1, "id": f"plates-3-{c}", "version": 3, "chunk": c,
                                          "chunks": 3, "items": chunks[c]})
            self.assertTrue(ack["ok"], ack)
            self.assertFalse(ack["result"]["applied"])
            self.assertEqual(self.list_state("plates"), (None, []))
        ack = self.command("plates", {"v": 1, "id": "plates-3-1", "version": 3, "chunk": 1,
                                      "chunks": 3, "items": chunks[1]})
        self.assertTrue(ack["ok"], ack)
        self.assertTrue(ack["result"]["applied"])
        self.assertEqual(ack["result"]["items"], 1500)
        version, keys = self.list_state("plates")
        self.assertEqual(version, (3, 1500))
        self.assertEqual(keys, sorted(keyed_hash(self.daemon.state_dir, "plate", i["key"])
                                      for c in chunks for i in c))

    def test_malformed_and_unknown_and_bad_envelope(self):
        ack = self.command("cards", invalid(b'{"v":1,"id":"x", "version": '), match_id=False)
        self.assertFalse(ack["ok"])
        self.assertIsNone(ack["id"])
        self.assertIn("not valid JSON", ack["error"])

        ack = self.command("valve", invalid({"v": 1, "id": "valve-1", "meter": "m1", "open": False}))
        self.assertFalse(ack["ok"])
        self.assertIn("unknown command 'valve'", ack["error"])

        ack = self.command("ping", invalid({"v": 9, "id": "ping-v9"}))
        self.assertFalse(ack["ok"])
        self.assertIn("v: expected 1", ack["error"])

        ack = self.command("tariffs", invalid({"v": 1, "id": "t-1", "version": "latest", "items": []}))
        self.assertFalse(ack["ok"])
        self.assertIn("version:", ack["error"])
        self.assertEqual(self.list_state("tariffs"), (None, []))

    def test_oversized_message_is_refused(self):
        items = [{"key": f"{i:08X}", "pad": "x" * 100} for i in range(MAX_COMMAND_BYTES // 100)]
        payload = json.dumps({"v": 1, "id": "arrears-huge", "version": 1, "items": items})
        self.assertGreater(len(payload), MAX_COMMAND_BYTES)
        ack = self.command("arrears", invalid(payload), match_id=False)
        self.assertFalse(ack["ok"])
        self.assertIsNone(ack["id"])
        self.assertIn("exceeds the limit of 1048576 bytes", ack["error"])
        self.assertEqual(self.list_state("arrears"), (None, []))
        # Still serving afterwards.
        self.assertTrue(self.command("ping", {"v": 1, "id": "ping-after-huge"})["ok"])


if __name__ == "__main__":
    unittest.main()
