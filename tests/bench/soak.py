"""Soak: a site like the demo's at about ten times its rate, for a bounded time, with the
daemon's resident memory, open file descriptors and store size sampled. Not a CI test: run it
with scripts/soak (which builds the binary first) and read the figures.

The load, against the real daemon and real peers (as the integration tests use them):
  - 10 CJ/T 188 water meters on two simulated RS-485 lines (ptys), polled every second, billed
    (the demo site: 8 meters polled every 5-10 s);
  - the gateway heartbeat every 100 ms (the demo: 1 s) as a steady telemetry stream;
  - a kiosk card payment about every 1.5 s through the POS and printer simulators;
  - an arrears list from the platform over MQTT every 5 s, acknowledged;
  - a technician polling the dashboard API and /metrics about 10 times a second.
Everything goes to a real mosquitto with a subscriber draining it.

Usage: soak.py [seconds (default 600)] [sample-interval-s (default 10)]
Prints one line per sample and, at the end, RSS/fds/store size at the start (after a warm-up of
a tenth of the run, at least 30 s) and at the end, and the growth of RSS after warm-up."""

import http.client
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Daemon, Mosquitto, free_port, tempdir  # noqa: E402
from test_bridge import PREFIX, MqttClient, stamped  # noqa: E402
from test_downlinks import MeterSim  # noqa: E402
from test_payment_kiosk import TECH_TOKEN, Api, Sim, write_config  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def store_bytes(state_dir):
    total = 0
    for suffix in ("", "-wal", "-shm"):
        p = os.path.join(state_dir, "estate-edge.db" + suffix)
        if os.path.exists(p):
            total += os.path.getsize(p)
    return total


class Load:
    def __init__(self, stop):
        self.stop = stop
        self.counts = {"payments": 0, "lists": 0, "http": 0, "records": 0, "errors": 0}
        self.lock = threading.Lock()
        self.threads = []

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def every(self, period, fn):
        def loop():
            while not self.stop.is_set():
                try:
                    fn()
                except Exception as e:  # counted; a soak keeps going
                    self.add("errors")
                    print(f"load error: {type(e).__name__}: {e}", file=sys.stderr)
                self.stop.wait(period)
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        self.threads.append(t)


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    interval = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    warmup = max(30, seconds // 10)
    with tempdir() as d:
        broker = Mosquitto(d).start()
        drain = MqttClient(broker.port, "soak-platform", clean=True).connect()
        drain.subscribe(PREFIX + "#")
        commander = MqttClient(broker.port, "soak-commander", clean=True).connect()
        lines = [MeterSim("cjt188", [f"000000000031{n:02d}:{100 + n}.00" for n in range(5)]),
                 MeterSim("cjt188", [f"000000000032{n:02d}:{200 + n}.00" for n in range(5)])]
        pos = Sim("pos_sim.py", "--mode", "approve", "--delay", "0.2")
        printer = Sim("printer_sim.py", "--state", "ok", "--out", os.path.join(d, "r.bin"),
                      "--state-file", os.path.join(d, "printer.state"))
        http_port = free_port()
        config = write_config(d, http_port, pos.port, printer.port, broker.url)
        with open(config) as f:
            text = f.read()
        buses = "".join(f"  - {{ id: water-{i}, kind: serial, protocol: cjt188, device: {m.path},"
                        f" baud: 9600 }}\n" for i, m in enumerate(lines))
        devices = "".join(
            f"  - {{ id: w{i}{n}, kind: meter, bus: water-{i}, address: \"0000000000{31 + i}{n:02d}\","
            f" medium: water, poll_interval_s: 1 }}\n" for i in range(2) for n in range(5))
        accounts = "".join(f"  - {{ room: \"9-{i}-{n}\", meters: [{{ meter: w{i}{n}, tariff: water-res }}] }}\n"
                           for i in range(2) for n in range(5))
        text = text.replace("buses:\n", "buses:\n" + buses, 1)
        text = text.replace("devices:\n", "devices:\n" + devices, 1)
        text = text.replace("accounts:\n", "accounts:\n" + accounts, 1)
        text += ("arrears:\n  levels:\n    - { level: 1, min_days: 1, min_fen: 1, actions: [warn] }\n"
                 "demo:\n  heartbeat_interval_ms: 100\n")
        with open(config, "w") as f:
            f.write(text)
        daemon = Daemon(d, config).start()
        pid = daemon.proc.pid
        stop = threading.Event()
        load = Load(stop)
        api = Api(http_port)
        tech = Api(http_port, token=TECH_TOKEN)
        version = [0]
        n_pay = [0]

        def pay():
            n_pay[0] += 1
            status, _ = api.call("POST", "/api/payments",
                                 {"room": f"9-{n_pay[0] % 2}-{n_pay[0] % 5}", "amount_fen": 500})
            if status == 202:
                load.add("payments")

        def arrears():
            version[0] += 1
            commander.publish(PREFIX + "cmd/arrears", json.dumps(stamped(
                {"v": 1, "id": f"soak-arrears-{version[0]}", "version": version[0],
                 "items": [{"key": f"9-0-{version[0] % 5}", "level": 1}]})))
            load.add("lists")

        def technician():
            for path in ("/api/dashboard", "/metrics", "/api/dashboard/polls",
                         "/api/dashboard/consumption?meter=w00&range=day"):
                status, _ = tech.call("GET", path)
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status}")
                load.add("http")

        def drain_records():
            while not stop.is_set():
                msg = drain.recv(0.5)
                if msg and not msg[0].endswith("/state"):
                    body = json.loads(msg[1])
                    load.add("records", len(body) if isinstance(body, list) else 1)

        load.every(1.5, pay)
        load.every(5.0, arrears)
        load.every(0.4, technician)
        threading.Thread(target=drain_records, daemon=True).start()

        samples = []
        t0 = time.monotonic()
        print(f"soak: {seconds} s, sample every {interval} s, warm-up {warmup} s; daemon pid {pid}")
        print(f"{'t_s':>6} {'rss_kib':>9} {'fds':>5} {'store_kib':>10} {'payments':>9} "
              f"{'lists':>6} {'http':>7} {'records':>8} {'errors':>6}")
        try:
            while True:
                elapsed = time.monotonic() - t0
                if daemon.proc.poll() is not None:
                    raise RuntimeError(f"daemon exited with {daemon.proc.returncode}")
                with load.lock:
                    c = dict(load.counts)
                s = (round(elapsed), rss_kib(pid), fds(pid), store_bytes(daemon.state_dir) // 1024)
                samples.append(s)
                print(f"{s[0]:>6} {s[1]:>9} {s[2]:>5} {s[3]:>10} {c['payments']:>9} "
                      f"{c['lists']:>6} {c['http']:>7} {c['records']:>8} {c['errors']:>6}",
                      flush=True)
                if elapsed >= seconds:
                    break
                stop.wait(min(interval, max(0.1, seconds - elapsed)))
        finally:
            stop.set()
            for t in load.threads:
                t.join(10)
            rc = daemon.stop(60)
            commander.close()
            drain.close()
            for m in lines:
                m.stop()
            pos.stop()
            printer.stop()
            broker.stop()
        warm = next((s for s in samples if s[0] >= warmup), samples[0])
        end = samples[-1]
        peak = max(s[1] for s in samples if s[0] >= warm[0])
        growth = end[1] - warm[1]
        print()
        print(f"start (after {warm[0]} s warm-up): rss {warm[1]} KiB, fds {warm[2]}, "
              f"store {warm[3]} KiB")
        print(f"end   ({end[0]} s):                rss {end[1]} KiB, fds {end[2]}, "
              f"store {end[3]} KiB")
        print(f"rss growth after warm-up: {growth:+d} KiB ({100.0 * growth / warm[1]:+.1f}%), "
              f"peak {peak} KiB; fds {end[2] - warm[2]:+d}; daemon exit {rc}")
        print(f"load: {load.counts}")


if __name__ == "__main__":
    main()
