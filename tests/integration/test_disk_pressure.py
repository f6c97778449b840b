"""Disk pressure: the state dir on a small size-limited tmpfs, filled up while the daemon runs.
The real daemon with CJ/T 188 water meters on a pty (tests/sim/meter_sim.py), a barrier's I/O
module and a plate camera (tests/sim/gate_io_sim.py, pymodbus), the gateway heartbeat as a fast
telemetry stream, and no reachable broker, so everything piles up in the outbox.

Checks: once the file system is nearly full the daemon says so in its log, drops the oldest
droppable telemetry first (the records it keeps are the newest; counted in /metrics and as a
`storage.pressure` event, also queued for the platform; the alarm `disk_pressure` raised once and
cleared once the disk has room again) and keeps doing so round after round while the disk stays full (with the write-ahead log emptied just before the disk fills, so it
has to grow again on a full disk), keeps every access event and every
other non-droppable record, keeps opening the barrier for vehicles and answering /healthz, and
the store passes PRAGMA integrity_check after a clean stop.

Needs root to mount the tmpfs (CI runs as root); skipped otherwise."""

import errno
import http.client
import json
import os
import sqlite3
import subprocess
import time
import unittest

from harness import camera_push, Daemon, free_port, tempdir
from harness import MeterSim
from test_gate import IoModule, wait_in_log

SECRET = "b3a178b51e86fd1e33aa57e98f03ffce"  # 128 bits: check-config refuses less
FS_MIB = 24


def can_mount():
    return os.geteuid() == 0 and os.path.exists("/bin/mount")


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling a condition with a deadline
    raise TimeoutError(f"{what} not reached in {timeout}s")


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(filler, mount, leave):
    """Writes `filler` until at most `leave` bytes are free on `mount`. The daemon writes to the
    same file system meanwhile, so the space it takes may end the fill early with ENOSPC: then
    the disk is full, which is what the fill is for."""
    chunk = b"\0" * (256 * 1024)
    with open(filler, "wb", buffering=0) as f:
        try:
            while free_bytes(mount) > leave:
                f.write(chunk[:max(4096, min(len(chunk), free_bytes(mount) - leave))])
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise


@unittest.skipUnless(can_mount(), "needs root to mount a size-limited tmpfs")
class DiskPressure(unittest.TestCase):
    def setUp(self):
        self.tmp = tempdir()
        self.mnt = os.path.join(self.tmp.name, "mnt")
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_MIB}m,mode=0755", "tmpfs",
                            self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            self.tmp.cleanup()
            self.skipTest(f"cannot mount a tmpfs here: {r.stderr.strip()}")

    def tearDown(self):
        subprocess.run(["umount", self.mnt])
        self.tmp.cleanup()

    def query(self, sql, *args):
        db = sqlite3.connect(os.path.join(self.state, "estate-edge.db"))
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def snapshot(self, *sqls):
        """Several queries read in one transaction: one state of the store, while it is written."""
        db = sqlite3.connect(os.path.join(self.state, "estate-edge.db"), isolation_level=None)
        try:
            db.execute("BEGIN")
            out = [db.execute(sql).fetchall() for sql in sqls]
            db.execute("COMMIT")
            return out
        finally:
            db.close()

    def outbox_seqs(self, droppable):
        return {s for (s,) in self.query("SELECT seq FROM outbox WHERE droppable = ?", droppable)}

    def push(self, plate):
        self.assertEqual(camera_push(self.http_port, plate, SECRET)[0], 200)

    def vehicle_enters(self, plate):
        """The camera reads `plate`: the barrier opens, the car drives through, it closes."""
        self.push(plate)
        self.io.wait_for("COIL 0 1")
        mark = len(self.daemon.logs())
        self.io.set_loop(1)
        wait_in_log(self.daemon, "gate gate-in: barrier vehicle_arrived", mark)
        self.io.set_loop(0)
        self.io.wait_for("COIL 0 0")

    def healthz(self):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
        return status

    def test_full_disk_drops_oldest_telemetry_keeps_access_and_the_gate(self):
        d = self.tmp.name
        self.state = os.path.join(self.mnt, "state")
        self.io = IoModule()
        meters = MeterSim("cjt188", [f"000000000051{n:02d}:{10 + n}.00" for n in range(4)])
        self.http_port = free_port()
        config = os.path.join(d, "site.yaml")
        devices = "".join(
            f"  - {{ id: w{n}, kind: meter, bus: water, address: \"000000000051{n:02d}\","
            f" medium: water, poll_interval_s: 1 }}\n" for n in range(4))
        with open(config, "w") as f:
            f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
mqtt:
  url: mqtt://127.0.0.1:{free_port()}
http:
  listen: 127.0.0.1:{self.http_port}
buses:
  - {{ id: io-bus, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {self.io.port} }}
  - {{ id: water, kind: serial, protocol: cjt188, device: {meters.path}, baud: 9600 }}
devices:
  - {{ id: io-1, kind: io_module, bus: io-bus, address: "1" }}
  - id: gate-in
    kind: gate
    lane: entry
    relay: io-1:0
    loop_input: io-1:0
    options: {{ loop_poll_ms: 50, open_timeout_s: 600 }}
  - {{ id: cam-in, kind: camera, model: generic-json, gate: gate-in, lane: entry, secret: {SECRET} }}
{devices}parking_rules:
  - {{ id: visitor, free_minutes: 30, unit_minutes: 60, unit_price_fen: 500, daily_cap_fen: 2000 }}
demo:
  heartbeat_interval_ms: 2
""")
        self.daemon = Daemon(d, config, state_dir=self.state)
        try:
            self.daemon.start()
            self.vehicle_enters("粤B10001")
            wait_until(lambda: self.query("SELECT count(*) FROM readings")[0][0] >= 4, 30,
                       "first readings")
            non_droppable = self.outbox_seqs(0)
            droppable_before = self.outbox_seqs(1)
            # The write-ahead log emptied, as after a restart or a quiet spell (how big it is
            # when the disk fills depends on the machine's load otherwise): the writes that
            # follow need it to grow again, on a full disk.
            self.assertEqual(self.query("PRAGMA wal_checkpoint(TRUNCATE)")[0][0], 0)
            # Fill the file system, leaving less than the guard's floor (10% of it).
            filler = os.path.join(self.mnt, "filler")
            fill(filler, self.mnt, 1024 * 1024)
            wait_in_log(self.daemon, "disk: file system almost full", 0, 30)
            wait_in_log(self.daemon, "undelivered telemetry record(s)", 0, 30)

            # Still serving: health, and the barrier opens for the next vehicles.
            self.assertEqual(self.healthz(), 200)
            self.vehicle_enters("粤B10002")
            # The disk stays full while telemetry keeps coming: the guard keeps dropping, round
            # after round (each round is one storage.pressure event).
            first = self.query("SELECT count(*) FROM events WHERE kind = 'storage.pressure'")[0][0]
            wait_until(lambda: self.query("SELECT count(*) FROM events WHERE kind = "
                                          "'storage.pressure'")[0][0] >= first + 2, 60,
                       "two more rounds of drops")
            # Writes that came before the guard's first look may have failed; once it has
            # dropped, every write succeeds although the disk is still full.
            logs = self.daemon.logs()
            after = logs[logs.find("undelivered telemetry record(s)"):]
            self.assertNotIn("database or disk is full", after)
            self.vehicle_enters("粤B10003")
            self.assertEqual(self.healthz(), 200)

            # Nothing non-droppable is missing: appended = pending + acknowledged + dropped,
            # and only droppable records were dropped.
            counted, queued = self.snapshot(
                "SELECT stream, appended, acknowledged, dropped FROM stream_counts",
                "SELECT stream, count(*) FROM outbox GROUP BY stream")
            counts = {s: (a, k, dr) for s, a, k, dr in counted}
            pending = dict(queued)
            self.assertGreater(sum(dr for (_, _, dr) in counts.values()), 0, counts)
            for stream, (appended, acked, dr) in counts.items():
                self.assertEqual(appended, pending.get(stream, 0) + acked + dr, stream)
            self.assertEqual(non_droppable - self.outbox_seqs(0), set(), "non-droppable dropped")
            # Oldest first: of the droppable records there before the disk filled, those
            # dropped are all older than those kept.
            kept = droppable_before & self.outbox_seqs(1)
            gone = droppable_before - kept
            self.assertTrue(gone, "nothing of the old telemetry was dropped")
            if kept:
                self.assertLess(max(gone), min(kept))
            # Access events (the three entries) and the pressure reports are all there.
            entries = self.query("SELECT count(*) FROM outbox WHERE stream = 'events' AND "
                                 "droppable = 0 AND payload LIKE '%gate-in%'")[0][0]
            self.assertGreaterEqual(entries, 3)
            reports = self.query("SELECT payload FROM outbox WHERE payload LIKE "
                                 "'%storage.pressure%'")
            self.assertTrue(reports)
            body = json.loads(reports[0][0])
            self.assertGreater(body["dropped_records"] + body["dropped_readings"], 0)

            c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
            c.request("GET", "/metrics")
            metrics = c.getresponse().read().decode()
            c.close()
            self.assertRegex(metrics, r'estate_outbox_dropped_total\{stream="[a-z]+"\} [1-9]')

            # The alarm disk_pressure: raised once for the whole pressure (not per round), and
            # cleared once there is room again.
            def alarms(state):
                return [json.loads(p)["detail"] for (p,) in self.query(
                    "SELECT payload FROM outbox WHERE stream = 'alarms' AND payload LIKE "
                    f"'%\"disk_pressure\"%' AND payload LIKE '%\"{state}\"%' ORDER BY seq")]
            raised = alarms("raised")
            self.assertEqual(len(raised), 1, raised)
            self.assertIn("file system almost full", raised[0])
            self.assertEqual(alarms("cleared"), [])

            os.unlink(filler)
            wait_until(lambda: alarms("cleared"), 60, "the disk_pressure alarm cleared")
            self.assertEqual(len(alarms("cleared")), 1)
            self.assertEqual(len(alarms("raised")), 1)
            self.assertEqual(self.daemon.stop(), 0)
            self.assertEqual(self.query("PRAGMA integrity_check"), [("ok",)])
        except BaseException:
            print("daemon log (tail):\n" + "".join(self.daemon.logs().splitlines(True)[-40:]))
            raise
        finally:
            self.daemon.kill()
            meters.stop()
            self.io.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
