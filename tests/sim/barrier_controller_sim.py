#!/usr/bin/python3
"""Serial (RS-485) barrier controllers on one line, played on a pty, in the generic-485 frame
format, written independently of the gateway's codec (drivers/gate/barrier_frames.cpp):

  request  STX addr cmd BCC ETX          cmd 'O' open, 'C' close, 'S' status; BCC = addr ^ cmd
  answer   STX addr cmd|0x20 status BCC ETX   (a refusal: NAK 0x15 in place of the command)
  status   bit 0 a vehicle on the loop, bit 1 arm up, bit 2 arm down, bit 3 fault

A controller refuses a close while its loop is occupied (as real ones do) and reports it.
Arguments: --controller ADDR[:loop][:open]  a controller at ADDR (0..255), optionally with a
           vehicle on its loop and/or its arm up when the line opens (repeatable).
stdout: PTY <path> once the line is open; CMD <addr> open|close for each open or close command
        taken; REFUSED <addr> close (loop occupied) for a close it refused; LOOP <addr> <0|1>
        after `loop`; FAULT <addr> <0|1> after `fault`; ARM <addr> <open|closed> after `get`.
stdin, one command per line:  loop <addr> <0|1>   a vehicle arrives on / leaves the loop
                              fault <addr> <0|1>  the controller reports a fault (status bit 3)
                                                  or no longer does
                              get <addr>          prints the arm's position
"""

import os
import select
import sys
import termios
import threading
import tty

STX, ETX, NAK = 0x02, 0x03, 0x15
lock = threading.RLock()


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Controller:
    def __init__(self, spec):
        parts = spec.split(":")
        self.address = int(parts[0])
        self.loop = "loop" in parts[1:]
        self.arm_up = "open" in parts[1:]
        self.fault = False

    def status(self):
        return (1 if self.loop else 0) | (2 if self.arm_up else 4) | (8 if self.fault else 0)


def answer(address, command, status):
    body = bytes([address, command, status])
    bcc = 0
    for b in body:
        bcc ^= b
    return bytes([STX]) + body + bytes([bcc, ETX])


def serve(fd, controllers):
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 256)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
        while True:
            start = buf.find(bytes([STX]))
            if start < 0:
                buf = b""
                break
            buf = buf[start:]
            if len(buf) < 5:
                break
            frame, buf = buf[:5], buf[5:]
            address, command, bcc, end = frame[1], frame[2], frame[3], frame[4]
            if end != ETX or bcc != address ^ command:
                continue  # not a frame for us: a real controller stays silent
            c = controllers.get(address)
            if c is None or command not in (ord("O"), ord("C"), ord("S")):
                continue
            with lock:
                reply_command = command | 0x20
                if command == ord("O"):
                    c.arm_up = True
                    say(f"CMD {address} open")
                elif command == ord("C"):
                    if c.loop:
                        reply_command = NAK
                        say(f"REFUSED {address} close (loop occupied)")
                    else:
                        c.arm_up = False
                        say(f"CMD {address} close")
                reply = answer(address, reply_command, c.status())
            os.write(fd, reply)


def main():
    controllers = {}
    args = sys.argv[1:]
    for flag, value in zip(args[::2], args[1::2]):
        if flag != "--controller":
            sys.exit(f"unknown argument {flag}")
        c = Controller(value)
        controllers[c.address] = c
    master, slave = os.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    threading.Thread(target=serve, args=(master, controllers), daemon=True).start()
    say(f"PTY {os.ttyname(slave)}")
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "loop" and int(parts[1]) in controllers:
            with lock:
                controllers[int(parts[1])].loop = parts[2] == "1"
            say(f"LOOP {parts[1]} {parts[2]}")
        elif len(parts) == 3 and parts[0] == "fault" and int(parts[1]) in controllers:
            with lock:
                controllers[int(parts[1])].fault = parts[2] == "1"
            say(f"FAULT {parts[1]} {parts[2]}")
        elif len(parts) == 2 and parts[0] == "get" and int(parts[1]) in controllers:
            with lock:
                arm = "open" if controllers[int(parts[1])].arm_up else "closed"
            say(f"ARM {parts[1]} {arm}")
        elif parts:
            say(f"ERROR unknown command: {line.strip()}")


if __name__ == "__main__":
    main()
