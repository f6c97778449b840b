"""Cloud bridge uplink against a real mosquitto: records arrive in order with their seq; the broker
stopped and restarted while records keep coming; the daemon killed with SIGKILL mid-stream and
restarted; a persistent QoS 1 subscriber checks that every seq from 1 to last_seq arrived except
those still pending in the outbox. Records come from the gateway heartbeat (`demo:` section)."""

import json
import os
import pwd
import select
import socket
import sqlite3
import struct
import time
import unittest

from harness import Daemon, Mosquitto, run_cli, tempdir

SITE, GW = "test-site", "test-gw"
PREFIX = f"estate/{SITE}/{GW}/"


def stamped(payload, valid_s=3600, issued=None):
    """The command `payload` (a dict) with the envelope's issued_at and expires (docs/mqtt-api.md)
    added when it has none: issued now (or at `issued`, Unix seconds), valid for `valid_s`."""
    if "issued_at" in payload:
        return payload
    t = int(time.time() if issued is None else issued)
    iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))  # noqa: E731
    return dict(payload, issued_at=iso(t), expires=iso(t + valid_s))


def wait_until(predicate, timeout, what, interval=0.05):
    """Waits for an observable condition (status, received messages) with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(interval)


class MqttClient:
    """A minimal MQTT 3.1.1 client (OASIS MQTT 3.1.1 §3): CONNECT with a persistent session,
    SUBSCRIBE and PUBLISH at QoS 1, PUBACK for what it receives. Single-threaded: recv() reads
    until a PUBLISH arrives or the timeout passes."""

    def __init__(self, port, client_id, clean=False):
        self.port, self.client_id, self.clean = port, client_id, clean
        self.sock = None
        self.buf = b""
        self.next_id = 1

    @staticmethod
    def _remaining(n):
        out = b""
        while True:
            b = n % 128
            n //= 128
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    @staticmethod
    def _str(s):
        b = s.encode() if isinstance(s, str) else s
        return struct.pack("!H", len(b)) + b

    def _send(self, ptype, body):
        self.sock.sendall(bytes([ptype]) + self._remaining(len(body)) + body)

    def connect(self, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.buf = b""
        flags = 0x02 if self.clean else 0x00
        body = self._str("MQTT") + bytes([4, flags]) + struct.pack("!H", 0) + self._str(self.client_id)
        self._send(0x10, body)
        ptype, payload = self._read_packet(timeout)
        if ptype >> 4 != 2 or payload[1] != 0:
            raise RuntimeError(f"CONNACK refused: {payload!r}")
        return self

    def subscribe(self, topic, qos=1, timeout=10):
        pid = self._pid()
        self._send(0x82, struct.pack("!H", pid) + self._str(topic) + bytes([qos]))
        # SUBACK may come after queued PUBLISHes; keep those.
        self.pending = getattr(self, "pending", [])
        while True:
            ptype, payload = self._read_packet(timeout)
            if ptype >> 4 == 9:
                return
            self._handle(ptype, payload)

    def publish(self, topic, payload, qos=1):
        if isinstance(payload, str):
            payload = payload.encode()
        if qos:
            body = self._str(topic) + struct.pack("!H", self._pid()) + payload
            self._send(0x32, body)
        else:
            self._send(0x30, self._str(topic) + payload)

    def _pid(self):
        pid = self.next_id
        self.next_id = self.next_id % 65535 + 1
        return pid

    def _read_packet(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                mult, n, i = 1, 0, 1
                while i < len(self.buf):
                    b = self.buf[i]
                    n += (b & 127) * mult
                    mult *= 128
                    i += 1
                    if not b & 128:
                        if len(self.buf) >= i + n:
                            ptype = self.buf[0]
                            payload = self.buf[i:i + n]
                            self.buf = self.buf[i + n:]
                            return ptype, payload
                        break
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None, None
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("broker closed the connection")
            self.buf += data

    def _handle(self, ptype, payload):
        if ptype >> 4 != 3:
            return None  # PUBACK, SUBACK, PINGRESP
        qos = (ptype >> 1) & 3
        tlen = struct.unpack("!H", payload[:2])[0]
        topic = payload[2:2 + tlen].decode()
        rest = payload[2 + tlen:]
        if qos:
            pid = rest[:2]
            rest = rest[2:]
            self._send(0x40, pid)
        msg = (topic, rest)
        self.pending = getattr(self, "pending", [])
        self.pending.append(msg)
        return msg

    def wait_online(self, prefix, timeout=30):
        """Waits for the gateway's birth message on <prefix>state (subscribed to it first):
        commands are taken once the gateway has subscribed, which its birth message says."""
        while True:
            msg = self.recv(timeout)
            if msg is None:
                raise TimeoutError("no birth message")
            if msg[0] == prefix + "state" and json.loads(msg[1])["state"] == "online":
                return

    def command(self, prefix, name, payload, timeout=30, seen=None):
        """Publishes on <prefix>cmd/<name> (subscribed to <prefix>acks first) and returns the ack
        with the payload's id (None for raw bytes or text), or None after `timeout`. Every ack
        read on the way is appended to `seen` when given."""
        raw = isinstance(payload, (bytes, str))
        self.publish(prefix + "cmd/" + name, payload if raw else json.dumps(stamped(payload)))
        want = None if raw else payload.get("id")
        while True:
            msg = self.recv(timeout)
            if msg is None:
                return None
            if msg[0] != prefix + "acks":
                continue
            ack = json.loads(msg[1])
            if seen is not None:
                seen.append(ack)
            if ack.get("id") == want:
                return ack

    def recv(self, timeout=5.0):
        """The next PUBLISH (topic, payload bytes), or None after `timeout`."""
        self.pending = getattr(self, "pending", [])
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            ptype, payload = self._read_packet(max(0.0, deadline - time.monotonic()))
            if ptype is None:
                return None
            if self._handle(ptype, payload):
                return self.pending.pop(0)

    def close(self):
        if self.sock:
            try:
                self._send(0xE0, b"")
            except OSError:
                pass
            self.sock.close()
            self.sock = None


Broker = Mosquitto


def persistent_broker(directory, port=None):
    """A mosquitto that keeps sessions and queued messages across its own restart."""
    m = Broker(directory, port)
    text = open(m.conf).read().replace("persistence false\n", "")
    pdir = os.path.join(directory, f"mosq-{m.port}")
    os.makedirs(pdir, exist_ok=True)
    with open(m.conf, "w") as f:
        # Started as root, mosquitto drops to its own user, which cannot write our temp dir.
        f.write(text + f"persistence true\npersistence_location {pdir}/\n"
                f"user {pwd.getpwuid(os.geteuid()).pw_name}\n")
    return m


def bridge_config(directory, url, heartbeat_ms=5, inflight=16, batch=1, extra=""):
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(f"site:\n  id: {SITE}\ngateway:\n  id: {GW}\n"
                f"mqtt:\n  url: {url}\n  inflight: {inflight}\n  batch: {batch}\n"
                f"  drain_timeout_s: 5\n  keepalive_s: 5\n"
                f"demo:\n  heartbeat_interval_ms: {heartbeat_ms}\n" + extra)
    return path


def status(state_dir):
    return json.loads(run_cli("status", "--state-dir", state_dir, "--json", check=0).stdout)


def pending_seqs(state_dir):
    db = sqlite3.connect(f"file:{os.path.join(state_dir, 'estate-edge.db')}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT seq FROM outbox")}
    finally:
        db.close()


class Collector:
    """Records what the platform would see: every record's seq, in arrival order, checking
    that each record's id is gateway-seq and that first sightings never skip a seq."""

    def __init__(self, test, client):
        self.t, self.client = test, client
        self.seen = set()
        self.order = []
        self.highest_first = 0
        self.duplicates = 0
        self.states = []
        self.streams = {}

    def take(self, timeout=5.0):
        msg = self.client.recv(timeout)
        if msg is None:
            return False
        topic, payload = msg
        body = json.loads(payload)
        if topic == PREFIX + "state":
            self.states.append(body)
            return True
        # Any outbox stream (events from the heartbeat, audit anchors ...): one seq space.
        self.t.assertTrue(topic.startswith(PREFIX), topic)
        stream = topic[len(PREFIX):]
        self.t.assertNotIn("/", stream)
        records = body if isinstance(body, list) else [body]
        self.streams[stream] = self.streams.get(stream, 0) + len(records)
        for r in records:
            seq = r["seq"]
            self.t.assertEqual(r["id"], f"{GW}-{seq}")
            self.t.assertEqual(r["v"], 2)
            if stream == "events":
                self.t.assertEqual(r["kind"], "gateway.heartbeat")
            self.t.assertRegex(r["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
            if seq in self.seen:
                self.duplicates += 1
                continue
            # In order: a record seen for the first time is the next one after the highest.
            self.t.assertEqual(seq, self.highest_first + 1,
                               f"seq {seq} arrived first after {self.highest_first}")
            self.highest_first = seq
            self.seen.add(seq)
            self.order.append(seq)
        return True

    def until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: highest seq {self.highest_first}")
            self.take(min(1.0, max(0.01, deadline - time.monotonic())))

    def check_complete(self, state_dir, timeout=30):
        """Every seq 1..last_seq arrived, except those still pending in the outbox."""
        st = status(state_dir)
        last = st["outbox"]["last_seq"]
        pending = pending_seqs(state_dir)
        self.t.assertEqual(len(pending), st["outbox"]["pending"])
        expected = set(range(1, last + 1)) - pending
        self.until(lambda: expected <= self.seen, timeout,
                   f"records 1..{last} minus {len(pending)} pending")
        self.t.assertFalse(self.seen - set(range(1, last + 1)), "seq beyond last_seq")
        return st


class BridgeUplink(unittest.TestCase):
    def test_sigterm_while_the_broker_never_answers_connect(self):
        """A broker that takes the TCP connection and never sends CONNACK: the bridge is still
        connecting when SIGTERM comes; the daemon stops cleanly, exit 0."""
        with tempdir() as d, socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            silent.settimeout(30)
            path = os.path.join(d, "site.yaml")
            with open(path, "w") as f:
                f.write(f"site:\n  id: {SITE}\ngateway:\n  id: {GW}\nmqtt:\n"
                        f"  url: mqtt://127.0.0.1:{silent.getsockname()[1]}\n")
            daemon = Daemon(d, path).start()
            conn, _ = silent.accept()  # the CONNECT is on its way; no answer will come
            with conn:
                self.assertEqual(daemon.stop(), 0, daemon.logs()[-2000:])
            self.assertNotIn("terminate called", daemon.logs())

    def test_ordered_delivery_birth_and_clean_stop(self):
        with tempdir() as d:
            broker = persistent_broker(d).start()
            sub = MqttClient(broker.port, "platform-1").connect()
            sub.subscribe(PREFIX + "#")
            col = Collector(self, sub)
            daemon = Daemon(d, bridge_config(d, broker.url, heartbeat_ms=5, batch=1))
            try:
                daemon.start()
                col.until(lambda: col.highest_first >= 300, 60, "300 records")
                self.assertEqual(daemon.stop(), 0)
                st = col.check_complete(daemon.state_dir)
                col.until(lambda: any(s["state"] == "offline" for s in col.states), 10,
                          "clean offline state")
                online = [s for s in col.states if s["state"] == "online"]
                self.assertTrue(online, col.states)
                self.assertEqual(online[0]["gateway"], GW)
                self.assertIn("backlog", online[0])
                self.assertIn("uptime_s", online[0])
                self.assertTrue([s for s in col.states if s["state"] == "offline"][-1]["clean"])
                self.assertEqual(st["broker"]["state"], "stopped")
                streams = st["outbox"]["streams"].values()
                self.assertEqual(sum(s["appended"] for s in streams), st["outbox"]["last_seq"])
                self.assertEqual(sum(s["acknowledged"] for s in streams) + st["outbox"]["pending"],
                                 st["outbox"]["last_seq"])
                self.assertGreater(col.streams.get("events", 0), 250)
                self.assertEqual(col.duplicates, 0, "no reconnect, so no resends")
            finally:
                daemon.kill()
                sub.close()
                broker.stop()

    def test_broker_outage_and_kill_9_lose_nothing(self):
        with tempdir() as d:
            broker = persistent_broker(d).start()
            sub = MqttClient(broker.port, "platform-1").connect()
            sub.subscribe(PREFIX + "#")
            col = Collector(self, sub)
            cfg = bridge_config(d, broker.url, heartbeat_ms=4, batch=5, inflight=8)
            daemon = Daemon(d, cfg)
            try:
                daemon.start()
                col.until(lambda: col.highest_first >= 100, 60, "first 100 records")

                # Broker outage while records keep coming.
                broker.stop()
                sub.close()
                wait_until(lambda: status(daemon.state_dir)["broker"]["state"] == "disconnected",
                           30, "broker state disconnected")
                before = status(daemon.state_dir)["outbox"]["last_seq"]
                wait_until(lambda: status(daemon.state_dir)["outbox"]["last_seq"] >= before + 200,
                           60, "records appended during the outage")
                self.assertGreaterEqual(status(daemon.state_dir)["outbox"]["pending"], 200)
                broker.start()
                sub.connect()  # persistent session: the broker kept our subscription
                outage_last = status(daemon.state_dir)["outbox"]["last_seq"]
                col.until(lambda: col.highest_first >= outage_last + 50, 60,
                          "backlog drained after the outage")

                # kill -9 mid-stream, then restart on the same state.
                daemon.kill()
                killed_last = status(daemon.state_dir)["outbox"]["last_seq"]
                daemon.start()
                col.until(lambda: col.highest_first >= killed_last + 100, 60,
                          "records after the restart")
                self.assertGreater(status(daemon.state_dir)["outbox"]["last_seq"], killed_last)

                self.assertEqual(daemon.stop(), 0)
                st = col.check_complete(daemon.state_dir)
                self.assertGreater(st["outbox"]["last_seq"], killed_last + 100)
            except BaseException:
                print("daemon log (tail):\n" + "".join(daemon.logs().splitlines(True)[-40:]))
                raise
            finally:
                daemon.kill()
                sub.close()
                broker.stop()


if __name__ == "__main__":
    unittest.main()
