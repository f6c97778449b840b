#!/usr/bin/python3
"""Meter simulators on a pty: DL/T 645-2007 electricity meters (read 00010000, read address,
relay control), CJ/T 188 water meters with a valve (read 901F, valve A017) and M-Bus slaves
(SND_NKE, REQ_UD2 with a variable data telegram). Several meters share one line, as on a real
bus; each can be normal, dead (never answers), garbage (answers line noise) or slow (answers
after --slow-ms). With --baud, bytes are paced at the line's character time (11 bits per
character), so wire time is real.

Frames are built here by hand from the standards' layouts (this is the device side, which the
gateway's codecs do not provide): DL/T 645-2007 §4.1, CJ/T 188-2004 §5.2, EN 13757-2 §5 /
EN 13757-3 §6.

Usage: meter_sim.py --protocol dlt645|cjt188|mbus --meter ADDR[:VALUE[:MODE]] ... [--baud B]
Prints "PTY /dev/pts/N" on stdout once ready; runs until stdin closes or SIGTERM.
Each --meter VALUE is the counter (kWh / m3) with two decimals; it grows by --step per read.
"""

import argparse
import os
import random
import select
import signal
import sys
import time
import tty


def checksum(b):
    return sum(b) & 0xFF


def bcd(value, nbytes):
    """Non-negative int -> BCD bytes, least significant byte first."""
    out = []
    for _ in range(nbytes):
        out.append((value % 10) | ((value // 10 % 10) << 4))
        value //= 100
    return bytes(out)


class Meter:
    def __init__(self, spec, step):
        parts = spec.split(":")
        self.address = parts[0]
        self.value = int(round(float(parts[1]) * 100)) if len(parts) > 1 and parts[1] else 100000
        self.mode = parts[2] if len(parts) > 2 else "normal"
        self.step = step
        self.valve_open = True
        self.relay_closed = True
        self.reads = 0

    def next_value(self):
        v = self.value
        self.value += self.step
        self.reads += 1
        return v


class Sim:
    def __init__(self, args):
        self.args = args
        self.meters = [Meter(m, args.step) for m in args.meter]
        self.buf = bytearray()
        self.fcb = {}
        self.selected = set()

    # ---- line ----------------------------------------------------------------------------
    def write(self, fd, data, meter=None):
        if meter is not None and meter.mode == "slow":
            time.sleep(self.args.slow_ms / 1000.0)
        if meter is not None and meter.mode == "garbage":
            data = bytes(random.randrange(256) for _ in range(len(data)))
        if self.args.baud:
            char = 11.0 / self.args.baud
            start = time.monotonic()
            for i, b in enumerate(data):
                os.write(fd, bytes([b]))
                delay = start + (i + 1) * char - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        else:
            os.write(fd, data)

    def find(self, address):
        for m in self.meters:
            if m.address == address:
                return m
        return None

    # ---- DL/T 645-2007 -------------------------------------------------------------------
    def dlt_frame(self, addr_bytes, control, data):
        body = bytes([0x68]) + addr_bytes + bytes([0x68, control, len(data)]) + bytes(
            (b + 0x33) & 0xFF for b in data)
        return b"\xfe\xfe\xfe\xfe" + body + bytes([checksum(body), 0x16])

    def dlt_scan(self):
        i = 0
        while i < len(self.buf) and self.buf[i] == 0xFE:
            i += 1
        if i < len(self.buf) and self.buf[i] != 0x68:
            del self.buf[: i + 1]
            return None
        if len(self.buf) < i + 10:
            return None
        n = self.buf[i + 9]
        end = i + 12 + n
        if len(self.buf) < end:
            return None
        frame = bytes(self.buf[i:end])
        del self.buf[:end]
        if frame[7] != 0x68 or frame[-1] != 0x16 or checksum(frame[:-2]) != frame[-2]:
            return None
        data = bytes((b - 0x33) & 0xFF for b in frame[10:-2])
        return frame[1:7], frame[8], data

    def dlt_handle(self, fd, addr_bytes, control, data):
        address = "".join(f"{b:02x}" for b in reversed(addr_bytes))
        if control == 0x13:
            m = self.meters[0] if len(self.meters) == 1 else None
            if m and m.mode != "dead":
                a = bytes.fromhex(m.address)[::-1]
                self.write(fd, self.dlt_frame(a, 0x93, a), m)
            return
        m = self.find(address)
        if m is None or m.mode == "dead":
            return
        if control == 0x11 and len(data) >= 4:
            di = int.from_bytes(data[:4], "little")
            if di == 0x00010000:
                self.write(fd, self.dlt_frame(addr_bytes, 0x91, data[:4] + bcd(m.next_value(), 4)), m)
            else:
                self.write(fd, self.dlt_frame(addr_bytes, 0xD1, bytes([0x02])), m)  # no such data
        elif control == 0x1C and len(data) >= 9:
            action = data[8]
            if action == 0x1A:
                m.relay_closed = False
            elif action == 0x1B:
                m.relay_closed = True
            self.write(fd, self.dlt_frame(addr_bytes, 0x9C, b""), m)

    # ---- CJ/T 188-2004 -------------------------------------------------------------------
    def cjt_frame(self, mtype, addr_bytes, control, data):
        body = bytes([0x68, mtype]) + addr_bytes + bytes([control, len(data)]) + data
        return b"\xfe\xfe" + body + bytes([checksum(body), 0x16])

    def cjt_scan(self):
        i = 0
        while i < len(self.buf) and self.buf[i] == 0xFE:
            i += 1
        if i < len(self.buf) and self.buf[i] != 0x68:
            del self.buf[: i + 1]
            return None
        if len(self.buf) < i + 11:
            return None
        n = self.buf[i + 10]
        end = i + 13 + n
        if len(self.buf) < end:
            return None
        frame = bytes(self.buf[i:end])
        del self.buf[:end]
        if frame[-1] != 0x16 or checksum(frame[:-2]) != frame[-2]:
            return None
        return frame[1], frame[2:9], frame[9], frame[11:-2]

    def cjt_status(self, m):
        return bytes([0x00 if m.valve_open else 0x01, 0x00])

    def cjt_handle(self, fd, mtype, addr_bytes, control, data):
        address = "".join(f"{b:02x}" for b in reversed(addr_bytes))
        m = self.find(address)
        if m is None or m.mode == "dead":
            return
        if control == 0x01 and len(data) >= 3:
            ser = data[2]
            v = m.next_value()
            # 901F (CJ/T 188-2004 table 8): DI SER, current flow + unit, settlement-day flow +
            # unit, real time (7 bytes), status ST (2 bytes).
            payload = bytes([0x90, 0x1F, ser]) + bcd(v, 4) + b"\x2c" + bcd(v, 4) + b"\x2c"
            t = time.localtime()
            payload += bytes.fromhex(f"{t.tm_sec:02d}{t.tm_min:02d}{t.tm_hour:02d}{t.tm_mday:02d}"
                                     f"{t.tm_mon:02d}{t.tm_year % 100:02d}{t.tm_year // 100:02d}")
            payload += self.cjt_status(m)
            self.write(fd, self.cjt_frame(mtype, addr_bytes, 0x81, payload), m)
        elif control == 0x04 and len(data) >= 4 and data[0] == 0xA0 and data[1] == 0x17:
            ser = data[2]
            if data[3] == 0x55:
                m.valve_open = True
            elif data[3] == 0x99:
                m.valve_open = False
            if m.mode == "stuck_valve":
                m.valve_open = not m.valve_open if data[3] == 0x99 else m.valve_open
            self.write(fd, self.cjt_frame(mtype, addr_bytes, 0x84,
                                          bytes([0xA0, 0x17, ser]) + self.cjt_status(m)), m)

    # ---- M-Bus (EN 13757-2/-3) -----------------------------------------------------------
    def mbus_scan(self):
        if not self.buf:
            return None
        b0 = self.buf[0]
        if b0 == 0x10:
            if len(self.buf) < 5:
                return None
            f = bytes(self.buf[:5])
            del self.buf[:5]
            if f[4] != 0x16 or checksum(f[1:3]) != f[3]:
                return None
            return ("short", f[1], f[2], None, b"")
        if b0 == 0x68:
            if len(self.buf) < 4:
                return None
            n = self.buf[1]
            if len(self.buf) < n + 6:
                return None
            f = bytes(self.buf[: n + 6])
            del self.buf[: n + 6]
            if f[2] != n or f[3] != 0x68 or f[-1] != 0x16 or checksum(f[4:-2]) != f[-2]:
                return None
            return ("long", f[4], f[5], f[6], f[7:-2])
        del self.buf[:1]
        return None

    def mbus_rsp(self, primary, m):
        # CI 72 long header: ident (BCD, LSB first), manufacturer "ABB" (0x0442), version, medium
        # heat (04), access no, status, signature; then records: energy (DIF 04, VIF 06 = kWh
        # as Wh*10^3) and volume (DIF 04, VIF 13 = l as m3*10^-3).
        ident = bcd(int(m.address) if m.address.isdigit() and len(m.address) == 8 else 12345678, 4)
        v = m.next_value()
        data = ident + bytes([0x42, 0x04, 0x01, 0x04, m.reads & 0xFF, 0x00, 0x00, 0x00])
        data += bytes([0x04, 0x06]) + (v // 100).to_bytes(4, "little")
        data += bytes([0x04, 0x13]) + (v * 10).to_bytes(4, "little")
        body = bytes([0x08, primary, 0x72]) + data
        return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([checksum(body), 0x16])

    def mbus_primary_of(self, m):
        return int(m.address) if len(m.address) <= 3 else None

    def mbus_handle(self, fd, kind, c, a, ci, data):
        if kind == "short" and c == 0x40:  # SND_NKE
            if a == 0xFD:
                self.selected.clear()
                return
            m = next((x for x in self.meters if self.mbus_primary_of(x) == a), None)
            if m and m.mode != "dead":
                self.write(fd, b"\xe5", m)
            return
        if kind == "short" and (c & 0xDF) == 0x5B:  # REQ_UD2, FCB in 0x20
            if a == 0xFD:
                sel = [x for x in self.meters if x.address in self.selected]
                if len(sel) == 1:
                    self.write(fd, self.mbus_rsp(0xFD, sel[0]), sel[0])
                elif len(sel) > 1:
                    # Several selected slaves answer at once: the frames collide on the line.
                    frames = [self.mbus_rsp(0xFD, x) for x in sel]
                    n = max(len(f) for f in frames)
                    mixed = bytes(
                        [0] * n)
                    mixed = bytes(
                        (frames[0][i] if i < len(frames[0]) else 0) | (frames[1][i] if i < len(frames[1]) else 0)
                        for i in range(n))
                    self.write(fd, mixed)
                return
            m = next((x for x in self.meters if self.mbus_primary_of(x) == a), None)
            if m and m.mode != "dead":
                self.write(fd, self.mbus_rsp(a, m), m)
            return
        if kind == "long" and ci == 0x52 and a == 0xFD and len(data) >= 8:
            # Selection (EN 13757-3 §6.6): ident digits with F wildcards; other fields ignored.
            want = "".join(f"{b:02X}" for b in reversed(data[:4]))
            matches = []
            for m in self.meters:
                ident = m.address if len(m.address) == 8 else None
                if ident and all(w == "F" or w == d for w, d in zip(want, ident)):
                    matches.append(m)
            self.selected = {m.address for m in matches}
            if matches:
                self.write(fd, b"\xe5")

    def run(self, fd):
        while True:
            r, _, _ = select.select([fd, sys.stdin], [], [])
            if sys.stdin in r:
                if not sys.stdin.readline():
                    return
            if fd not in r:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                continue
            self.buf += chunk
            while True:
                before = len(self.buf)
                if self.args.protocol == "dlt645":
                    f = self.dlt_scan()
                    if f:
                        self.dlt_handle(fd, *f)
                elif self.args.protocol == "cjt188":
                    f = self.cjt_scan()
                    if f:
                        self.cjt_handle(fd, *f)
                else:
                    f = self.mbus_scan()
                    if f:
                        self.mbus_handle(fd, *f)
                if len(self.buf) == before or not self.buf:
                    break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", required=True, choices=["dlt645", "cjt188", "mbus"])
    ap.add_argument("--meter", action="append", default=[])
    ap.add_argument("--baud", type=int, default=0)
    ap.add_argument("--step", type=int, default=1, help="counter increase per read, in 0.01")
    ap.add_argument("--slow-ms", type=int, default=700)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    print("PTY", os.ttyname(slave), flush=True)
    Sim(args).run(master)


if __name__ == "__main__":
    main()
