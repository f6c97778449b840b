"""The production heartbeat against a real mosquitto: with gateway.heartbeat_interval_s: 1 the
gateway sends gateway.heartbeat records on `events` (docs/mqtt-api.md) carrying its uptime, its
backlog, its version and each meter bus's health: a bus with a live Modbus meter (pymodbus peer)
shows the meter ok with a last success, a bus whose meter's address has nobody listening shows it
failing or offline and no last success. Every message is checked against docs/schemas by the
harness. With the interval 0 there is none; an interval out of range is refused at its
file:line:column."""

import json
import os
import unittest

from harness import Daemon, ModbusPeer, Mosquitto, free_port, run_cli, tempdir
from test_bridge import GW, PREFIX, SITE, MqttClient, wait_until

SDM630 = {"0": 230.5, "2": 231.25, "4": 229.75, "52": 1500.0, "72": 678.25, "342": 12345.5}
VERSION = "0.1.0"


def site(directory, url, interval, live_port, dead_port):
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(f"""site:
  id: {SITE}
gateway:
  id: {GW}
  heartbeat_interval_s: {interval}
mqtt:
  url: {url}
  drain_timeout_s: 5
buses:
  - {{id: live, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {live_port}, timeout_ms: 300}}
  - {{id: dead, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {dead_port}, timeout_ms: 300}}
devices:
  - {{id: e1, kind: meter, bus: live, address: "1", model: eastron-sdm630, medium: electricity,
      poll_interval_s: 1}}
  - {{id: e2, kind: meter, bus: dead, address: "1", model: eastron-sdm630, medium: electricity,
      poll_interval_s: 1}}
""")
    return path


class Heartbeat(unittest.TestCase):
    def heartbeats(self, client, want, timeout):
        """Heartbeat records received until `want(records)` holds (all of them so far)."""
        seen = []

        def more():
            msg = client.recv(0.5)
            if msg and msg[0] == PREFIX + "events":
                doc = json.loads(msg[1])
                for r in doc if isinstance(doc, list) else [doc]:
                    if r["kind"] == "gateway.heartbeat":
                        seen.append(r)
            return want(seen)

        wait_until(more, timeout, "heartbeats")
        return seen

    def test_heartbeats_carry_uptime_backlog_version_and_bus_health(self):
        peer = ModbusPeer(SDM630)
        with tempdir() as d:
            broker = Mosquitto(d).start()
            client = MqttClient(broker.port, "platform")
            daemon = None
            try:
                client.connect()
                client.subscribe(PREFIX + "events")
                daemon = Daemon(d, site(d, broker.url, 1, peer.port, free_port()))
                daemon.start()
                self.assertIn("heartbeat: an events record every 1000 ms", daemon.logs())

                def healthy(beats):
                    if len(beats) < 3:
                        return False
                    buses = {b["bus"]: b for b in beats[-1]["buses"]}
                    return ("live" in buses and buses["live"]["ok"] == 1 and
                            "dead" in buses and buses["dead"]["ok"] == 0)

                beats = self.heartbeats(client, healthy, 60)
                for b in beats:
                    self.assertEqual((b["source"], b["version"]), ("gateway", VERSION))
                    self.assertIsInstance(b["backlog"], int)
                    self.assertGreaterEqual(b["backlog"], 0)
                # One a second: uptime grows with them, seq too.
                uptimes = [b["uptime_s"] for b in beats]
                self.assertEqual(uptimes, sorted(uptimes))
                self.assertGreater(uptimes[-1], uptimes[0])
                self.assertEqual([b["seq"] for b in beats], sorted(b["seq"] for b in beats))
                buses = {b["bus"]: b for b in beats[-1]["buses"]}
                self.assertEqual(sorted(buses), ["dead", "live"])
                live, dead = buses["live"], buses["dead"]
                self.assertEqual((live["state"], live["ok"], live["failing"], live["offline"]),
                                 ("up", 1, 0, 0))
                self.assertTrue(live["last_success"].startswith("20"), live)
                self.assertEqual(dead["failing"] + dead["offline"], 1, dead)
                self.assertNotIn("last_success", dead)
            finally:
                if daemon:
                    daemon.stop()
                client.close()
                broker.stop()
                peer.stop()

    def test_interval_zero_sends_none_and_out_of_range_is_refused(self):
        with tempdir() as d:
            cfg = site(d, "mqtt://127.0.0.1:1", 86401, 1, 1)
            p = run_cli("check-config", cfg, check=None)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(f"{cfg}:5:25: gateway.heartbeat_interval_s:", p.stdout + p.stderr)
            # 0: the component is not built (components start before READY=1, and say so).
            daemon = Daemon(d, site(d, "mqtt://127.0.0.1:1", 0, free_port(), free_port()))
            try:
                daemon.start()
                self.assertIn("meter bus dead:", daemon.logs())  # started after the heartbeat
                self.assertNotIn("heartbeat:", daemon.logs())
            finally:
                daemon.stop()


if __name__ == "__main__":
    unittest.main()
