#!/usr/bin/env python3
"""A bank-card POS terminal speaking Transbank's POS Integrado ECR protocol, for tests: listens on
loopback TCP (an ephemeral port, printed as "LISTENING <port>") as a serial server would, or on a
pty (--pty: prints "PTY <path>"), and speaks the frames of that public reference
(transbankdevelopers.cl/referencia/posintegrado; protocols/pos/testdata/README.md):
STX, DATA ("0200|amount|ticket|||0"), ETX, LRC = XOR of DATA and ETX. It ACKs good frames, NAKs
bad ones, sends its answer again (twice at most) on a NAK, and answers sale (0200 -> 0210),
last sale (0250 -> 0260), void by operation number (1200 -> 1210) and poll (0100: ACK).

Its own implementation of the codec, so a mistake shared with the gateway's codec cannot
hide. Every charge is kept in a JSON ledger (--ledger, ticket -> fen) so a test can count what
the bank took; the terminal's memory (its last sale, operation numbers) is kept beside it
(<ledger>.memory), so a restarted simulator answers the last-sale query as the terminal would.

Modes (--mode): approve, decline (code 01, rejected), timeout (never answers a sale, charges
nothing), late (answers after --delay seconds), hold (on a sale prints "SALE_HELD <ticket>",
waits until the gateway's connection drops - the gateway was killed - then charges: the answer
came after the gateway crashed), odd (charges, answers with code 23, which the reference's table
does not list). --nak N: NAK the first N request frames. Events go to stdout, one line each:
SALE, QUERY, VOID, CHARGED, NAK. --account sets the account number a debit approval reports
(some terminals put the whole card number there; the gateway must keep none of it).
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

STX, ETX, ACK, NAK, SEP = 0x02, 0x03, 0x06, 0x15, b"|"
MERCHANT, TERMINAL = "597029414300", "75001089"


def lrc(data):
    x = 0
    for b in data:
        x ^= b
    return x


def frame(data):
    body = data.encode("ascii") + bytes([ETX])
    return bytes([STX]) + body + bytes([lrc(body)])


def next_frame(buf):
    """(kind, size) of the next unit of buf: 'ack', 'nak', 'frame', 'junk' or None (need more)."""
    if not buf:
        return None, 0
    if buf[0] == ACK:
        return "ack", 1
    if buf[0] == NAK:
        return "nak", 1
    if buf[0] != STX:
        return "junk", 1
    for i in range(1, len(buf)):
        if buf[i] == ETX:
            return ("frame", i + 2) if i + 1 < len(buf) else (None, 0)
        if not 0x20 <= buf[i] <= 0x7E or i > 1024:
            return "junk", 1
    return None, 0


class Terminal:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.state = {"charged": {}, "ops": {}, "last": "", "next_op": 1}
        self.in_progress = set()
        self.naks_left = args.nak
        self.log_lock = threading.Lock()
        if args.ledger and os.path.exists(args.ledger + ".memory"):
            with open(args.ledger + ".memory") as f:
                self.state = json.load(f)

    def say(self, *words):
        with self.log_lock:
            print(" ".join(str(w) for w in words), flush=True)

    def save(self):
        if self.args.ledger:
            for path, value in ((self.args.ledger + ".memory", self.state),
                                (self.args.ledger, self.state["charged"])):
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(value, f)
                os.replace(tmp, path)

    def charge(self, ticket, amount):
        with self.lock:
            self.in_progress.discard(ticket)
            if ticket in self.state["charged"]:
                return
            self.state["charged"][ticket] = amount
            op = "%06d" % self.state["next_op"]
            self.state["next_op"] += 1
            self.state["ops"][op] = ticket
            self.state["last"] = ticket
            self.save()
        self.say("CHARGED", ticket, amount)

    def serve(self, read, write, closed):
        buf = b""
        last_answer = [None, 0]  # frame, times sent
        while True:
            chunk = read()
            if not chunk:
                return
            buf += chunk
            while buf:
                kind, size = next_frame(buf)
                if kind is None:
                    break
                unit, buf = buf[:size], buf[size:]
                if kind == "nak" and last_answer[0] is not None and last_answer[1] < 3:
                    last_answer[1] += 1
                    write(last_answer[0])
                if kind != "frame":
                    continue
                if lrc(unit[1:-1]) != unit[-1] or self.naks_left > 0:
                    if self.naks_left > 0:
                        self.naks_left -= 1
                    self.say("NAK")
                    write(bytes([NAK]))
                    continue
                write(bytes([ACK]))
                fields = unit[1:-2].decode("ascii", "replace").split("|")
                answer = self.handle(fields, closed)
                if answer:
                    last_answer[0], last_answer[1] = frame(answer), 1
                    try:
                        write(last_answer[0])
                    except OSError:
                        pass

    def sale_answer(self, command, ticket):
        charged = self.state["charged"].get(ticket)
        op = next((o for o, t in self.state["ops"].items() if t == ticket), "")
        auth = "%06d" % (sum(ticket.encode()) * 7919 % 10**6)
        card_type = "DB" if self.args.account else "CR"
        return "|".join([command, "00", MERCHANT, TERMINAL, ticket, auth,
                         "" if charged is None else str(charged), "0", "", self.args.last4, op,
                         card_type, "", self.args.account, "VI", time.strftime("%d%m%Y"),
                         time.strftime("%H%M%S"), "0", "0", ""])

    def handle(self, f, closed):
        mode = self.args.mode
        cmd = f[0]
        if cmd == "0100":
            return None
        if cmd == "0200":
            amount, ticket = int(f[1]), f[2]
            self.say("SALE", ticket, amount)
            if mode == "decline":
                return "|".join(["0210", "01", MERCHANT, TERMINAL, ticket] + [""] * 14)
            if mode == "timeout":
                return None
            if mode == "hold":
                with self.lock:
                    self.in_progress.add(ticket)
                self.say("SALE_HELD", ticket)
                closed.wait()  # the card holder finishes at the keypad after the gateway went away
                self.charge(ticket, amount)
                return self.sale_answer("0210", ticket)
            if mode == "late":
                time.sleep(self.args.delay)
            self.charge(ticket, amount)
            if mode == "odd":
                return "|".join(["0210", "23", MERCHANT, TERMINAL, ticket, ""])
            return self.sale_answer("0210", ticket)
        if cmd == "0250":
            self.say("QUERY", self.state["last"] or "-")
            with self.lock:
                last = self.state["last"]
            if not last:
                return "0260|11|"
            return self.sale_answer("0260", last)
        if cmd == "1200":
            op = f[1]
            self.say("VOID", op)
            with self.lock:
                ticket = self.state["ops"].get(op)
                if ticket is None or ticket not in self.state["charged"]:
                    return "|".join(["1210", "05", MERCHANT, TERMINAL, "", op])
                del self.state["charged"][ticket]
                self.save()
            return "|".join(["1210", "00", MERCHANT, TERMINAL, "000000", op])
        return None


def serve_tcp(term, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    term.say("LISTENING", srv.getsockname()[1])
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=run_connection, args=(term, conn), daemon=True).start()


def run_connection(term, conn):
    """A reader thread queues what arrives, so a held sale notices the gateway going away."""
    closed = threading.Event()
    queue, cond = [], threading.Condition()

    def pump():
        while True:
            try:
                chunk = conn.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                closed.set()
            with cond:
                queue.append(chunk)
                cond.notify()
            if not chunk:
                return

    def read():
        with cond:
            while not queue:
                cond.wait()
            return queue.pop(0)

    def write(b):
        try:
            conn.sendall(b)
        except OSError:
            pass

    threading.Thread(target=pump, daemon=True).start()
    term.serve(read, write, closed)


def serve_pty(term):
    import pty
    import tty
    master, slave = pty.openpty()
    tty.setraw(slave)
    term.say("PTY", os.ttyname(slave))
    closed = threading.Event()

    def read():
        try:
            return os.read(master, 4096)
        except OSError:
            return b""

    def write(b):
        os.write(master, b)

    term.serve(read, write, closed)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="approve",
                   choices=["approve", "decline", "timeout", "late", "hold", "odd"])
    p.add_argument("--delay", type=float, default=2.0)
    p.add_argument("--ledger")
    p.add_argument("--last4", default="1234")
    p.add_argument("--account", default="")
    p.add_argument("--nak", type=int, default=0)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--pty", action="store_true")
    args = p.parse_args()
    term = Terminal(args)
    if args.pty:
        serve_pty(term)
    else:
        serve_tcp(term, args.port)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
