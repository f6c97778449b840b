#!/usr/bin/python3
"""An independent Modbus peer for the tests: Debian's python3-pymodbus 3.0 server holding
Eastron SDM630-style input registers (IEEE 754 float32, high word first), the same values in the
holding registers, for unit 1 (or the units given).
Usage: meter_modbus_peer.py PORT VALUES_JSON [--framer socket|rtu] [--units 1,2] [--registers N]
       meter_modbus_peer.py --serial VALUES_JSON [--units 1,2] [--slow UNIT:MS] [--silent UNIT]
  VALUES_JSON: {"register": float, ...}; PORT 0: any free port.
  --registers: how many registers the tables hold (default 400); reads beyond them get the
  exception answer "illegal data address".
  --framer rtu: Modbus RTU frames (address, PDU, CRC) on the TCP connection, as a serial device
  server passes an RS-485 line through ("RTU over TCP"); default: Modbus TCP (MBAP).
  --serial: Modbus RTU on a serial line: socat makes a pty pair, pymodbus's serial server
  (ModbusSerialServer, RTU framer) holds one end; prints "READY <pty>" with the end the
  gateway opens.
  --slow UNIT:MS: that unit answers MS milliseconds late (a slow slave; repeatable).
  --silent UNIT: that unit never answers (a slave that is off the line; repeatable).
Prints "READY <port>" (or "READY <pty>") on stdout once listening; runs until killed."""

import argparse
import json
import struct
import sys
import types

# pymodbus.server imports serial_asyncio (python3-serial-asyncio) for its serial servers; a TCP
# peer still runs where it is not installed, with a placeholder module in its place.
if "serial_asyncio" not in sys.modules:
    try:
        import serial_asyncio  # noqa: F401
    except ImportError:
        stub = types.ModuleType("serial_asyncio")
        stub.create_serial_connection = None
        sys.modules["serial_asyncio"] = stub

import asyncio  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,  # noqa: E402
                                ModbusSlaveContext)
from pymodbus.framer.rtu_framer import ModbusRtuFramer  # noqa: E402
from pymodbus.framer.socket_framer import ModbusSocketFramer  # noqa: E402
from pymodbus.server import StartAsyncTcpServer  # noqa: E402
from pymodbus.server.async_io import ModbusSerialServer  # noqa: E402


class SlowSlave(ModbusSlaveContext):
    """A slave whose answers leave `delay` seconds late: the serial server computes the answer
    in getValues, so sleeping there delays exactly that unit's answer."""

    def __init__(self, delay, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def getValues(self, fc_as_hex, address, count=1):  # noqa: N802 (pymodbus' name)
        time.sleep(self.delay)
        return super().getValues(fc_as_hex, address, count)


def pty_pair(directory):
    """socat's pty pair: returns (socat process, gateway end, peer end) once both exist."""
    a, b = os.path.join(directory, "gateway"), os.path.join(directory, "peer")
    proc = subprocess.Popen(["socat", "-d", "-d", f"pty,raw,echo=0,link={a}",
                             f"pty,raw,echo=0,link={b}"], stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # socat says so once both ends are open
        if "starting data transfer loop" in line:
            break
    else:
        raise SystemExit("socat ended before making the pty pair")
    return proc, a, b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--slow", action="append", default=[])
    ap.add_argument("--silent", action="append", default=[])
    if "--serial" not in sys.argv:
        ap.add_argument("port", type=int)
    ap.add_argument("values")
    ap.add_argument("--framer", choices=("socket", "rtu"), default="socket")
    ap.add_argument("--units", default="1")
    ap.add_argument("--registers", type=int, default=400)
    args = ap.parse_args()
    values = {int(k): float(v) for k, v in json.loads(args.values).items()}
    regs = [0] * args.registers
    for reg, v in values.items():
        if reg + 1 >= args.registers:
            continue  # outside the tables: reading it gets the exception answer
        hi, lo = struct.unpack(">HH", struct.pack(">f", v))
        regs[reg], regs[reg + 1] = hi, lo

    slow = {int(u): int(ms) / 1000 for u, ms in (x.split(":") for x in args.slow)}
    silent = {int(u) for u in args.silent}

    def slave(unit):
        # pymodbus' sequential blocks are addressed from 1 for protocol address 0.
        blocks = dict(ir=ModbusSequentialDataBlock(1, regs), hr=ModbusSequentialDataBlock(1, regs),
                      zero_mode=False)
        return SlowSlave(slow[unit], **blocks) if unit in slow else ModbusSlaveContext(**blocks)
    units = [int(u) for u in args.units.split(",")] + sorted(slow)
    # A silent unit has no context: with ignore_missing_slaves the server does not answer it.
    context = ModbusServerContext(slaves={u: slave(u) for u in units if u not in silent},
                                  single=False)
    framer = ModbusRtuFramer if args.framer == "rtu" else ModbusSocketFramer

    if args.serial:
        # Killed (SIGTERM), it still ends its socat: the handler unwinds through `finally`.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with tempfile.TemporaryDirectory(prefix="modbus-line-") as d:
            socat, gateway_end, peer_end = pty_pair(d)
            try:
                asyncio.run(serve_serial(context, gateway_end, peer_end))
            finally:
                socat.terminate()
                socat.wait(5)
        return

    async def run():
        server = await StartAsyncTcpServer(context, address=("127.0.0.1", args.port),
                                           framer=framer, defer_start=True)
        serving = asyncio.create_task(server.serve_forever())
        await server.serving  # set once the socket listens
        port = server.server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await serving

    asyncio.run(run())


async def serve_serial(context, gateway_end, peer_end):
    server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=peer_end, baudrate=9600,
                                ignore_missing_slaves=True)
    await server.start()  # opens the pty end: from here on requests are answered
    if server.transport is None:
        raise SystemExit(f"pymodbus could not open {peer_end}")
    print(f"READY {gateway_end}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    main()
