"""`estate-edge backup` beside the running daemon and `estate-edge restore`: refused while the
daemon runs, refused with the wrong key, a corrupted file or another gateway's backup (nothing
replaced), and after a restore the daemon starts on the restored store, the audit chain
verifies and the outbox seq resumes above everything the replaced store had issued. Under load:
backups taken while the daemon commits list after list from a real broker are consistent
snapshots (one list version whole, the chain verifying up to the backup's head) and restore.
The conf.d drop-ins travel with the store: a tariffs drop-in changed after the backup is reverted
by the restore and a deleted one comes back, so the daemon's list versions agree with its files.
A failed scheduled backup is counted in /metrics and raised as an alarm at the broker, cleared by
the next backup written."""

import http.client
import json
import os
import signal
import sqlite3
import threading
import time
import unittest

import harness
from harness import BUILD_DIR, Daemon, Mosquitto, free_port, minimal_config, run_cli, tempdir
from test_bridge import PREFIX, MqttClient, stamped
from test_bridge_downlink import keyed_hash


def write_key(path, raw):
    with open(path, "wb") as f:
        f.write(raw)
    os.chmod(path, 0o600)
    return path


def reloaded(m):
    s = m.get("STATUS", "")
    return s == "config reloaded" or s.startswith("reload failed")


def outbox_seq(state):
    db = sqlite3.connect(os.path.join(state, "estate-edge.db"))
    v = db.execute("SELECT value FROM counters WHERE name='outbox_seq'").fetchone()[0]
    db.close()
    return v


def store_bytes(state):
    with open(os.path.join(state, "estate-edge.db"), "rb") as f:
        return f.read()


# The daemon built with the test-only hooks (target estate-edge-test): with
# ESTATE_EDGE_TEST_BACKUP_EVERY_MS its scheduled backup runs that often instead of daily.
TEST_HOOKS_BINARY = os.environ.get("ESTATE_EDGE_WITH_TEST_HOOKS",
                                   os.path.join(BUILD_DIR, "daemon", "estate-edge-test"))


def metrics(port):
    """/metrics samples without labels: {name: value}."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    c.close()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def records(msg):
    """The records of one outbox message: an object is one, an array several."""
    body = json.loads(msg[1])
    return body if isinstance(body, list) else [body]


def tariffs_version(state):
    rows = harness.query(os.path.join(state, "estate-edge.db"),
                         "SELECT version FROM bridge_lists WHERE name = 'tariffs'")
    return rows[0][0] if rows else None


class BackupRestore(unittest.TestCase):
    def test_backup_while_running_then_restore(self):
        with tempdir() as d:
            key = write_key(os.path.join(d, "backup.key"), os.urandom(32))
            other_key = write_key(os.path.join(d, "other.key"), os.urandom(32).hex().encode())
            cfg = minimal_config(d, extra="security:\n  backup:\n    key_file: backup.key\n")
            daemon = Daemon(d, cfg).start()
            state = daemon.state_dir
            backup = os.path.join(d, "site.eebak")
            try:
                # Audited config changes while the daemon runs, then a backup beside it.
                for i in range(3):
                    with open(cfg, "a") as f:
                        f.write(f"# revision {i}\n")
                    daemon.signal(signal.SIGHUP)
                    self.assertEqual(daemon.notify.wait_for(reloaded)["STATUS"], "config reloaded")
                p = run_cli("backup", "--config", cfg, "--state-dir", state, "--to", backup,
                            "--json", check=0)
                made = json.loads(p.stdout)
                self.assertEqual(made["gateway"], "test-gw")
                self.assertEqual(made["audit"]["count"], 4)
                self.assertIn("audit", made["schema"])
                self.assertEqual(oct(os.stat(backup).st_mode & 0o777), "0o600")

                # Restore refuses while the daemon holds the state directory.
                before = store_bytes(state)
                p = run_cli("restore", "--from", backup, "--state-dir", state, "--key", key,
                            check=1)
                self.assertIn("in use by another process", p.stderr)

                # Changes after the backup: another audited reload.
                with open(cfg, "a") as f:
                    f.write("# after the backup\n")
                daemon.signal(signal.SIGHUP)
                self.assertEqual(daemon.notify.wait_for(reloaded)["STATUS"], "config reloaded")
            finally:
                self.assertEqual(daemon.stop(), 0)

            seq_before = outbox_seq(state)
            with open(os.path.join(state, "outbox-seq.highwater")) as f:
                highwater = int(f.read())
            self.assertGreater(highwater, seq_before)  # the daemon keeps a reservation ahead
            before = store_bytes(state)

            # Wrong key: refused, nothing touched.
            p = run_cli("restore", "--from", backup, "--state-dir", state, "--key", other_key,
                        check=1)
            self.assertIn("wrong key", p.stderr)
            self.assertEqual(store_bytes(state), before)

            # Corrupted file: refused, nothing touched.
            data = bytearray(open(backup, "rb").read())
            data[len(data) // 2] ^= 0x40
            bad = os.path.join(d, "bad.eebak")
            with open(bad, "wb") as f:
                f.write(data)
            p = run_cli("restore", "--from", bad, "--state-dir", state, "--key", key, check=1)
            self.assertIn("failed authentication", p.stderr)
            self.assertEqual(store_bytes(state), before)
            p = run_cli("restore", "--from", cfg, "--state-dir", state, "--key", key, check=1)
            self.assertIn("not an estate-edge backup", p.stderr)

            # Another gateway's state dir: refused unless forced.
            other_dir = os.path.join(d, "other")
            os.mkdir(other_dir)
            other_cfg = os.path.join(other_dir, "site.yaml")
            with open(other_cfg, "w") as f:
                f.write("site:\n  id: test-site\ngateway:\n  id: other-gw\n")
            other = Daemon(other_dir, other_cfg).start()
            self.assertEqual(other.stop(), 0)
            p = run_cli("restore", "--from", backup, "--state-dir", other.state_dir, "--key", key,
                        check=1)
            self.assertIn("belongs to gateway 'other-gw'", p.stderr)

            # The real restore.
            p = run_cli("restore", "--from", backup, "--config", cfg, "--state-dir", state,
                        "--json", check=0)
            r = json.loads(p.stdout)
            self.assertEqual(r["restored_seq"], made["outbox_seq"])
            self.assertEqual(r["replaced_seq"], seq_before)
            self.assertEqual(r["highwater"], highwater)
            self.assertEqual(r["resumed_seq"], max(highwater, seq_before))
            self.assertTrue(os.path.exists(os.path.join(state, "estate-edge.db.pre-restore")))
            self.assertGreater(outbox_seq(state), seq_before)

            # The restored chain verifies: the 4 backed-up entries plus the restore itself.
            p = run_cli("audit", "verify", "--state-dir", state, check=0)
            self.assertIn("OK: 5 entries", p.stdout)
            p = run_cli("audit", "show", "--state-dir", state, "--kind", "backup", "--json",
                        check=0)
            restore_entry = json.loads(p.stdout)[0]
            self.assertEqual(restore_entry["detail"]["resumed_outbox_seq"], r["resumed_seq"])
            self.assertTrue(restore_entry["actor"].startswith("cli:"))

            # The daemon runs on the restored store and numbers above everything seen.
            daemon = Daemon(d, cfg).start()
            try:
                status = json.loads(run_cli("status", "--state-dir", state, "--json",
                                            check=0).stdout)
                self.assertGreater(status["outbox"]["last_seq"], seq_before)
                self.assertGreaterEqual(status["outbox"]["last_seq"], highwater)
            finally:
                self.assertEqual(daemon.stop(), 0)
            p = run_cli("audit", "verify", "--state-dir", state, check=0)
            self.assertIn("OK:", p.stdout)

    def test_backups_under_load_are_consistent_and_restore(self):
        with tempdir() as d:
            write_key(os.path.join(d, "backup.key"), os.urandom(32))
            broker = Mosquitto(d).start()
            platform = MqttClient(broker.port, "platform-backup", clean=True).connect()
            platform.subscribe(PREFIX + "acks")
            platform.subscribe(PREFIX + "state")
            cfg = minimal_config(d, extra=f"mqtt:\n  url: {broker.url}\n"
                                 "security:\n  backup:\n    key_file: backup.key\n")
            daemon = Daemon(d, cfg).start()
            state = daemon.state_dir
            stop = threading.Event()
            applied = []
            errors = []

            def load():
                """Plate lists of 400 items, each version's keys its own, one after another."""
                version = 0
                try:
                    while not stop.is_set():
                        version += 1
                        items = [{"key": f"V{version}-{i:04d}", "unit": "1-101"} for i in range(400)]
                        platform.publish(PREFIX + "cmd/plates", json.dumps(stamped(
                            {"v": 1, "id": f"load-{version}", "version": version,
                             "items": items})))
                        while True:
                            msg = platform.recv(30)
                            if msg is None:
                                raise TimeoutError(f"no ack for list version {version}")
                            if msg[0] == PREFIX + "acks" and json.loads(msg[1])["id"] == f"load-{version}":
                                ack = json.loads(msg[1])
                                if not ack["ok"]:
                                    raise AssertionError(ack)
                                applied.append(version)
                                break
                except Exception as e:  # reported by the main thread
                    errors.append(e)

            backups = []
            try:
                while True:  # online first: the lists come through the broker
                    msg = platform.recv(30)
                    self.assertIsNotNone(msg, "no birth message")
                    if msg[0] == PREFIX + "state" and json.loads(msg[1])["state"] == "online":
                        break
                worker = threading.Thread(target=load)
                worker.start()
                try:
                    for n in range(5):
                        at_least = len(applied) + 2
                        while len(applied) < at_least and not errors:  # writes are flowing
                            threading.Event().wait(0.02)
                        path = os.path.join(d, f"load-{n}.eebak")
                        p = run_cli("backup", "--config", cfg, "--state-dir", state, "--to", path,
                                    "--json", check=0)
                        backups.append((path, json.loads(p.stdout), len(applied)))
                finally:
                    stop.set()
                    worker.join(60)
                self.assertEqual(errors, [])
            finally:
                self.assertEqual(daemon.stop(), 0)
                platform.close()
                broker.stop()
            self.assertGreater(len(applied), 6)
            seq_before = outbox_seq(state)

            for path, made, applied_when_done in backups:
                with self.subTest(backup=os.path.basename(path)):
                    target = os.path.join(d, "restore-" + os.path.basename(path))
                    os.mkdir(target)
                    p = run_cli("restore", "--from", path, "--config", cfg, "--state-dir", target,
                                "--min-seq", str(seq_before), "--json", check=0)
                    r = json.loads(p.stdout)
                    self.assertEqual(r["restored_seq"], made["outbox_seq"])
                    self.assertGreater(r["resumed_seq"], seq_before - 1)
                    db = sqlite3.connect(os.path.join(target, "estate-edge.db"))
                    self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
                    version, items = db.execute(
                        "SELECT version, items FROM bridge_lists WHERE name = 'plates'").fetchone()
                    keys = [k for (k,) in db.execute(
                        "SELECT key FROM bridge_list_items WHERE name = 'plates'")]
                    db.close()
                    # One version, whole: every item of the snapshot's version and no other.
                    self.assertLessEqual(version, applied_when_done + 1)
                    self.assertEqual(items, 400)
                    # Kept as keyed hashes of the normalised plates ("V7-0001" -> "V70001").
                    self.assertEqual(sorted(keys), sorted(
                        keyed_hash(state, "plate", f"V{version}{i:04d}") for i in range(400)))
                    # The chain up to the backup's head, plus the restore entry, verifies.
                    p = run_cli("audit", "verify", "--state-dir", target, "--json",
                                "--anchor", f"{made['audit']['count']}:{made['audit']['head']}",
                                check=0)
                    v = json.loads(p.stdout)
                    self.assertTrue(v["ok"], v)
                    self.assertEqual(v["entries"], made["audit"]["count"] + 1)
            print(f"\nbackup under load: {len(backups)} backups while {len(applied)} list "
                  f"versions ({len(applied) * 400} items) were committed", flush=True)

    def test_conf_d_dropins_are_restored_with_the_list_versions(self):
        with tempdir() as d:
            write_key(os.path.join(d, "backup.key"), os.urandom(32))
            broker = Mosquitto(d).start()
            platform = MqttClient(broker.port, "platform-confd", clean=True).connect()
            platform.subscribe(PREFIX + "acks")
            platform.subscribe(PREFIX + "state")
            cfg = minimal_config(d, extra=f"mqtt:\n  url: {broker.url}\n"
                                 "security:\n  backup:\n    key_file: backup.key\n")
            confd = os.path.join(d, "conf.d")
            tariffs_file = os.path.join(confd, "80-platform-tariffs.yaml")
            platform_file = os.path.join(confd, "90-platform.yaml")

            def tariffs(version, price):
                ack = platform.command(PREFIX, "tariffs", {
                    "v": 1, "id": f"tar-{version}-{price}", "version": version, "items": [
                        {"key": "water-2027", "quantity": "water", "unit": "m3",
                         "price": price}]})
                self.assertIsNotNone(ack, "no ack for cmd/tariffs")
                return ack

            def read(path):
                with open(path) as f:
                    return f.read()

            daemon = Daemon(d, cfg).start()
            state = daemon.state_dir
            backup = os.path.join(d, "site.eebak")
            try:
                platform.wait_online(PREFIX)
                self.assertTrue(tariffs(1, "5.00")["ok"])
                ack = platform.command(PREFIX, "config", {"v": 1, "id": "cfg-1",
                                                          "yaml": "logging:\n  level: debug\n"})
                self.assertTrue(ack["ok"], ack)
                v1_text, platform_text = read(tariffs_file), read(platform_file)
                self.assertIn('"5.00"', v1_text)
                p = run_cli("backup", "--config", cfg, "--state-dir", state, "--to", backup,
                            "--json", check=0)
                self.assertEqual(json.loads(p.stdout)["conf_d"],
                                 ["80-platform-tariffs.yaml", "90-platform.yaml"])

                # After the backup: the next tariffs version, and cmd/config's drop-in removed.
                self.assertTrue(tariffs(2, "6.00")["ok"])
                self.assertIn('"6.00"', read(tariffs_file))
                self.assertTrue(platform.command(PREFIX, "config",
                                                 {"v": 1, "id": "cfg-2", "yaml": ""})["ok"])
                self.assertFalse(os.path.exists(platform_file))
                self.assertEqual(tariffs_version(state), 2)
            finally:
                self.assertEqual(daemon.stop(), 0)

            # A backup holding drop-ins needs the config to restore them (or --store-only).
            p = run_cli("restore", "--from", backup, "--state-dir", state, "--key",
                        os.path.join(d, "backup.key"), check=2)
            self.assertIn("--store-only", p.stderr)
            self.assertEqual(tariffs_version(state), 2)

            # A drop-in broken since: the restore still runs (the site file alone names the
            # state dir and key) and removes it with the rest of what the backup did not have.
            with open(os.path.join(confd, "50-broken.yaml"), "w") as f:
                f.write("tariffs: [\n")
            run_cli("check-config", cfg, check=2)
            p = run_cli("restore", "--from", backup, "--config", cfg, "--state-dir", state,
                        "--json", check=0)
            self.assertIn("does not load with its conf.d", p.stderr)
            r = json.loads(p.stdout)
            self.assertEqual(r["conf_d"]["restored"],
                             ["80-platform-tariffs.yaml", "90-platform.yaml"])
            self.assertEqual(r["conf_d"]["removed"], ["50-broken.yaml"])
            # The changed drop-in is reverted, the deleted one is back, and the store's list
            # version is the one they were written for.
            self.assertEqual(read(tariffs_file), v1_text)
            self.assertEqual(read(platform_file), platform_text)
            self.assertEqual(tariffs_version(state), 1)
            kept = r["conf_d"]["previous_kept_in"]
            self.assertIn('"6.00"', read(os.path.join(kept, "80-platform-tariffs.yaml")))
            run_cli("check-config", cfg, check=0)

            # The daemon runs on them: it takes the platform's version 2 again (not "not newer"),
            # and its drop-in follows.
            daemon = Daemon(d, cfg).start()
            try:
                platform.wait_online(PREFIX)
                ack = tariffs(2, "6.50")
                self.assertTrue(ack["ok"], ack)
                self.assertIn('"6.50"', read(tariffs_file))
                self.assertEqual(tariffs_version(state), 2)
            finally:
                self.assertEqual(daemon.stop(), 0)
                platform.close()
                broker.stop()

    @unittest.skipUnless(os.path.exists(TEST_HOOKS_BINARY), "estate-edge-test not built")
    def test_failed_scheduled_backup_is_counted_and_alarmed_then_cleared(self):
        with tempdir() as d:
            write_key(os.path.join(d, "backup.key"), os.urandom(32))
            broker = Mosquitto(d).start()
            platform = MqttClient(broker.port, "platform-alarms", clean=True).connect()
            platform.subscribe(PREFIX + "alarms")
            backups = os.path.join(d, "backups")
            with open(backups, "w") as f:  # a file where the backup dir should be
                f.write("in the way\n")
            http_port = free_port()
            cfg = minimal_config(d, extra=f"mqtt:\n  url: {broker.url}\n"
                                 f"http:\n  listen: 127.0.0.1:{http_port}\n"
                                 "security:\n  backup:\n    key_file: backup.key\n"
                                 f"    dir: {backups}\n")

            def next_alarm():
                while True:
                    msg = platform.recv(30)
                    self.assertIsNotNone(msg, "no alarm at the broker")
                    for rec in records(msg):
                        if rec.get("alarm") == "backup_failed":
                            return rec

            saved = harness.BINARY
            harness.BINARY = TEST_HOOKS_BINARY
            os.environ["ESTATE_EDGE_TEST_BACKUP_EVERY_MS"] = "200"
            try:
                daemon = Daemon(d, cfg).start()
            finally:
                harness.BINARY = saved
                os.environ.pop("ESTATE_EDGE_TEST_BACKUP_EVERY_MS", None)
            try:
                raised = next_alarm()
                self.assertEqual({k: raised[k] for k in ("kind", "alarm", "state", "severity")},
                                 {"kind": "alarm", "alarm": "backup_failed", "state": "raised",
                                  "severity": "major"})
                self.assertIn(backups, raised["detail"])
                self.assertIn("Not a directory", raised["detail"])
                for k in ("v", "id", "seq", "ts"):
                    self.assertIn(k, raised)
                m = metrics(http_port)
                self.assertGreaterEqual(m["estate_backup_failures_total"], 1)
                self.assertEqual(m["estate_backup_last_success_timestamp_seconds"], 0)

                fixed_at = int(time.time())
                os.remove(backups)
                cleared = next_alarm()  # the next one: raised once, however often it failed
                self.assertEqual({k: cleared[k] for k in ("kind", "alarm", "state", "severity")},
                                 {"kind": "alarm", "alarm": "backup_failed", "state": "cleared",
                                  "severity": "info"})
                self.assertGreater(cleared["seq"], raised["seq"])
                self.assertTrue(any(f.endswith(".eebak") for f in os.listdir(backups)))
                m = metrics(http_port)
                self.assertGreaterEqual(m["estate_backup_last_success_timestamp_seconds"],
                                        fixed_at)
                failures = m["estate_backup_failures_total"]
                self.assertGreaterEqual(failures, 1)
            finally:
                self.assertEqual(daemon.stop(), 0)
                platform.close()
                broker.stop()

    def test_key_file_problems_are_usage_errors(self):
        with tempdir() as d:
            cfg = minimal_config(d)
            Daemon(d, cfg).start().stop()
            loose = os.path.join(d, "loose.key")
            with open(loose, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(loose, 0o644)
            p = run_cli("backup", "--state-dir", os.path.join(d, "state"), "--to",
                        os.path.join(d, "x.eebak"), "--key", loose, check=2)
            self.assertIn("chmod 600", p.stderr)
            p = run_cli("backup", "--state-dir", os.path.join(d, "state"), "--to",
                        os.path.join(d, "x.eebak"), check=2)
            self.assertIn("no key", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "x.eebak")))

    def test_daemon_refuses_unusable_backup_key(self):
        with tempdir() as d:
            cfg = minimal_config(d, extra="security:\n  backup:\n    key_file: missing.key\n")
            daemon = Daemon(d, cfg).start(wait_ready=False)
            rc = daemon.proc.wait(30)
            daemon.stop()
            self.assertEqual(rc, 1)
            self.assertIn("security.backup.key_file", daemon.logs())


if __name__ == "__main__":
    unittest.main()
