#!/usr/bin/python3
"""An independent Modbus TCP peer for the tests: Debian's python3-pymodbus 3.0 server holding
Eastron SDM630-style input registers (IEEE 754 float32, high word first) for unit 1.
Usage: meter_modbus_peer.py PORT VALUES_JSON   (VALUES_JSON: {"register": float, ...})
Prints "READY" on stdout once listening; runs until killed."""

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
from pymodbus.server import StartAsyncTcpServer  # noqa: E402


def main():
    port = int(sys.argv[1])
    values = {int(k): float(v) for k, v in json.loads(sys.argv[2]).items()}
    regs = [0] * 400
    for reg, v in values.items():
        hi, lo = struct.unpack(">HH", struct.pack(">f", v))
        regs[reg], regs[reg + 1] = hi, lo
    # pymodbus' sequential blocks are addressed from 1 for protocol address 0.
    block = ModbusSequentialDataBlock(1, regs)
    slave = ModbusSlaveContext(ir=block, hr=ModbusSequentialDataBlock(1, regs), zero_mode=False)
    context = ModbusServerContext(slaves={1: slave}, single=False)

    async def run():
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: print("READY", flush=True))
        await StartAsyncTcpServer(context, address=("127.0.0.1", port))

    asyncio.run(run())


if __name__ == "__main__":
    main()
