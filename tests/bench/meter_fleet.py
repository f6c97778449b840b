"""One big site on one box: a single estate-edge daemon polls N Modbus TCP meters spread over B
TCP endpoints (a bus each) of a fast slave fleet (tests/bench/modbus_fleet_sim.c: any unit id,
function 3/4, values a pure function of port/unit/address), every meter's 10 points every P
seconds, and publishes into a local mosquitto at QoS 1. A subscriber counts the readings that
arrive and how old they are (arrival time minus the reading's `ts`). Sampled once a second:
the daemon's RSS and CPU, the outbox backlog, the polls the buses skipped (/metrics). Not a
timed test: scripts/bench fleet-meters runs it and prints the figures.

Usage: meter_fleet.py [meters (2000)] [endpoints (20)] [seconds (60)] [poll_s (1)]
Environment: ESTATE_EDGE (the binary), ESTATE_EDGE_BUILD_DIR (for modbus_fleet_sim).
The first 10 s are warm-up (staggered first polls); the figures are over the rest."""

import os
import re
import select
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Daemon, free_port, tempdir, wait_for_line, _discard  # noqa: E402

SITE = "bench"
WARMUP_S = 10
# Ten contiguous holding registers, one request per poll; constant values (the simulator's are
# a pure function of port/unit/address), so validation never flags one.
MODEL = """name: fleet-10
manufacturer: bench
description: ten u16 points in one block, for the meter fleet bench
source: tests/bench/meter_fleet.py
function: holding
word_order: big
max_registers: 100
points:
  - {name: e_import, register: 0, type: u16, scale: 0.01, unit: kWh, quantity: active_energy_import, billed: true}
  - {name: e_export, register: 1, type: u16, scale: 0.01, unit: kWh, quantity: active_energy_export}
  - {name: u1, register: 2, type: u16, scale: 0.1, unit: V, quantity: voltage_l1}
  - {name: u2, register: 3, type: u16, scale: 0.1, unit: V, quantity: voltage_l2}
  - {name: u3, register: 4, type: u16, scale: 0.1, unit: V, quantity: voltage_l3}
  - {name: i1, register: 5, type: u16, scale: 0.01, unit: A, quantity: current_l1}
  - {name: i2, register: 6, type: u16, scale: 0.01, unit: A, quantity: current_l2}
  - {name: i3, register: 7, type: u16, scale: 0.01, unit: A, quantity: current_l3}
  - {name: f, register: 8, type: u16, scale: 0.01, unit: Hz, quantity: frequency}
  - {name: p, register: 9, type: u16, unit: W, quantity: active_power}
"""


class Broker:
    """mosquitto on loopback, no schema capture (at 20k readings/s it would be the load)."""

    def __init__(self, directory):
        self.port = free_port()
        self.conf = os.path.join(directory, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n"
                    "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
                    "persistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL)
        wait_for_line(self.proc.stderr, " running", 15, "mosquitto start")
        threading.Thread(target=_discard, args=(self.proc.stderr,), daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


TS = re.compile(rb'"ts":"([^"]+)"')


class Counter:
    """Subscribes at QoS 0 (the daemon publishes at QoS 1; QoS 0 here keeps the subscriber's own
    cost off the box's two cores) to estate/<site>/<gw>/readings and counts records per second;
    a message's first record is its oldest: its age is sampled per message."""

    def __init__(self, port, gateway):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = bytearray()
        cid = b"fleet-counter"
        body = struct.pack("!H", 4) + b"MQTT" + bytes([4, 0x02]) + struct.pack("!H", 60)
        body += struct.pack("!H", len(cid)) + cid
        self._send(0x10, body)
        self._packet(10)
        topic = f"estate/{SITE}/{gateway}/readings".encode()
        self._send(0x82, struct.pack("!H", 1) + struct.pack("!H", len(topic)) + topic + b"\x00")
        self.lock = threading.Lock()
        self.records = 0
        self.ages = []          # (arrival, age_s) of each message's oldest record
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _send(self, ptype, body):
        n, rem = len(body), b""
        while True:
            b = n % 128
            n //= 128
            rem += bytes([b | (0x80 if n else 0)])
            if not n:
                break
        self.sock.sendall(bytes([ptype]) + rem + body)

    def _packet(self, timeout):
        while True:
            if len(self.buf) >= 2:
                mult, n, i = 1, 0, 1
                while i < len(self.buf) and i < 5:
                    b = self.buf[i]
                    n += (b & 127) * mult
                    mult *= 128
                    i += 1
                    if not b & 128:
                        if len(self.buf) >= i + n:
                            ptype = self.buf[0]
                            payload = bytes(self.buf[i:i + n])
                            del self.buf[:i + n]
                            return ptype, payload
                        break
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return None, None
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("broker closed the connection")
            self.buf += data

    def _run(self):
        last_ping = time.monotonic()
        while not self.stopping:
            ptype, payload = self._packet(0.5)
            now = time.time()
            if time.monotonic() - last_ping > 20:
                self._send(0xC0, b"")
                last_ping = time.monotonic()
            if ptype is None or ptype >> 4 != 3:
                continue
            tlen = struct.unpack("!H", payload[:2])[0]
            body = payload[2 + tlen:]
            n = body.count(b'"seq":')
            m = TS.search(body)
            age = None
            if m:
                try:
                    age = now - datetime.fromisoformat(m.group(1).decode()).timestamp()
                except ValueError:
                    age = None
            with self.lock:
                self.records += n
                if age is not None:
                    self.ages.append((now, age))

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def proc_sample(pid):
    """(rss_kib, cpu_seconds) of a process."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def site_config(directory, broker_port, sim_base, meters, endpoints, poll_s, http_port):
    per = [meters // endpoints + (1 if i < meters % endpoints else 0) for i in range(endpoints)]
    buses, devices = [], []
    for b in range(endpoints):
        buses.append(f"  - {{id: mb{b}, kind: tcp, protocol: modbus, host: 127.0.0.1, "
                     f"port: {sim_base + b}, timeout_ms: 1000}}\n")
        for u in range(1, per[b] + 1):
            devices.append(f"  - {{id: m{b}-{u}, kind: meter, bus: mb{b}, address: \"{u}\", "
                           f"model: fleet-10, medium: electricity, poll_interval_s: {poll_s}}}\n")
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(f"site:\n  id: {SITE}\ngateway:\n  id: gw-fleet\n"
                f"mqtt:\n  url: mqtt://127.0.0.1:{broker_port}\n"
                f"http:\n  listen: 127.0.0.1:{http_port}\n"
                "buses:\n" + "".join(buses) + "devices:\n" + "".join(devices))
    return path


def main():
    meters = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    endpoints = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    poll_s = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if meters > endpoints * 247:
        sys.exit(f"{meters} meters need at least {(meters + 246) // 247} endpoints (247 units each)")
    build = os.environ.get("ESTATE_EDGE_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
    sim_bin = os.path.join(build, "tests", "bench", "modbus_fleet_sim")
    with tempdir() as d:
        models = os.path.join(d, "models")
        os.makedirs(models)
        with open(os.path.join(models, "fleet-10.yaml"), "w") as f:
            f.write(MODEL)
        os.environ["ESTATE_EDGE_SITE_MODELS_DIR"] = models
        broker = Broker(d)
        sim_base = free_port()
        while True:  # B consecutive free ports for the fleet
            try:
                socks = []
                for i in range(endpoints):
                    s = socket.socket()
                    s.bind(("127.0.0.1", sim_base + i))
                    socks.append(s)
                for s in socks:
                    s.close()
                break
            except OSError:
                for s in socks:
                    s.close()
                sim_base = free_port()
        sim = subprocess.Popen([sim_bin, str(sim_base), str(endpoints)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        wait_for_line(sim.stderr, "ports from", 10, "modbus_fleet_sim start")
        http_port = free_port()
        cfg = site_config(d, broker.port, sim_base, meters, endpoints, poll_s, http_port)
        counter = Counter(broker.port, "gw-fleet")
        daemon = Daemon(d, cfg).start()
        pid = daemon.proc.pid
        rss_idle = None
        samples = []  # (t, rss_kib, cpu_s, records, backlog, skipped)
        db = os.path.join(d, "state", "estate-edge.db")
        t0 = time.monotonic()
        wall0 = time.time()
        try:
            while time.monotonic() - t0 < seconds:
                time.sleep(1.0)  # the sampling period, not a synchronisation
                rss, cpu = proc_sample(pid)
                with counter.lock:
                    records = counter.records
                backlog = skipped = None
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                    backlog = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
                    con.close()
                except sqlite3.Error:
                    pass
                try:
                    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics",
                                                  timeout=2).read().decode()
                    skipped = metric_sum(text, "estate_bus_polls_skipped_total")
                except OSError:
                    pass
                samples.append((time.monotonic() - t0, rss, cpu, records, backlog, skipped))
                if rss_idle is None:
                    rss_idle = rss
        finally:
            counter.stop()
            # The samples are taken; the daemon now drains what it holds, then stops.
            try:
                daemon.stop(timeout=120)
            except Exception:  # noqa: BLE001 - a daemon that does not stop is killed
                print("daemon did not stop within 120 s; killed")
                daemon.kill()
            sim.terminate()
            answered = sim.communicate(timeout=10)[0].decode().strip()
            broker.stop()
        steady = [s for s in samples if s[0] >= WARMUP_S]
        if len(steady) < 2:
            print("run too short for figures")
            return 1
        a, b = steady[0], steady[-1]
        span = b[0] - a[0]
        rate = (b[3] - a[3]) / span
        cpu = 100.0 * (b[2] - a[2]) / span
        ages = sorted(age for (t, age) in counter.ages if t - wall0 >= WARMUP_S)
        rss = [s[1] / 1024 for s in steady]
        backlogs = [s[4] for s in steady if s[4] is not None]
        target = meters * 10 / poll_s
        print(f"{meters} meters x 10 points every {poll_s} s on {endpoints} endpoints "
              f"(asked: {target:.0f} readings/s), {seconds:.0f} s, figures after {WARMUP_S} s")
        print(f"delivered: {rate:.0f} readings/s at the subscriber ({100 * rate / target:.1f}% "
              f"of asked); daemon CPU {cpu:.0f}% (of one core); slave answers {answered}")
        if ages:
            print(f"age at arrival: p50 {statistics.median(ages):.2f} s, "
                  f"p99 {ages[int(0.99 * (len(ages) - 1))]:.2f} s, max {ages[-1]:.2f} s")
        print(f"RSS: first sample {rss_idle / 1024:.1f} MiB; steady min {min(rss):.1f} "
              f"max {max(rss):.1f} last {rss[-1]:.1f} MiB (first/last minute of steady: "
              f"{rss[0]:.1f} -> {rss[-1]:.1f})")
        if backlogs:
            print(f"outbox backlog: min {min(backlogs)} max {max(backlogs)} last {backlogs[-1]}")
        if b[5] is not None and a[5] is not None:
            print(f"polls skipped: {b[5] - a[5]:.0f} in the steady part ({(b[5] - a[5]) / span:.0f}/s)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
