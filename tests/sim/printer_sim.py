#!/usr/bin/env python3
"""An ESC/POS receipt printer on raw TCP (as on port 9100), for tests: listens on loopback
(ephemeral port, printed as "LISTENING <port>"), answers DLE EOT n real-time status requests
with the status bytes of --state (ok, paper_out, offline, cover_open), and appends every other
byte to --out. After each chunk it prints "RECEIVED <total job bytes>". --state-file, when it
exists, overrides --state on every request, so a test can put paper back in."""

import argparse
import os
import socket
import sys
import threading

STATUS = {
    # state: {n: byte}; fixed bits 0x12 per the DLE EOT answer format
    "ok": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    "paper_out": {1: 0x12, 2: 0x32, 3: 0x12, 4: 0x72},
    "offline": {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12},
    "cover_open": {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", default="ok", choices=sorted(STATUS))
    p.add_argument("--state-file")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    lock = threading.Lock()
    total = [0]

    def state():
        if args.state_file and os.path.exists(args.state_file):
            s = open(args.state_file).read().strip()
            if s in STATUS:
                return s
        return args.state

    def serve(conn):
        pending = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            data = pending + chunk
            pending = b""
            job = bytearray()
            i = 0
            while i < len(data):
                if data[i] == 0x10 and i + 1 < len(data) and data[i + 1] == 0x04:
                    if i + 2 >= len(data):
                        pending = data[i:]
                        break
                    n = data[i + 2]
                    conn.sendall(bytes([STATUS[state()].get(n, 0x12)]))
                    i += 3
                    continue
                if data[i] == 0x10 and i + 1 == len(data):
                    pending = data[i:]
                    break
                job.append(data[i])
                i += 1
            if job:
                with lock:
                    with open(args.out, "ab") as f:
                        f.write(job)
                    total[0] += len(job)
                    print("RECEIVED", total[0], flush=True)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    print("LISTENING", srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
