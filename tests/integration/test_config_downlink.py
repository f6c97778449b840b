"""Config and money from the platform through a real mosquitto: cmd/config writes
conf.d/90-platform.yaml and reloads; the tariffs list becomes conf.d/80-platform-tariffs.yaml and
billing prices with it. An invalid drop-in, a changed gateway id or an invalid tariff is refused
with the config's own file:line:column error, and the files on disk and the running config stay
as they were. cmd/topup credits a room once per payment reference."""

import json
import os
import unittest

from harness import Daemon, run_cli, tempdir
from test_bridge import GW, PREFIX, Broker, MqttClient

import harness

# Hostile commands sent on purpose: not checked against docs/schemas.
for _id in ("cfg-bad-1", "cfg-bad-2", "cfg-bad-3", "top-bad-1", "top-bad-2", "top-bad-3", "top-bad-4", "top-bad-5"):
    harness.deliberately_invalid(_id)

SITE = """site:
  id: test-site
gateway:
  id: {gw}
mqtt:
  url: {url}
buses:
  - {{ id: water, kind: serial, protocol: cjt188, device: /dev/null }}
devices:
  - {{ id: w1, kind: meter, bus: water, address: "00000000000001", medium: water }}
tariffs:
  - {{ id: water-base, quantity: water, unit: m3, price: "3.00" }}
accounts:
  - {{ room: "1-1-101", meters: [{{ meter: w1, tariff: water-base }}] }}
"""


class ConfigDownlink(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.broker = Broker(d).start()
        cls.platform = MqttClient(cls.broker.port, "platform-config", clean=True).connect()
        cls.platform.subscribe(PREFIX + "acks")
        cls.platform.subscribe(PREFIX + "state")
        cls.site = os.path.join(d, "site.yaml")
        with open(cls.site, "w") as f:
            f.write(SITE.format(gw=GW, url=cls.broker.url))
        cls.confd = os.path.join(d, "conf.d")
        cls.daemon = Daemon(d, cls.site).start()
        cls.platform.wait_online(PREFIX)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.platform.close()
        cls.broker.stop()
        cls.tmp.cleanup()

    def command(self, name, payload):
        ack = self.platform.command(PREFIX, name, payload)
        self.assertIsNotNone(ack, f"no ack for cmd/{name}")
        return ack

    def dropin(self, name):
        path = os.path.join(self.confd, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def test_1_config_dropin_applied_then_refusals_change_nothing(self):
        good = "logging:\n  level: debug\n"
        ack = self.command("config", {"v": 1, "id": "cfg-1", "yaml": good})
        self.assertTrue(ack["ok"], ack)
        self.assertEqual(ack["result"]["file"], "conf.d/90-platform.yaml")
        self.assertEqual(self.dropin("90-platform.yaml"), good)
        self.assertIn("configuration reloaded with conf.d/90-platform.yaml", self.daemon.logs())

        # A misspelt key: refused with file:line:column, the file on disk unchanged.
        ack = self.command("config", {"v": 1, "id": "cfg-2", "yaml": "logging:\n  levle: info\n"})
        self.assertFalse(ack["ok"])
        self.assertIn("90-platform.yaml:2:3", ack["error"])
        self.assertIn("levle", ack["error"])
        self.assertEqual(self.dropin("90-platform.yaml"), good)

        # Not YAML at all, the wrong type, unknown fields, a gateway id change: all refused.
        for i, body in enumerate([{"yaml": "tariffs: [\n"}, {"yaml": 42}, {"yml": good},
                                  {"yaml": good, "extra": 1},
                                  {"yaml": "gateway:\n  id: someone-else\n"}]):
            ack = self.command("config", dict({"v": 1, "id": f"cfg-bad-{i}"}, **body))
            self.assertFalse(ack["ok"], body)
            self.assertTrue(ack["error"], body)
        self.assertEqual(self.dropin("90-platform.yaml"), good)

        # "" removes the drop-in.
        ack = self.command("config", {"v": 1, "id": "cfg-3", "yaml": ""})
        self.assertTrue(ack["ok"], ack)
        self.assertIsNone(self.dropin("90-platform.yaml"))
        self.assertEqual(self.daemon.proc.poll(), None)

    def test_2_tariffs_list_becomes_a_dropin_and_prices(self):
        ack = self.command("tariffs", {"v": 1, "id": "tar-1", "version": 1, "items": [
            {"key": "water-2027", "quantity": "water", "unit": "m3", "cycle": "year",
             "tiers": [{"upto": 180, "price": "5.00"}, {"price": "7.00"}]}]})
        self.assertTrue(ack["ok"], ack)
        text = self.dropin("80-platform-tariffs.yaml")
        self.assertIsNotNone(text)
        self.assertIn("water-2027", text)
        # The written file is a valid part of the site config, and prices as sent.
        run_cli("check-config", self.site, check=0)
        tariffs = os.path.join(self.tmp.name, "t.yaml")
        with open(tariffs, "w") as f:
            f.write(text)
        q = json.loads(run_cli("tariff", "quote", "--tariffs", tariffs, "--id", "water-2027",
                               "--usage", "100", "--cycle-usage-before", "150", "--json",
                               check=0).stdout)
        self.assertEqual(q["total_fen"], 30 * 500 + 70 * 700)

        # A tariff whose tiers go down is refused: the version is not kept, the file unchanged.
        ack = self.command("tariffs", {"v": 1, "id": "tar-2", "version": 2, "items": [
            {"key": "water-2027", "quantity": "water", "unit": "m3",
             "tiers": [{"upto": 180, "price": "5.00"}, {"upto": 100, "price": "6.00"},
                       {"price": "7.00"}]}]})
        self.assertFalse(ack["ok"])
        self.assertIn("80-platform-tariffs.yaml:", ack["error"])
        self.assertEqual(self.dropin("80-platform-tariffs.yaml"), text)
        # A tariff id that the site file already has: a duplicate, refused.
        ack = self.command("tariffs", {"v": 1, "id": "tar-3", "version": 3, "items": [
            {"key": "water-base", "quantity": "water", "unit": "m3", "price": "1.00"}]})
        self.assertFalse(ack["ok"])
        self.assertIn("water-base", ack["error"])
        self.assertEqual(self.dropin("80-platform-tariffs.yaml"), text)
        self.assertEqual(self.daemon.proc.poll(), None)


    def test_2b_tariffs_not_written_is_an_error_and_its_resend_is_accepted(self):
        # conf.d cannot take the file (its temporary name is taken by a directory; works as
        # root too): the version is not kept and the platform hears an error, not "applied".
        before = self.dropin("80-platform-tariffs.yaml")
        blocker = os.path.join(self.confd, ".80-platform-tariffs.yaml.new")
        os.makedirs(blocker)
        body = {"v": 1, "id": "tar-10", "version": 10, "items": [
            {"key": "water-2028", "quantity": "water", "unit": "m3", "price": "6.00"}]}
        try:
            ack = self.command("tariffs", body)
            self.assertFalse(ack["ok"], ack)
            self.assertIn("80-platform-tariffs.yaml not written", ack["error"])
            self.assertEqual(self.dropin("80-platform-tariffs.yaml"), before)
        finally:
            os.rmdir(blocker)
        # Writable again: the same version is accepted, not refused as "not newer".
        ack = self.command("tariffs", dict(body, id="tar-10b"))
        self.assertTrue(ack["ok"], ack)
        self.assertIn("water-2028", self.dropin("80-platform-tariffs.yaml"))

    def test_3_topup_credits_once_per_ref(self):
        ack = self.command("topup", {"v": 1, "id": "top-1", "room": "1-1-101",
                                     "amount_fen": 5000, "ref": "app-pay-77"})
        self.assertTrue(ack["ok"], ack)
        self.assertFalse(ack["result"]["duplicate"])
        balance = ack["result"]["balance_fen"]
        # Re-delivered (the same payment reference): credited once.
        ack = self.command("topup", {"v": 1, "id": "top-2", "room": "1-1-101",
                                     "amount_fen": 5000, "ref": "app-pay-77"})
        self.assertTrue(ack["ok"], ack)
        self.assertTrue(ack["result"]["duplicate"])
        self.assertEqual(ack["result"]["balance_fen"], balance)
        # Refusals: nothing credited.
        for i, body in enumerate([
                {"room": "9-9-999", "amount_fen": 100, "ref": "x1"},
                {"room": "1-1-101", "amount_fen": 0, "ref": "x2"},
                {"room": "1-1-101", "amount_fen": 10.5, "ref": "x3"},
                {"room": "1-1-101", "amount_fen": "100", "ref": "x4"},
                {"room": "1-1-101", "amount_fen": 100},
                {"room": "1-1-101", "amount_fen": 100, "ref": "x5", "note": "hi"}]):
            ack = self.command("topup", dict({"v": 1, "id": f"top-bad-{i}"}, **body))
            self.assertFalse(ack["ok"], body)
            self.assertTrue(ack["error"], body)
        ack = self.command("topup", {"v": 1, "id": "top-3", "room": "1-1-101",
                                     "amount_fen": 1, "ref": "app-pay-78"})
        self.assertEqual(ack["result"]["balance_fen"], balance + 1)


if __name__ == "__main__":
    unittest.main()
