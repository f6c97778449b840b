#!/usr/bin/python3
"""An independent Modbus peer for the tests: Debian's python3-pymodbus 3.0 server holding
Eastron SDM630-style input registers (IEEE 754 float32, high word first), the same values in the
holding registers, for unit 1 (or the units given).
Usage: meter_modbus_peer.py PORT VALUES_JSON [--framer socket|rtu] [--units 1,2] [--registers N]
  VALUES_JSON: {"register": float, ...}; PORT 0: any free port.
  --registers: how many registers the tables hold (default 400); reads beyond them get the
  exception answer "illegal data address".
  --framer rtu: Modbus RTU frames (address, PDU, CRC) on the TCP connection, as a serial device
  server passes an RS-485 line through ("RTU over TCP"); default: Modbus TCP (MBAP).
Prints "READY <port>" on stdout once listening; runs until killed."""

import argparse
import json
import struct
import sys
import types

# pymodbus.server imports serial_asyncio for its serial servers; this peer is TCP only, so a
# placeholder module lets the import succeed where python3-serial-asyncio is not installed.
if "serial_asyncio" not in sys.modules:
    try:
        import serial_asyncio  # noqa: F401
    except ImportError:
        stub = types.ModuleType("serial_asyncio")
        stub.create_serial_connection = None
        sys.modules["serial_asyncio"] = stub

import asyncio  # noqa: E402

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,  # noqa: E402
                                ModbusSlaveContext)
from pymodbus.framer.rtu_framer import ModbusRtuFramer  # noqa: E402
from pymodbus.framer.socket_framer import ModbusSocketFramer  # noqa: E402
from pymodbus.server import StartAsyncTcpServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
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

    def slave():
        # pymodbus' sequential blocks are addressed from 1 for protocol address 0.
        return ModbusSlaveContext(ir=ModbusSequentialDataBlock(1, regs),
                                  hr=ModbusSequentialDataBlock(1, regs), zero_mode=False)
    units = [int(u) for u in args.units.split(",")]
    context = ModbusServerContext(slaves={u: slave() for u in units}, single=False)
    framer = ModbusRtuFramer if args.framer == "rtu" else ModbusSocketFramer

    async def run():
        server = await StartAsyncTcpServer(context, address=("127.0.0.1", args.port),
                                           framer=framer, defer_start=True)
        serving = asyncio.create_task(server.serve_forever())
        await server.serving  # set once the socket listens
        port = server.server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await serving

    asyncio.run(run())


if __name__ == "__main__":
    main()
