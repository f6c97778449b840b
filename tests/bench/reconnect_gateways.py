"""Reconnect after a broker outage, with real gateways: G estate-edge daemons (no devices, a
state directory each, as the integration tests run them) on one local mosquitto. The broker is
stopped for each outage length and started again on the same port; the figure is the time from
the broker's return (its "running" line) to each gateway's birth message (the retained online
state, docs/mqtt-api.md), taken from the birth's own `ts` (the gateway's clock, the machine's).
Not a timed test: scripts/bench runs it (with the 1000-client simulation, reconnect_bench).

Usage: reconnect_gateways.py [gateways (default 10)] [outage seconds ... (default 5 10)]
Environment: ESTATE_EDGE, the binary (as for the integration tests)."""

import json
import os
import statistics
import sys
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Daemon, Mosquitto, tempdir  # noqa: E402
from test_bridge import MqttClient  # noqa: E402

SITE = "bench-site"


def gateway_config(directory, name, url):
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(f"site:\n  id: {SITE}\ngateway:\n  id: {name}\nmqtt:\n  url: {url}\n"
                "  keepalive_s: 5\n")
    return path


def births(port, names, since, after, timeout=120):
    """{gateway: seconds from `since` to its birth's ts} once every gateway of `names` is
    online with a birth made after `after` (the broker's stop: earlier ones are stale)."""
    sub = MqttClient(port, "bench-platform", clean=True).connect()
    sub.subscribe(f"estate/{SITE}/+/state")
    out = {}
    deadline = time.monotonic() + timeout
    try:
        while len(out) < len(names):
            msg = sub.recv(max(0.1, deadline - time.monotonic()))
            if msg is None:
                raise TimeoutError(f"online: {sorted(out)} of {len(names)} within {timeout}s")
            body = json.loads(msg[1])
            if body.get("state") != "online":
                continue
            ts = datetime.fromisoformat(body["ts"]).timestamp()
            if ts > after:
                out[body["gateway"]] = ts - since
    finally:
        sub.close()
    return out


def main():
    gateways = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    outages = [float(a) for a in sys.argv[2:]] or [5.0, 10.0]
    with tempdir() as d:
        broker = Mosquitto(d).start()
        names = [f"gw-{i:02d}" for i in range(gateways)]
        daemons = []
        try:
            for n in names:
                gd = os.path.join(d, n)
                os.makedirs(gd)
                daemons.append(Daemon(gd, gateway_config(gd, n, broker.url)).start())
            births(broker.port, names, 0, 0)
            print(f"{gateways} gateways online on {broker.url}")
            print(f"{'outage':>8} {'min':>8} {'median':>8} {'max':>8}   seconds from the "
                  "broker's return to each gateway's birth")
            for outage in outages:
                stopped = time.time()
                broker.stop()
                time.sleep(outage)  # the outage itself, not a synchronisation
                broker.start()
                back = time.time()
                # A gateway may connect between the broker's listen and its "running" line: a
                # few ms, shown as 0.
                t = sorted(max(0.0, x) for x in births(broker.port, names, back, stopped).values())
                print(f"{outage:>7.1f}s {t[0]:>8.2f} {statistics.median(t):>8.2f} {t[-1]:>8.2f}",
                      flush=True)
                # Let every connection hold past the schedule's reset (BackoffPolicy::hold) so
                # each outage starts from a settled gateway, as in the field.
                time.sleep(21)
        finally:
            for g in daemons:
                g.stop()
            broker.stop()


if __name__ == "__main__":
    main()
