"""The platform's side at fleet scale: G estate-edge daemons (a state directory each, one box)
publish to one mosquitto; a platform consumer of C connections on one shared subscription
(`$share/platform/estate/<site>/+/+`, docs/mqtt-api.md) takes every record, checks it against its
published JSON Schema (docs/schemas/<stream>.schema.json), de-duplicates by `id` and checks each
gateway's `seq` for gaps. Midway the broker is restarted (it keeps its sessions on disk, as a
production broker does): every gateway must reconnect, and the figure is the spread of the times
from the broker's return to each gateway's birth. At the end the gateways stop cleanly and every
record a gateway no longer holds in its outbox (the broker acknowledged it) must have reached the
consumer: no gap. Not a timed test: scripts/bench runs it and prints the figures.

Each gateway polls M simulated Eastron SDM630 meters over Modbus TCP (one pymodbus peer for the
fleet, tests/sim/meter_modbus_peer.py) every P seconds.

Usage: fleet_gateways.py [gateways (50)] [meters per gateway (2)] [seconds (60)]
Environment: ESTATE_EDGE, the binary (as for the integration tests)."""

import json
import os
import sqlite3
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from harness import Daemon, ModbusPeer, Mosquitto, tempdir  # noqa: E402
from reconnect_gateways import SITE, births  # noqa: E402
from test_bridge import MqttClient  # noqa: E402

SCHEMAS = os.path.join(HERE, "..", "..", "docs", "schemas")
SDM630 = {"0": 230.5, "2": 231.25, "4": 229.75, "52": 1500.0, "72": 678.25, "342": 12345.5}
POLL_S = 5
CONSUMERS = 2


def load_validators():
    """{stream: validator} for every docs/schemas/<stream>.schema.json; None without jsonschema."""
    try:
        import jsonschema
    except ImportError:
        return None
    store, out = {}, {}
    if not os.path.isdir(SCHEMAS):
        return out
    for name in sorted(os.listdir(SCHEMAS)):
        if name.endswith(".schema.json"):
            with open(os.path.join(SCHEMAS, name)) as f:
                schema = json.load(f)
            store[name] = schema
            if "$id" in schema:
                store[schema["$id"]] = schema
    for name, schema in list(store.items()):
        if not name.endswith(".schema.json") or "/" in name:
            continue
        resolver = jsonschema.RefResolver(base_uri=f"file://{SCHEMAS}/{name}", referrer=schema,
                                          store={f"file://{SCHEMAS}/{k}": v for k, v in
                                                 store.items() if "/" not in k})
        out[name[:-len(".schema.json")]] = jsonschema.Draft202012Validator(schema,
                                                                          resolver=resolver)
    return out


class Consumer:
    """The platform: C persistent connections sharing one subscription. Keeps every record's id,
    the seqs per gateway, duplicates and schema failures."""

    def __init__(self, port, validators):
        self.port, self.validators = port, validators
        self.lock = threading.Lock()
        self.ids = set()
        self.seqs = {}          # gateway -> set of seq
        self.records = 0
        self.duplicates = 0
        self.invalid = {}       # stream -> (count, first error)
        self.unschemed = {}     # stream -> count
        self.reconnects = 0
        self.stopping = False
        self.threads = []

    def start(self):
        for i in range(CONSUMERS):
            c = MqttClient(self.port, f"platform-{i}", clean=False).connect()
            c.subscribe(f"$share/platform/estate/{SITE}/+/+")
            t = threading.Thread(target=self._run, args=(i, c), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _run(self, i, client):
        while not self.stopping:
            try:
                msg = client.recv(0.5)
            except (OSError, RuntimeError, ValueError):
                msg = None
                client = self._reconnect(i)
                continue
            if msg is not None:
                self._take(*msg[:2])
        client.close()

    def _reconnect(self, i):
        while not self.stopping:
            try:
                c = MqttClient(self.port, f"platform-{i}", clean=False).connect(timeout=2)
                # A consumer subscribes again on every connect: a broker's restored session
                # need not hold a shared subscription (mosquitto 2.0 does not persist them).
                c.subscribe(f"$share/platform/estate/{SITE}/+/+")
                with self.lock:
                    self.reconnects += 1
                return c
            except OSError:
                time.sleep(0.2)  # the broker is down: retry, not a synchronisation
        return MqttClient(self.port, f"platform-{i}")

    def _take(self, topic, payload):
        stream = topic.split("/", 3)[3]
        if stream in ("state", "acks") or stream.startswith("cmd/"):
            return
        body = json.loads(payload)
        records = body if isinstance(body, list) else [body]
        v = self.validators.get(stream) if self.validators is not None else None
        with self.lock:
            for r in records:
                self.records += 1
                if v is None:
                    self.unschemed[stream] = self.unschemed.get(stream, 0) + 1
                else:
                    err = next(iter(v.iter_errors(r)), None)
                    if err is not None:
                        n, first = self.invalid.get(stream, (0, None))
                        self.invalid[stream] = (n + 1, first or f"{err.message} in {r}")
                if r["id"] in self.ids:
                    self.duplicates += 1
                    continue
                self.ids.add(r["id"])
                gw = r["id"].rsplit("-", 1)[0]
                self.seqs.setdefault(gw, set()).add(r["seq"])

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(5)


def site_config(directory, name, url, peer_port, meters, first_unit):
    devices = "".join(
        f"  - {{id: m{u}, kind: meter, bus: mb, address: \"{u}\", model: eastron-sdm630, "
        f"medium: electricity, poll_interval_s: {POLL_S}}}\n"
        for u in range(first_unit, first_unit + meters))
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(f"site:\n  id: {SITE}\ngateway:\n  id: {name}\nmqtt:\n  url: {url}\n"
                "  keepalive_s: 5\n  batch: 20\n"
                f"buses:\n  - {{id: mb, kind: tcp, protocol: modbus, host: 127.0.0.1, "
                f"port: {peer_port}, timeout_ms: 2000}}\ndevices:\n{devices}")
    return path


def outbox_left(state_dir):
    """(highest seq ever given, seqs still in the outbox) of a stopped gateway."""
    db = sqlite3.connect(os.path.join(state_dir, "estate-edge.db"))
    try:
        top = db.execute("SELECT value FROM counters WHERE name = 'outbox_seq'").fetchone()
        left = {r[0] for r in db.execute("SELECT seq FROM outbox")}
        return (top[0] if top else 0), left
    finally:
        db.close()


def main():
    gateways = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    meters = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    validators = load_validators()
    with tempdir() as d:
        broker = Mosquitto(d)
        with open(broker.conf, "a") as f:  # sessions and queued messages survive the restart
            f.write(f"persistence true\npersistence_location {d}/\nautosave_interval 0\n")
        with open(broker.conf) as f:
            conf = f.read().replace("persistence false\n", "")
        with open(broker.conf, "w") as f:
            f.write(conf)
        broker.start()
        units = list(range(1, gateways * meters + 1))
        peer = ModbusPeer(SDM630, units=units)
        consumer = Consumer(broker.port, validators).start()
        names = [f"gw-{i:02d}" for i in range(gateways)]
        daemons, dirs = [], []
        try:
            for i, n in enumerate(names):
                gd = os.path.join(d, n)
                os.makedirs(gd)
                dirs.append(gd)
                cfg = site_config(gd, n, broker.url, peer.port, meters, 1 + i * meters)
                daemons.append(Daemon(gd, cfg).start())
            births(broker.port, names, 0, 0)
            print(f"{gateways} gateways x {meters} SDM630 meters (poll {POLL_S} s) online on "
                  f"{broker.url}; {CONSUMERS} consumers on $share/platform", flush=True)
            time.sleep(seconds / 2)  # the run's first half: load, not a synchronisation
            stopped = time.time()
            broker.stop()
            time.sleep(2)  # a short outage: the broker's restart
            broker.start()
            back = time.time()
            t = sorted(max(0.0, x) for x in births(broker.port, names, back, stopped).values())
            print(f"broker restart: {len(t)}/{gateways} gateways back; seconds from the broker's "
                  f"return to birth: min {t[0]:.2f} median {statistics.median(t):.2f} "
                  f"p90 {t[int(0.9 * (len(t) - 1))]:.2f} max {t[-1]:.2f}", flush=True)
            time.sleep(seconds / 2)  # the run's second half
        finally:
            for g in daemons:
                g.stop()
        # Every record a stopped gateway no longer holds was acknowledged by the broker: it must
        # reach the consumer. Wait for the last of them (bounded), then compare.
        expected = {}
        for n, gd in zip(names, dirs):
            top, left = outbox_left(os.path.join(gd, "state"))
            expected[n] = set(range(1, top + 1)) - left
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with consumer.lock:
                missing = sum(len(expected[n] - consumer.seqs.get(n, set())) for n in names)
            if missing == 0:
                break
            time.sleep(0.5)  # polling the consumer's count, bounded by the deadline
        consumer.stop()
        peer.stop()
        broker.stop()
        acked = sum(len(s) for s in expected.values())
        gaps = {n: sorted(expected[n] - consumer.seqs.get(n, set())) for n in names}
        gaps = {n: g for n, g in gaps.items() if g}
        print(f"records: {consumer.records} received, {len(consumer.ids)} distinct, "
              f"{consumer.duplicates} duplicates; {acked} acknowledged by the broker; "
              f"consumer reconnects {consumer.reconnects}")
        print(f"gaps: {sum(len(g) for g in gaps.values())} records missing"
              + (f" (first: {next(iter(gaps.items()))[0]} seq {next(iter(gaps.values()))[:5]})"
                 if gaps else ""))
        if validators is None:
            print("schemas: python3-jsonschema not installed, not checked")
        else:
            for s, (n, first) in sorted(consumer.invalid.items()):
                print(f"schema: {n} records of '{s}' invalid, first: {first[:300]}")
            for s, n in sorted(consumer.unschemed.items()):
                print(f"schema: no docs/schemas/{s}.schema.json for {n} records")
            if not consumer.invalid and not consumer.unschemed:
                print(f"schema: every record valid ({len(validators)} schemas)")
        return 1 if gaps or consumer.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
