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
        # Every message published on this broker is checked against docs/schemas (Capture); not
        # on a broker a test made refuse anonymous clients (its refusals are what it counts).
        with open(self.conf) as f:
            anonymous = "allow_anonymous false" not in f.read()
        if anonymous:
            self.captures = getattr(self, "captures", []) + [Capture(self.port)]
        return self

    def stop(self, raise_violation=False):
        """Stops the broker; first checks what it carried against docs/schemas. A message that
        does not validate is reported on stderr at once and fails the test process at its exit
        (exit status 1; see report_contract), so the test's own cleanup still runs; with
        raise_violation, ContractViolation is raised once the broker is down."""
        captures, self.captures = getattr(self, "captures", []), []
        messages = []
        for c in captures:
            messages += c.stop(sync=self.proc is not None and self.proc.poll() is None)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
        report_contract(messages, f"broker on port {self.port}", raise_violation)

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
    framer "socket" is Modbus TCP, "rtu" RTU frames over TCP (a serial device server's line).
    serial=True: Modbus RTU on a socat pty pair, pymodbus's serial server on one end; `path` is
    the end the gateway opens; `slow` {unit: ms} answer late, `silent` units never answer."""

    def __init__(self, values, framer="socket", units=(1,), registers=400, serial=False,
                 slow=None, silent=()):
        import json
        where = ["--serial"] if serial else ["0"]
        extra = [a for u, ms in (slow or {}).items() for a in ("--slow", f"{u}:{ms}")]
        extra += [a for u in silent for a in ("--silent", str(u))]
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SOURCE_DIR, "tests", "sim", "meter_modbus_peer.py")]
            + where + [json.dumps(values), "--framer", framer, "--units", ",".join(map(str, units)),
                       "--registers", str(registers)] + extra,
            stdout=subprocess.PIPE, text=True)
        ready = wait_for_line(self.proc.stdout, "READY", 15, "pymodbus peer").split()[1]
        if serial:
            self.path = ready
        else:
            self.port = int(ready)

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
        text += (f"  - {{id: {camera}, kind: camera, model: generic-json, gate: {gate}, "
                 f"lane: {lane}, secret: {secret}}}\n")
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


# --- The published contract: docs/schemas, enforced on every message a test's broker carries ---

SCHEMA_DIR = os.path.join(SOURCE_DIR, "docs", "schemas")
# Every uplink stream (estate/<site>/<gw>/<stream>) must have docs/schemas/<stream>.schema.json.
# True: a stream without one fails the test like any schema error (False only reports it on
# stderr, for a stream whose schema is still being written).
STRICT_STREAMS = True
# Where the capture's own synchronisation messages go (never a gateway's topic).
_SYNC_TOPIC = "estate/_contract_capture/sync"

_invalid_commands = set()  # ids (str) and payloads (bytes) a test sends against their schema


class ContractViolation(AssertionError):
    pass


def deliberately_invalid(command):
    """Marks a command a test sends against its schema on purpose (hostile input): the contract
    check skips it. `command` is the dict (marked by its id), an id (str) or the raw payload
    (bytes). Returns `command`, so it can wrap the argument: self.command("x", invalid({...}))."""
    if isinstance(command, dict):
        if isinstance(command.get("id"), str):
            _invalid_commands.add(command["id"])
        import json
        _invalid_commands.add(json.dumps(command).encode())
    elif isinstance(command, bytes):
        _invalid_commands.add(command)
    else:  # an id, or a raw payload given as text
        _invalid_commands.add(str(command))
        _invalid_commands.add(str(command).encode())
    return command


class Contract:
    """The schemas of docs/schemas (JSON Schema draft 2020-12), by the topic a message is on:
    <stream> -> <stream>.schema.json (an array is a batch: each record validated), state ->
    state.schema.json, acks -> ack.schema.json, cmd/<name> -> cmd-<name>.schema.json. Relative
    $refs are resolved from the directory (command-common.schema.json)."""

    def __init__(self, schema_dir=SCHEMA_DIR):
        import json
        import pathlib
        import jsonschema
        self.jsonschema = jsonschema
        self.dir = schema_dir
        self.store = {}
        self.schemas = {}
        for name in sorted(os.listdir(schema_dir)) if os.path.isdir(schema_dir) else []:
            if name.endswith(".schema.json"):
                path = os.path.join(schema_dir, name)
                with open(path, encoding="utf-8") as f:
                    doc = json.load(f)
                jsonschema.Draft202012Validator.check_schema(doc)
                uri = pathlib.Path(path).resolve().as_uri()
                self.store[uri] = doc
                self.schemas[name] = (uri, doc)
        self.validators = {}

    def validator(self, name):
        """The validator of docs/schemas/<name>, or None when there is no such schema."""
        if name not in self.validators:
            found = self.schemas.get(name)
            v = None
            if found:
                uri, doc = found
                resolver = self.jsonschema.RefResolver(uri, doc, store=dict(self.store))
                v = self.jsonschema.Draft202012Validator(doc, resolver=resolver)
            self.validators[name] = v
        return self.validators[name]

    def errors(self, name, doc):
        """The schema errors of `doc` against docs/schemas/<name> (each a line naming where)."""
        v = self.validator(name)
        if v is None:
            return [f"no schema docs/schemas/{name}"]
        out = []
        # The first few: one mistake in a big list would otherwise repeat for every item.
        for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))[:3]:
            best = self.jsonschema.exceptions.best_match([e])
            where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                                  for p in best.absolute_path)
            out.append(f"{name}: at {where}: {best.message}")
        return out

    def check(self, topic, payload):
        """(problems, notes) of one message: problems fail a test; notes are streams without a
        schema while STRICT_STREAMS is False."""
        import json
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != "estate":
            return [f"{topic}: not a topic of the contract (estate/<site>/<gateway>/...)"], []
        rest = parts[3:]
        shown = payload[:200].decode(errors="replace")
        if rest[0] == "cmd" and len(rest) == 2:
            name = f"cmd-{rest[1]}.schema.json"
            try:
                doc = json.loads(payload)
            except (ValueError, RecursionError) as e:
                doc, why = None, f"not JSON: {e}"
            if payload in _invalid_commands or (isinstance(doc, dict) and
                                                doc.get("id") in _invalid_commands):
                return [], []
            if doc is None:
                return [f"{topic}: {shown}: {why} (mark a deliberately invalid command with "
                        f"harness.deliberately_invalid)"], []
            errors = self.errors(name, doc)
            return [f"{topic}: {shown}: {e} (a deliberately invalid command is marked with "
                    f"harness.deliberately_invalid)" for e in errors], []
        if len(rest) != 1:
            return [f"{topic}: not a topic of the contract"], []
        stream = rest[0]
        name = {"state": "state.schema.json", "acks": "ack.schema.json"}.get(
            stream, f"{stream}.schema.json")
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError) as e:
            return [f"{topic}: {shown}: not JSON: {e}"], []
        if self.validator(name) is None and stream not in ("state", "acks"):
            note = f"{topic}: no docs/schemas/{name}"
            return ([note + " (STRICT_STREAMS)"], []) if STRICT_STREAMS else ([], [note])
        records = doc if isinstance(doc, list) and stream not in ("state", "acks") else [doc]
        if not records:
            return [f"{topic}: an empty batch"], []
        problems = []
        for i, r in enumerate(records):
            at = f" record {i}" if records is doc else ""
            problems += [f"{topic}{at}: {json.dumps(r, ensure_ascii=False)[:200]}: {e}"
                         for e in self.errors(name, r)]
        return problems, []


_contract = None


def contract():
    global _contract
    if _contract is None:
        _contract = Contract()
    return _contract


def check_contract(messages, where="broker"):
    """Checks captured (topic, payload) messages; raises ContractViolation naming each topic,
    message and schema error. Streams without a schema are reported on stderr (or fail, with
    STRICT_STREAMS)."""
    import sys
    problems, notes = [], {}
    for topic, payload in messages:
        if topic == _SYNC_TOPIC:
            continue
        p, n = contract().check(topic, payload)
        problems += p
        for x in n:
            notes[x] = notes.get(x, 0) + 1
    for note, count in sorted(notes.items()):
        sys.stderr.write(f"contract ({where}): {note}: {count} message(s) not checked "
                         f"(STRICT_STREAMS is False)\n")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ContractViolation(f"{len(problems)} problem(s) in messages on the {where} "
                                f"against docs/schemas:\n  {shown}{more}")


_violations = []


def _fail_at_exit():
    if _violations:
        import sys
        sys.stderr.write(f"FAILED: {len(_violations)} broker(s) carried messages that do not "
                         "match docs/schemas (above: 'contract violation')\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)


def report_contract(messages, where, raise_violation=False):
    """check_contract; a violation is raised (raise_violation) or written to stderr at once and
    makes the test process exit with status 1 (after unittest's own report and every test's
    cleanup: raising inside a tearDownClass would leave its later cleanup undone)."""
    import atexit
    import sys
    try:
        check_contract(messages, where)
    except ContractViolation as e:
        if raise_violation:
            raise
        if not _violations:
            atexit.register(_fail_at_exit)
        _violations.append(str(e))
        sys.stderr.write(f"contract violation: {e}\n")
        sys.stderr.flush()


class Capture:
    """mosquitto_sub on estate/# of a broker, from start() (once subscribed) to stop(): every
    message as (topic, payload bytes), in arrival order. A broker refusing it (credentials)
    leaves it empty."""

    _count = 0

    def __init__(self, port, host="127.0.0.1", timeout=15):
        Capture._count += 1
        self.port, self.host = port, host
        self.messages = []
        self.proc = subprocess.Popen(
            # Line-buffered: its -d lines (SUBACK) would otherwise wait in a full stdio buffer.
            ["stdbuf", "-oL", "mosquitto_sub", "-h", host, "-p", str(port), "-t", "estate/#",
             "-q", "1", "-d", "-i", f"contract-capture-{os.getpid()}-{Capture._count}",
             "-F", "MSG %t %x"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.sync_seen = threading.Event()
        self.subscribed = False
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        while not self.subscribed and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # refused (a broker with credentials): nothing to capture
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._line(line)
                if b"received SUBACK" in line:
                    self.subscribed = True
        self.reader = threading.Thread(target=self._read, args=(buf,), daemon=True)
        self.reader.start()

    def _line(self, line):
        if not line.startswith(b"MSG "):
            return
        topic, _, hexed = line[4:].rpartition(b" ")
        topic = topic.decode(errors="replace")
        if topic == _SYNC_TOPIC:
            self.sync_seen.set()
        self.messages.append((topic, bytes.fromhex(hexed.decode())))

    def _read(self, buf):
        fd = self.proc.stdout.fileno()
        try:
            while True:
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._line(line)
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                buf += chunk
        except (OSError, ValueError):
            return

    def stop(self, sync=True, timeout=10):
        """Ends the capture and returns its messages. With `sync`, first waits until a message
        published now has arrived, so everything published before it was captured."""
        if sync and self.subscribed and self.proc.poll() is None:
            r = subprocess.run(["mosquitto_pub", "-h", self.host, "-p", str(self.port), "-q", "1",
                                "-t", _SYNC_TOPIC, "-m", "sync"], capture_output=True,
                               timeout=timeout)
            if r.returncode == 0:
                self.sync_seen.wait(timeout)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.reader.join(timeout)
        self.proc.stdout.close()
        return list(self.messages)
