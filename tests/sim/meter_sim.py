#!/usr/bin/python3
"""Meter simulators on a pty: DL/T 645-2007 and -1997 electricity meters (reads of energy,
voltage, current and power, read address, shortened addresses with AA bytes, relay control with
status word 3), CJ/T 188 water meters with a valve (read 901F, valve A017) and M-Bus slaves
(SND_NKE, REQ_UD2 with a variable data telegram). Several meters share one line, as on a real
bus; each can be normal, dead (never answers), garbage (answers line noise), slow (answers
after --slow-ms), stuck_relay (DL/T 645: accepts relay commands, the relay never moves) or
multi (M-Bus: data in two telegrams, DIF 1F; FCB enforced: a request that does not toggle
FCB gets the same telegram again).
Meters that answer the same broadcast or wildcard request at once collide (their frames OR-ed). With --baud, bytes are paced at the line's character time (11 bits per
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
        self.trip_commanded = False
        self.reads = 0
        self.reset_link()
        self.repeats = 0

    def reset_link(self):
        """M-Bus link layer state (EN 13757-2 §5.5): after SND_NKE or a selection the next FCB
        expected is 1 and the data starts at its first telegram."""
        self.expected_fcb = True
        self.last_telegram = None
        self.next_part = 0

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

    # Fixed instantaneous values, as the meter's BCD (value, bytes): DL/T 645-2007 appendix A
    # formats (voltage XXX.X, current XXX.XXX, power XX.XXXX kW) and -1997 (voltage XXX,
    # current XX.XX, power XX.XXXX kW).
    DLT2007_FIXED = {0x00020000: (1234, 4), 0x02010100: (2201, 2), 0x02010200: (2215, 2),
                     0x02010300: (2198, 2), 0x02020100: (5123, 3), 0x02030000: (11276, 3),
                     0x00010100: (40000, 4), 0x00010200: (60000, 4)}
    DLT1997_FIXED = {0x9020: (1234, 4), 0xB611: (220, 2), 0xB621: (512, 2), 0xB630: (11276, 3)}

    def dlt_matches(self, pattern, m):
        """Shortened addressing: AA bytes of the request's address match any digits."""
        a = bytes.fromhex(m.address)[::-1]
        return all(p == 0xAA or p == b for p, b in zip(pattern, a))

    def dlt_answer_all(self, fd, frames):
        """Several meters answer at once: their frames collide on the line (bits OR-ed)."""
        if len(frames) == 1:
            self.write(fd, frames[0][1], frames[0][0])
        elif frames:
            n = max(len(f) for _, f in frames)
            mixed = bytearray(n)
            for _, f in frames:
                for i, b in enumerate(f):
                    mixed[i] |= b
            self.write(fd, bytes(mixed))

    def dlt_status3(self, m):
        # Status word 3 (04000503): bit 4 relay open, bit 6 trip commanded.
        return (0x10 if not m.relay_closed else 0) | (0x40 if m.trip_commanded else 0)

    def dlt_read(self, m, addr_bytes, di, v1997, advance=True):
        """The answer to a read; a probe (advance False: a read to a shortened address) leaves
        the counter where it is."""
        def counter():  # only a read of the energy total moves the counter
            return m.next_value() if advance else m.value
        if v1997:
            head = di.to_bytes(2, "little")
            if di == 0x9010:
                return self.dlt_frame(addr_bytes, 0x81, head + bcd(counter(), 4))
            if di in self.DLT1997_FIXED:
                v, n = self.DLT1997_FIXED[di]
                return self.dlt_frame(addr_bytes, 0x81, head + bcd(v, n))
            return self.dlt_frame(addr_bytes, 0xC1, bytes([0x02]))
        head = di.to_bytes(4, "little")
        if di == 0x00010000:
            return self.dlt_frame(addr_bytes, 0x91, head + bcd(counter(), 4))
        if di == 0x04000503:
            return self.dlt_frame(addr_bytes, 0x91, head + self.dlt_status3(m).to_bytes(2, "little"))
        if di in self.DLT2007_FIXED:
            v, n = self.DLT2007_FIXED[di]
            return self.dlt_frame(addr_bytes, 0x91, head + bcd(v, n))
        return self.dlt_frame(addr_bytes, 0xD1, bytes([0x02]))  # no such data

    def dlt_handle(self, fd, addr_bytes, control, data):
        if control == 0x13:
            live = [m for m in self.meters if m.mode != "dead"]
            self.dlt_answer_all(fd, [(m, self.dlt_frame(bytes.fromhex(m.address)[::-1], 0x93,
                                                         bytes.fromhex(m.address)[::-1]))
                                     for m in live])
            return
        if control in (0x11, 0x01) and 0xAA in addr_bytes:
            # A read to a shortened address: every matching meter answers with its own address.
            v1997 = control == 0x01
            di = int.from_bytes(data[:2 if v1997 else 4], "little")
            live = [m for m in self.meters if m.mode != "dead" and self.dlt_matches(addr_bytes, m)]
            self.dlt_answer_all(fd, [(m, self.dlt_read(m, bytes.fromhex(m.address)[::-1], di, v1997,
                                                       advance=False)) for m in live])
            return
        address = "".join(f"{b:02x}" for b in reversed(addr_bytes))
        m = self.find(address)
        if m is None or m.mode == "dead":
            return
        if control == 0x11 and len(data) >= 4:
            self.write(fd, self.dlt_read(m, addr_bytes, int.from_bytes(data[:4], "little"), False), m)
        elif control == 0x01 and len(data) >= 2:
            self.write(fd, self.dlt_read(m, addr_bytes, int.from_bytes(data[:2], "little"), True), m)
        elif control == 0x1C and len(data) >= 9:
            # N1 (DL/T 645-2007 remote control): 1A trip, 1B close permitted (the customer
            # closes at the meter), 1C direct close. A stuck_relay meter accepts every command
            # and its relay never moves.
            action = data[8]
            if action == 0x1A:
                m.trip_commanded = True
                if m.mode != "stuck_relay":
                    m.relay_closed = False
            elif action == 0x1B:
                m.trip_commanded = False
            elif action == 0x1C:
                m.trip_commanded = False
                if m.mode != "stuck_relay":
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
        if control == 0x01 and 0xAA in addr_bytes:
            # A read to a shortened address: every matching meter answers with its own address;
            # answers at once collide (OR-ed), as on the wire.
            live = [m for m in self.meters if m.mode != "dead" and
                    all(p == 0xAA or p == b for p, b in zip(addr_bytes, bytes.fromhex(m.address)[::-1]))]
            self.dlt_answer_all(fd, [(m, self.cjt_read(m, mtype, bytes.fromhex(m.address)[::-1], data,
                                                       advance=False)) for m in live])
            return
        address = "".join(f"{b:02x}" for b in reversed(addr_bytes))
        m = self.find(address)
        if m is None or m.mode == "dead":
            return
        if control == 0x01 and len(data) >= 3:
            self.write(fd, self.cjt_read(m, mtype, addr_bytes, data), m)
        elif control == 0x04 and len(data) >= 4 and data[0] == 0xA0 and data[1] == 0x17:
            self.cjt_valve(fd, m, mtype, addr_bytes, data)

    def cjt_read(self, m, mtype, addr_bytes, data, advance=True):
        ser = data[2]
        v = m.next_value() if advance else m.value
        # 901F (CJ/T 188-2004 table 8): DI SER, current flow + unit, settlement-day flow +
        # unit, real time (7 bytes), status ST (2 bytes).
        payload = bytes([0x90, 0x1F, ser]) + bcd(v, 4) + b"\x2c" + bcd(v, 4) + b"\x2c"
        t = time.localtime()
        payload += bytes.fromhex(f"{t.tm_sec:02d}{t.tm_min:02d}{t.tm_hour:02d}{t.tm_mday:02d}"
                                 f"{t.tm_mon:02d}{t.tm_year % 100:02d}{t.tm_year // 100:02d}")
        payload += self.cjt_status(m)
        return self.cjt_frame(mtype, addr_bytes, 0x81, payload)

    def cjt_valve(self, fd, m, mtype, addr_bytes, data):
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

    def mbus_rsp(self, primary, m, part=0):
        # CI 72 long header: ident (BCD, LSB first), manufacturer "ABB" (0x0442), version, medium
        # heat (04), access no, status, signature; then records: energy (DIF 04, VIF 06 = kWh
        # as Wh*10^3) and volume (DIF 04, VIF 13 = l as m3*10^-3).
        # A "multi" meter splits its data over two telegrams (EN 13757-3 §6.3: DIF 1F, more
        # records follow): the first holds the energy, the second the volume, the energy of
        # storage 1 (DIF 44) with its date (DIF 42 VIF 6C), the energy of tariff 1 (DIF 84 10)
        # and the meter's date/time (VIF 6D).
        ident = bcd(int(m.address) if m.address.isdigit() and len(m.address) == 8 else 12345678, 4)
        v = m.value if part == 1 else m.next_value()
        data = ident + bytes([0x42, 0x04, 0x01, 0x04, m.reads & 0xFF, 0x00, 0x00, 0x00])
        if m.mode != "multi":
            data += bytes([0x04, 0x06]) + (v // 100).to_bytes(4, "little")
            data += bytes([0x04, 0x13]) + (v * 10).to_bytes(4, "little")
        elif part == 0:
            data += bytes([0x04, 0x06]) + (v // 100).to_bytes(4, "little") + b"\x1f"
        else:
            data += bytes([0x04, 0x13]) + ((v - m.step) * 10).to_bytes(4, "little")
            data += bytes([0x44, 0x06]) + (4321).to_bytes(4, "little")
            # Type G date of storage 1 (DIF 42, VIF 6C): 2024-04-30, the stored value's due date
            # (day + low year bits, month + high year bits; EN 13757-3 Annex A).
            data += bytes([0x42, 0x6C, 0x1E, 0x34])
            data += bytes([0x84, 0x10, 0x06]) + (1111).to_bytes(4, "little")
            # Type F date/time 2024-05-17 13:45 (min, hour, day + year bits, month + year bits).
            data += bytes([0x04, 0x6D, 0x2D, 0x0D, 0x11, 0x35])
        body = bytes([0x08, primary, 0x72]) + data
        return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([checksum(body), 0x16])

    def mbus_answer(self, fd, primary, m, c):
        """REQ_UD2 with the FCB rule of EN 13757-2 §5.5: a request whose FCB did not toggle
        (FCV set) gets the last telegram again; a toggled one the next. After SND_NKE the slave
        expects FCB 1. A multi meter's telegrams cycle 0, 1, 0, 1..."""
        fcv, fcb = bool(c & 0x10), bool(c & 0x20)
        if fcv and m.last_telegram is not None and fcb != m.expected_fcb:
            m.repeats += 1
            self.write(fd, m.last_telegram, m)
            return
        if fcv:
            m.expected_fcb = not fcb
        part = m.next_part if m.mode == "multi" else 0
        m.next_part = (part + 1) % 2
        m.last_telegram = self.mbus_rsp(primary, m, part)
        self.write(fd, m.last_telegram, m)

    def mbus_primary_of(self, m):
        return int(m.address) if len(m.address) <= 3 else None

    def mbus_handle(self, fd, kind, c, a, ci, data):
        if kind == "short" and c == 0x40:  # SND_NKE
            if a == 0xFD:
                self.selected.clear()
                return
            m = next((x for x in self.meters if self.mbus_primary_of(x) == a), None)
            if m and m.mode != "dead":
                m.reset_link()
                self.write(fd, b"\xe5", m)
            return
        if kind == "short" and (c & 0xDF) == 0x5B:  # REQ_UD2, FCB in 0x20
            if a == 0xFD:
                sel = [x for x in self.meters if x.address in self.selected]
                if len(sel) == 1:
                    self.mbus_answer(fd, 0xFD, sel[0], c)
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
                self.mbus_answer(fd, a, m, c)
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
            for m in matches:
                m.reset_link()  # a new selection starts the link layer afresh
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
