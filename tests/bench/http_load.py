#!/usr/bin/env python3
"""Load test of the local HTTP API on loopback: starts the real daemon (kiosk and POS/printer
simulators configured as in the integration tests), then C keep-alive clients send a bounded
number of requests each to GET /api/rooms/<room> (token-checked, store read) and GET /healthz,
and prints requests/s and latency percentiles. Bounded in count and time; loopback only.

    ESTATE_EDGE=build/daemon/estate-edge python3 tests/bench/http_load.py [--clients 8] [--requests 2000]
"""

import argparse
import http.client
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import tempdir  # noqa: E402
from test_payment_kiosk import KIOSK_TOKEN, Site  # noqa: E402


def client(port, path, n, out, deadline):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": "Bearer " + KIOSK_TOKEN}
    lat = []
    errors = 0
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        try:
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat.append(time.perf_counter() - t0)
    c.close()
    out.append((lat, errors))


def run(port, path, clients, requests, limit_s):
    out = []
    deadline = time.monotonic() + limit_s
    threads = [threading.Thread(target=client, args=(port, path, requests, out, deadline))
               for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = sorted(x for l, _ in out for x in l)
    errors = sum(e for _, e in out)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
    print(f"{path:24s} {len(lat):7d} requests  {len(lat) / elapsed:9.0f} req/s  "
          f"p50 {pct(0.50):6.2f} ms  p99 {pct(0.99):6.2f} ms  max {lat[-1] * 1000:6.2f} ms  "
          f"errors {errors}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=2000, help="per client")
    p.add_argument("--limit-s", type=float, default=60)
    a = p.parse_args()
    with tempdir() as d:
        site = Site(d).start()
        try:
            for path in ("/healthz", "/api/rooms/1-2-301"):
                run(site.http_port, path, a.clients, a.requests, a.limit_s)
        finally:
            site.close()


if __name__ == "__main__":
    main()
