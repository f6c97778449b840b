#!/usr/bin/env python3
"""A bank-card POS terminal on the ECR link, for tests: listens on loopback TCP (an ephemeral
port, printed as "LISTENING <port>"), speaks the frame format of protocols/pos/ecr.hpp
(STX, 2-byte length, "TYPE" + FS-tag-value fields, ETX, LRC = XOR after STX through ETX),
ACKs good frames, NAKs bad ones, and answers sale/query/void/settlement.

Its own implementation of the codec, so a mistake shared with the gateway's codec cannot
hide. Every charge is kept in a JSON ledger (--ledger) so a test can count what the bank took.

Modes (--mode): approve, decline, timeout (never answers a sale, charges nothing),
late (answers after --delay seconds), hold (on a sale prints "SALE_HELD <ref>", waits until
the gateway's connection drops - the gateway was killed - then charges: the answer came
after the gateway crashed). Events go to stdout, one line each: SALE, QUERY, VOID, CHARGED.
--card sets the card number an approval reports (CN); a terminal that sends the full number
(some do) is what the gateway must mask before it keeps anything.
"""

import argparse
import json
import os
import socket
import sys
import threading
import time
import zlib

STX, ETX, ACK, NAK, FS = 0x02, 0x03, 0x06, 0x15, 0x1C


def lrc(data):
    x = 0
    for b in data:
        x ^= b
    return x


def encode(mtype, fields, bcd=False):
    data = mtype.encode()
    for tag, value in fields:
        data += bytes([FS]) + tag.encode() + str(value).encode()
    n = len(data)
    length = bytes([(n // 1000 % 10) << 4 | (n // 100 % 10), (n // 10 % 10) << 4 | (n % 10)]) \
        if bcd else n.to_bytes(2, "big")
    body = length + data + bytes([ETX])
    return bytes([STX]) + body + bytes([lrc(body)])


def read_length(b1, b2, bcd):
    if not bcd:
        return b1 << 8 | b2
    digits = [b1 >> 4, b1 & 15, b2 >> 4, b2 & 15]
    if any(d > 9 for d in digits):
        return None
    return digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3]


def decode(frame):
    """frame: bytes STX..LRC (already length-checked). Returns (type, dict) or None."""
    if lrc(frame[1:-1]) != frame[-1] or frame[-2] != ETX:
        return None
    data = frame[3:-2]
    mtype = data[:2].decode("ascii", "replace")
    fields = {}
    for part in data[2:].split(bytes([FS]))[1:]:
        fields[part[:2].decode("ascii", "replace")] = part[2:].decode("ascii", "replace")
    return mtype, fields


class Terminal:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.ledger = {}       # ref -> amount (charged)
        self.in_progress = set()
        self.log_lock = threading.Lock()
        if args.ledger and os.path.exists(args.ledger):
            with open(args.ledger) as f:
                self.ledger = json.load(f)

    def say(self, *words):
        with self.log_lock:
            print(" ".join(str(w) for w in words), flush=True)

    def charge(self, ref, amount):
        with self.lock:
            self.in_progress.discard(ref)
            if ref in self.ledger:
                return
            self.ledger[ref] = amount
            if self.args.ledger:
                tmp = self.args.ledger + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.ledger, f)
                os.replace(tmp, self.args.ledger)
        self.say("CHARGED", ref, amount)

    def serve(self, conn):
        bcd = self.args.format == "bcd"
        buf = b""
        conn.settimeout(None)
        while True:
            try:
                chunk = conn.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while buf:
                if buf[0] in (ACK, NAK):
                    buf = buf[1:]
                    continue
                if buf[0] != STX:
                    buf = buf[1:]
                    continue
                if len(buf) < 3:
                    break
                n = read_length(buf[1], buf[2], bcd)
                if n is None or n > 1024:
                    buf = buf[1:]
                    continue
                if len(buf) < n + 5:
                    break
                frame, buf = buf[:n + 5], buf[n + 5:]
                msg = decode(frame)
                if msg is None:
                    conn.sendall(bytes([NAK]))
                    continue
                conn.sendall(bytes([ACK]))
                self.handle(conn, *msg)

    def reply(self, conn, mtype, fields):
        try:
            conn.sendall(encode(mtype, fields, self.args.format == "bcd"))
        except OSError:
            pass

    def handle(self, conn, mtype, f):
        ref = f.get("RF", "")
        mode = self.args.mode
        if mtype == "S0":
            amount = int(f.get("AM", "0"))
            self.say("SALE", ref, amount)
            if mode == "decline":
                self.reply(conn, "S1", [("RC", "51"), ("RF", ref), ("MS", "insufficient funds")])
            elif mode == "timeout":
                pass
            elif mode == "hold":
                with self.lock:
                    self.in_progress.add(ref)
                self.say("SALE_HELD", ref)
                # The card holder finishes at the keypad after the gateway went away.
                while True:
                    try:
                        if conn.recv(1) == b"":
                            break
                    except OSError:
                        break
                self.charge(ref, amount)
                self.reply(conn, "S1", self.approved(ref, amount))
            else:
                if mode == "late":
                    with self.lock:
                        self.in_progress.add(ref)
                    time.sleep(self.args.delay)
                self.charge(ref, amount)
                self.reply(conn, "S1", self.approved(ref, amount))
        elif mtype == "Q0":
            self.say("QUERY", ref)
            with self.lock:
                amount = self.ledger.get(ref)
                busy = ref in self.in_progress
            if amount is not None:
                self.reply(conn, "Q1", self.approved(ref, amount))
            elif busy:
                self.reply(conn, "Q1", [("RC", "IP"), ("RF", ref)])
            else:
                self.reply(conn, "Q1", [("RC", "NF"), ("RF", ref)])
        elif mtype == "V0":
            self.say("VOID", ref)
            with self.lock:
                self.ledger.pop(ref, None)
            self.reply(conn, "V1", [("RC", "00"), ("RF", ref)])
        elif mtype == "T0":
            with self.lock:
                count, total = len(self.ledger), sum(self.ledger.values())
            self.reply(conn, "T1", [("RC", "00"), ("CT", count), ("TT", total)])

    def approved(self, ref, amount):
        h = zlib.crc32(ref.encode())  # stable across runs: the same codes for sale and query
        return [("RC", "00"), ("RF", ref), ("AM", amount), ("AU", "%06d" % (h % 10**6)),
                ("RR", "%012d" % h), ("CN", self.args.card)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="approve",
                   choices=["approve", "decline", "timeout", "late", "hold"])
    p.add_argument("--delay", type=float, default=2.0)
    p.add_argument("--format", default="generic", choices=["generic", "bcd"])
    p.add_argument("--ledger")
    p.add_argument("--card", default="6222****1234")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    term = Terminal(args)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(8)
    term.say("LISTENING", srv.getsockname()[1])
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=term.serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
