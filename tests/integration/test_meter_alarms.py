"""Meter alarms end to end: the real daemon polls an SDM630 (an independent pymodbus peer) through a
TCP relay the test can silence, publishing to a real mosquitto. The meter going silent raises
meter_offline on the `alarms` stream once, after offline_after_polls failed polls; the meter
answering again clears it once. Its readings leave under the quantity vocabulary (the harness
checks every message against docs/schemas, whose quantity enum is the vocabulary)."""

import json
import os
import socket
import threading
import time
import unittest

from harness import Capture, Daemon, ModbusPeer, Mosquitto, tempdir


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling for a condition, not synchronising on a guess
    raise TimeoutError(f"{what} not reached within {timeout}s")


class Relay:
    """A TCP relay in front of the Modbus peer. While `silent` is set, what the gateway sends is
    swallowed (the meter is off the line: requests time out); cleared, it passes again."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.silent = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, requests):
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                if requests and self.silent.is_set():
                    continue
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.listener.close()


SDM630 = {"0": 230.5, "2": 231.25, "4": 229.75, "52": 1500.0, "72": 678.25, "342": 12345.5}


def records(capture, stream):
    """The stream's records, each once (QoS 1 may deliver a record twice: same id)."""
    out, seen = [], set()
    for topic, payload in list(capture.messages):
        if topic.endswith("/" + stream):
            doc = json.loads(payload)
            for r in doc if isinstance(doc, list) else [doc]:
                if r["id"] not in seen:
                    seen.add(r["id"])
                    out.append(r)
    return out


class MeterAlarms(unittest.TestCase):
    def test_meter_silent_raises_offline_and_back_clears_it(self):
        with tempdir() as d:
            broker = Mosquitto(d).start()
            capture = Capture(broker.port)
            peer = ModbusPeer(SDM630)
            relay = Relay(peer.port)
            cfg = os.path.join(d, "site.yaml")
            with open(cfg, "w") as f:
                f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
mqtt:
  url: {broker.url}
buses:
  - {{id: mb, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {relay.port}, timeout_ms: 300}}
devices:
  - {{id: e1, kind: meter, bus: mb, address: "1", model: eastron-sdm630, medium: electricity, poll_interval_s: 1, offline_after_polls: 2}}
""")
            daemon = Daemon(d, cfg).start()
            try:
                # Readings under the vocabulary's names, the billed register among them.
                def read():
                    q = {r["quantity"]: r for r in records(capture, "readings")}
                    return q if "active_energy_import" in q and "voltage_l1" in q else None
                q = wait_until(read, 30, "readings of e1")
                self.assertEqual((q["active_energy_import"]["value"], q["active_energy_import"]["unit"]),
                                 ("678.25", "kWh"))
                self.assertEqual(q["active_power"]["unit"], "W")
                self.assertNotIn("import_active_energy", q)  # the point's name is not a quantity
                self.assertEqual(records(capture, "alarms"), [])

                relay.silent.set()
                raised = wait_until(lambda: [a for a in records(capture, "alarms")
                                             if a["alarm"] == "meter_offline"], 60,
                                    "meter_offline raised")
                self.assertEqual((raised[0]["state"], raised[0]["device"], raised[0]["severity"]),
                                 ("raised", "e1", "major"))
                self.assertIn("2 failed polls", raised[0]["detail"])

                relay.silent.clear()
                def cleared():
                    a = [x for x in records(capture, "alarms") if x["alarm"] == "meter_offline"]
                    return a if any(x["state"] == "cleared" for x in a) else None
                a = wait_until(cleared, 90, "meter_offline cleared")
                # Readings flow again after the clear.
                n = len(records(capture, "readings"))
                wait_until(lambda: len(records(capture, "readings")) > n, 30, "readings again")
            finally:
                rc = daemon.stop()
                relay.close()
                peer.stop()
                capture.stop()
                broker.stop()
            self.assertEqual(rc, 0)
            # Exactly one raise and one clear, in that order, however many polls failed.
            a = sorted((x for x in records(capture, "alarms") if x["alarm"] == "meter_offline"),
                       key=lambda x: x["seq"])
            self.assertEqual([(x["state"], x["device"]) for x in a],
                             [("raised", "e1"), ("cleared", "e1")])
            self.assertEqual(a[1]["severity"], "info")


if __name__ == "__main__":
    unittest.main()
