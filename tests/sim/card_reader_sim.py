#!/usr/bin/python3
"""IC card readers on one serial line, played on a pty: what RS-485 readers send when a card is
presented, written independently of the gateway's decoder (drivers/card/card_frames.cpp).

stdout: PTY <path> once the line is open; SENT <n> after each command's bytes are written.
stdin, one command per line:
  card <address> <uid-hex>            generic-485: STX addr len uid BCC(xor) ETX
  ascii <uid-hex>                     ascii-hex:   STX hex CR LF ETX
  wiegand <address> <26|34> <facility> <number>
                                      wiegand-485: STX addr bits data SUM8 ETX (parity set)
  raw <hex>                           any bytes (garbage, half a frame)
"""

import os
import sys
import termios
import tty


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def generic(address, uid):
    body = bytes([address, len(uid)]) + uid
    bcc = 0
    for b in body:
        bcc ^= b
    return b"\x02" + body + bytes([bcc]) + b"\x03"


def ascii_hex(uid):
    return b"\x02" + uid.hex().upper().encode() + b"\r\n\x03"


def wiegand(address, bits, facility, number):
    data_bits = bits - 2
    data = ((facility & 0xFF) << 16 | (number & 0xFFFF)) if bits == 26 else number & 0xFFFFFFFF
    payload = [(data >> (data_bits - 1 - i)) & 1 for i in range(data_bits)]
    half = data_bits // 2
    first = sum(payload[:half]) % 2          # even parity bit makes the first half even
    second = 1 - sum(payload[half:]) % 2     # odd parity bit makes the second half odd
    stream = [first] + payload + [second]
    raw = bytearray((bits + 7) // 8)
    for i, bit in enumerate(stream):
        if bit:
            raw[i // 8] |= 0x80 >> (i % 8)
    body = bytes([address, bits]) + bytes(raw)
    return b"\x02" + body + bytes([sum(body) & 0xFF]) + b"\x03"


def main():
    master, slave = os.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    say(f"PTY {os.ttyname(slave)}")
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        if cmd == "card":
            frame = generic(int(parts[1]), bytes.fromhex(parts[2]))
        elif cmd == "ascii":
            frame = ascii_hex(bytes.fromhex(parts[1]))
        elif cmd == "wiegand":
            frame = wiegand(int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]))
        elif cmd == "raw":
            frame = bytes.fromhex(parts[1])
        else:
            say(f"ERROR unknown command {cmd}")
            continue
        os.write(master, frame)
        say(f"SENT {len(frame)}")
    os.close(master)
    os.close(slave)


if __name__ == "__main__":
    main()
