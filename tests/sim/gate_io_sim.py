#!/usr/bin/python3
"""A barrier's I/O module as a Modbus TCP server (pymodbus 3.0, a real peer): coils are the
relays, discrete inputs the vehicle presence loops. Listens on 127.0.0.1 on an ephemeral port.

stdout, one line per event:  LISTENING <port>  |  COIL <address> <value> (every write of a coil)
                             |  DI <address> <value> (answer to `set`)  |  GET <address> <value>
stdin, one command per line: set <input> <0|1>  (a vehicle arrives on / leaves the loop)
                             get <coil>          (prints the coil's current value)
Addresses are Modbus PDU addresses (0-based). Unit id: any (single context).
Arguments: [--coil-on N]... [--input-on N]...  initial state (a barrier left open, a car on the
loop when the gateway starts)."""

import asyncio
import sys
import threading
import types

# pymodbus.server imports serial_asyncio for its serial servers; this peer is TCP only, so a
# placeholder module lets the import succeed where python3-serial-asyncio is not installed.
try:
    import serial_asyncio  # noqa: F401
except ImportError:
    _stub = types.ModuleType("serial_asyncio")
    _stub.create_serial_connection = None
    sys.modules["serial_asyncio"] = _stub

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,  # noqa: E402
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusTcpServer  # noqa: E402


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Coils(ModbusSequentialDataBlock):
    """The relays; every write is reported to `on_write(address, value)`."""

    def __init__(self, address, values, on_write):
        super().__init__(address, values)
        self.on_write = on_write

    def setValues(self, address, values):  # noqa: N802 (pymodbus API)
        super().setValues(address, values)
        if not isinstance(values, list):
            values = [values]
        for i, v in enumerate(values):
            self.on_write(address + i, int(bool(v)))


class IoModule:
    """64 coils and 64 discrete inputs behind one unit id (any), 0-based PDU addresses."""

    def __init__(self, coils_on=(), inputs_on=(), on_coil=lambda a, v: None):
        initial_coils, initial_inputs = [0] * 64, [0] * 64
        for a in coils_on:
            initial_coils[a] = 1
        for a in inputs_on:
            initial_inputs[a] = 1
        self.coils = Coils(0, initial_coils, on_coil)
        self.inputs = ModbusSequentialDataBlock(0, initial_inputs)
        slave = ModbusSlaveContext(co=self.coils, di=self.inputs,
                                   hr=ModbusSequentialDataBlock(0, [0] * 8),
                                   ir=ModbusSequentialDataBlock(0, [0] * 8), zero_mode=True)
        self.context = ModbusServerContext(slaves=slave, single=True)

    def set_input(self, address, value):
        self.inputs.setValues(address, [int(value)])

    def coil(self, address):
        return int(bool(self.coils.getValues(address, 1)[0]))

    def serve_forever(self, on_listening):
        """Listens on 127.0.0.1:0; calls on_listening(port) from the server's loop thread."""

        async def run():
            server = ModbusTcpServer(self.context, address=("127.0.0.1", 0))
            task = asyncio.ensure_future(server.serve_forever())
            await server.serving
            on_listening(server.server.sockets[0].getsockname()[1])
            await task

        asyncio.run(run())


def main():
    args = sys.argv[1:]
    on = {"--coil-on": [], "--input-on": []}
    for flag, value in zip(args[::2], args[1::2]):
        on[flag].append(int(value))
    io = IoModule(on["--coil-on"], on["--input-on"], lambda a, v: say(f"COIL {a} {v}"))

    def commands():
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "set":
                a, v = int(parts[1]), int(parts[2])
                io.set_input(a, v)
                say(f"DI {a} {v}")
            elif len(parts) == 2 and parts[0] == "get":
                a = int(parts[1])
                say(f"GET {a} {io.coil(a)}")
            elif parts:
                say(f"ERROR unknown command: {line.strip()}")

    def listening(port):
        say(f"LISTENING {port}")
        threading.Thread(target=commands, daemon=True).start()

    io.serve_forever(listening)


if __name__ == "__main__":
    main()
