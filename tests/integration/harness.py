"""Shared pieces of the integration tests: the real estate-edge binary, a real mosquitto on an
ephemeral port, and readiness through the sd_notify protocol (no sleeps: tests wait on the
daemon's own READY/STATUS messages or on output lines, each with a deadline)."""

import os
import select
import sqlite3
import signal
import socket
import subprocess
import tempfile
import threading
import time

BINARY = os.environ.get("ESTATE_EDGE", "estate-edge")
SOURCE_DIR = os.environ.get("ESTATE_EDGE_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("ESTATE_EDGE_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))


def free_port():
    """An ephemeral port the kernel just handed out (for peers that cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotifySocket:
    """The systemd notify socket, played by the test: collects READY=1, STATUS=... messages."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def wait_for(self, predicate, timeout=30.0, what="notification"):
        """Waits for a message whose fields satisfy predicate(dict). Returns the dict."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {what} within {timeout}s; got {self.messages}")
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            data = self.sock.recv(65536).decode()
            fields = {}
            for line in data.splitlines():
                key, _, value = line.partition("=")
                fields[key] = value
            self.messages.append(fields)
            if predicate(fields):
                return fields

    def close(self):
        self.sock.close()


class Mosquitto:
    """A real mosquitto broker on loopback, ready when it says it is running."""

    def __init__(self, directory, port=None):
        self.port = port or free_port()
        self.conf = os.path.join(directory, f"mosquitto-{self.port}.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
                    "log_type information\npersistence false\nmax_inflight_messages 0\n"
                    "max_queued_messages 0\n")
        self.proc = None

    def start(self, timeout=15):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL)
        wait_for_line(self.proc.stderr, " running", timeout, "mosquitto start")
        # Keep draining its log so a chatty broker never blocks on a full pipe.
        threading.Thread(target=_discard, args=(self.proc.stderr,), daemon=True).start()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"


_pending = {}  # fileno -> bytes read past the last line handed out


def wait_for_line(stream, needle, timeout, what):
    """Waits for a line containing needle on a subprocess pipe; returns it (str).

    Reads the raw file descriptor, never the Python stream's buffer: select() cannot see data
    that readline() already pulled into a buffer, so a mix of the two misses lines that have
    arrived. Bytes past the returned line are kept for the next call on the same pipe."""
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    seen = []
    buf = _pending.pop(fd, b"")
    try:
        while True:
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode(errors="replace") + "\n"
                seen.append(line.rstrip())
                if needle in line:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what}: '{needle}' not seen within {timeout}s; "
                                   f"saw {seen[-10:]}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"{what}: stream ended; saw {seen[-10:]}")
            buf += chunk
    finally:
        _pending[fd] = buf


def _discard(stream):
    try:
        while os.read(stream.fileno(), 65536):
            pass
    except (OSError, ValueError):
        pass


def query(db_path, sql, args=()):
    """Rows of a read-only query on a daemon's store; [] while the component owning the table
    has not created it yet."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        db.close()


class Daemon:
    """estate-edge run --config F --state-dir D, with a notify socket and a log file."""

    def __init__(self, directory, config_path, state_dir=None, extra_args=()):
        self.dir = directory
        self.config = config_path
        self.state_dir = state_dir or os.path.join(directory, "state")
        self.log_path = os.path.join(directory, "daemon.log")
        self.extra = list(extra_args)
        self.proc = None
        self.notify = None

    def start(self, wait_ready=True):
        self._close()
        self.notify = NotifySocket(self.dir)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        env.pop("JOURNAL_STREAM", None)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [BINARY, "run", "--config", self.config, "--state-dir", self.state_dir] + self.extra,
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait_ready:
            self.notify.wait_for(lambda m: m.get("READY") == "1", 30, "READY=1")
        return self

    def signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, timeout=30):
        rc = None
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout)
        self._close()
        if rc not in (0, None):
            self._report_exit(rc)
        return rc

    def _report_exit(self, rc):
        # A daemon that did not exit cleanly (a sanitizer's abort, a crash) says why in its log:
        # its tail goes to stderr so the test's output carries the report.
        import sys
        try:
            tail = self.logs()[-40000:]
        except OSError:
            return
        sys.stderr.write(f"--- estate-edge exited with {rc}; the end of {self.log_path}:\n"
                         f"{tail}\n--- end of daemon log\n")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def _close(self):
        if self.notify:
            self.notify.close()
            os.unlink(self.notify.path)
            self.notify = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def logs(self):
        with open(self.log_path) as f:
            return f.read()


class MeterSim:
    """tests/sim/meter_sim.py on a pty: meters of one protocol sharing a line. `path` is the
    pty the gateway opens; stop() closes its stdin (it exits), killing it if it lingers."""

    def __init__(self, protocol, meters, extra=()):
        import sys
        args = [sys.executable, os.path.join(SOURCE_DIR, "tests", "sim", "meter_sim.py"),
                "--protocol", protocol] + list(extra)
        for m in meters:
            args += ["--meter", m]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.path = wait_for_line(self.proc.stdout, "PTY", 15, f"{protocol} simulator").split()[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class ModbusPeer:
    """tests/sim/meter_modbus_peer.py: an independent pymodbus 3.0 server on an ephemeral port
    holding `values` ({"register": float}) for `units` in tables of `registers` registers;
    framer "socket" is Modbus TCP, "rtu" RTU frames over TCP (a serial device server's line)."""

    def __init__(self, values, framer="socket", units=(1,), registers=400):
        import json
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SOURCE_DIR, "tests", "sim", "meter_modbus_peer.py"),
             "0", json.dumps(values), "--framer", framer, "--units", ",".join(map(str, units)),
             "--registers", str(registers)],
            stdout=subprocess.PIPE, text=True)
        self.port = int(wait_for_line(self.proc.stdout, "READY", 15, "pymodbus peer").split()[1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def camera_push(http_port, plate, secret, camera="cam-in", lane="entry"):
    """A plate camera's push to the gateway (POST /api/cameras/anpr, as the cameras do);
    returns (status, body bytes)."""
    import http.client
    import json
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=20)
    body = json.dumps({"camera": camera, "plate": plate, "colour": "blue", "confidence": 95,
                       "lane": lane})
    c.request("POST", "/api/cameras/anpr", body=body.encode(),
              headers={"Content-Type": "application/json", "X-Camera-Secret": secret})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def io_bus_yaml(port):
    """The site YAML bus line of the test I/O module (tests/sim/gate_io_sim.py on `port`)."""
    return f"  - {{id: io-bus, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {port}}}\n"


def gate_yaml(gate, lane, coil, camera=None, secret=None, io_module=True):
    """Site YAML device lines of a barrier gate on the test I/O module: relay coil and loop
    input `coil` of io-1 (declared too unless io_module is False), and its plate camera with
    `secret` when `camera` is given."""
    text = '  - {id: io-1, kind: io_module, bus: io-bus, address: "1"}\n' if io_module else ""
    text += (f"  - id: {gate}\n    kind: gate\n    lane: {lane}\n    relay: io-1:{coil}\n"
             f"    loop_input: io-1:{coil}\n    options: {{loop_poll_ms: 50, open_timeout_s: 600}}\n")
    if camera:
        text += f"  - {{id: {camera}, kind: camera, gate: {gate}, lane: {lane}, secret: {secret}}}\n"
    return text


def mask_plate(plate):
    """A plate as the gateway shows it in logs and events (privacy::mask_plate): province, city
    code and the last two characters kept, "粤B12345" -> "粤B***45"."""
    p = "".join(c for c in plate if c not in " -.\t\u00b7\u2022\u30fb").upper()
    if len(p) <= 4:
        return p[:1] + "*" * max(len(p) - 1, 0)
    return p[:2] + "*" * (len(p) - 4) + p[-2:]


def run_cli(*args, check=None, input=None, timeout=60):
    """Runs `estate-edge args...`; returns CompletedProcess (text)."""
    p = subprocess.run([BINARY] + [str(a) for a in args], capture_output=True, text=True,
                       input=input, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError(f"estate-edge {' '.join(map(str, args))}: exit {p.returncode}, "
                             f"expected {check}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def tempdir():
    return tempfile.TemporaryDirectory(prefix="estate-edge-test-")


def minimal_config(directory, name="site.yaml", extra=""):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("site:\n  id: test-site\ngateway:\n  id: test-gw\n" + extra)
    return path
