#!/usr/bin/python3
"""A car park for the demo: the entrance and exit barriers' I/O module (a Modbus TCP server, the
same as gate_io_sim.py: coil 0 = entry barrier relay, coil 1 = exit barrier relay, input 0 =
entry loop, input 1 = exit loop) and traffic: every --interval seconds a vehicle arrives at the
entrance or leaves by the exit. Its plate is pushed to the gateway's camera endpoint as a
Vzenith camera (model vzenith) pushes its plate result: POST /api/cameras/anpr?camera=&secret=
with the AlarmInfoPlate JSON of drivers/camera/testdata/vzenith_plate_result.json, the plate
swapped and the pictures left out; the camera's lane is its device's. When the barrier
opens the vehicle drives over the loop and clears it, so the gateway closes the barrier behind it.
A vehicle refused at the entrance turns away; one held at the exit (a fee due) waits, and tries
again later.

stdout, one line per event: LISTENING <port> | ENTRY <plate> opened|refused | EXIT <plate>
opened|held | COIL <address> <value>. Runs until SIGTERM or stdin closes.
Usage: parking_lot_sim.py --http-port P --secret S [--entry-camera cam-in] [--exit-camera cam-out]
       [--interval 15] [--plate PLATE]...   (plates of residents; visitors are made up)
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gate_io_sim import IoModule, say  # noqa: E402

ENTRY, EXIT = 0, 1
PROVINCES = "粤京沪苏浙鲁川湘"


class Lot:
    def __init__(self, args):
        self.args = args
        self.changed = threading.Condition()
        self.io = IoModule(on_coil=self.on_coil)
        self.inside = []
        self.waiting = set()

    def on_coil(self, address, value):
        say(f"COIL {address} {value}")
        with self.changed:
            self.changed.notify_all()

    def wait_coil(self, address, value, timeout):
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.io.coil(address) != value:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True

    def push(self, camera, lane, plate):
        """The camera's push; False while the gateway is not listening yet."""
        body = json.dumps({"AlarmInfoPlate": {
            "channel": 0, "deviceName": "IVS", "serialno": f"sim-{camera}",
            "result": {"PlateResult": {
                "license": plate, "colorType": 1, "confidence": 96, "isoffline": 0,
                "timeStamp": {"Timeval": {"sec": int(time.time()), "usec": 0}}}}}},
            ensure_ascii=False)
        query = urllib.parse.urlencode({"camera": camera, "secret": self.args.secret})
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.args.http_port, timeout=10)
            c.request("POST", "/api/cameras/anpr?" + query, body=body.encode(),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            return r.status < 300
        except OSError:
            return False

    def drive_over_loop(self, loop):
        time.sleep(1.0)  # the vehicle rolls forward
        self.io.set_input(loop, 1)
        time.sleep(1.5)
        self.io.set_input(loop, 0)

    def arrive(self):
        residents = [p for p in self.args.plate if p not in self.inside]
        if residents and random.random() < 0.6:
            plate = random.choice(residents)
        else:
            plate = random.choice(PROVINCES) + random.choice("ABCDE") + \
                "".join(random.choice("0123456789") for _ in range(5))
        if not self.push(self.args.entry_camera, "entry", plate):
            return
        if self.wait_coil(ENTRY, 1, 5):
            say(f"ENTRY {plate} opened")
            self.drive_over_loop(ENTRY)
            self.inside.append(plate)
        else:
            say(f"ENTRY {plate} refused")

    def leave(self):
        plate = random.choice(self.inside)
        if not self.push(self.args.exit_camera, "exit", plate):
            return
        if self.wait_coil(EXIT, 1, 5):
            say(f"EXIT {plate} opened")
            self.drive_over_loop(EXIT)
            self.inside.remove(plate)
        else:
            say(f"EXIT {plate} held")

    def traffic(self):
        while True:
            time.sleep(self.args.interval * random.uniform(0.5, 1.5))
            if self.inside and random.random() < 0.45:
                self.leave()
            else:
                self.arrive()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--entry-camera", default="cam-in")
    ap.add_argument("--exit-camera", default="cam-out")
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--plate", action="append", default=[])
    args = ap.parse_args()
    lot = Lot(args)

    def listening(port):
        say(f"LISTENING {port}")
        threading.Thread(target=lot.traffic, daemon=True).start()
        # stdin closing (the parent gone) ends the simulator
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()

    lot.io.serve_forever(listening)


if __name__ == "__main__":
    main()
