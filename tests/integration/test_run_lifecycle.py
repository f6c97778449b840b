"""`estate-edge run`: readiness, SIGHUP with a bad then a good config, SIGTERM, exit code, logs."""

import http.client
import os
import signal
import sqlite3
import unittest

from harness import Daemon, free_port, minimal_config, run_cli, tempdir


def reload_done(m):
    status = m.get("STATUS", "")
    return status.startswith("reload failed") or status == "config reloaded"


class RunLifecycle(unittest.TestCase):
    def test_ready_reload_bad_then_good_then_term(self):
        with tempdir() as d:
            cfg = minimal_config(d, extra="logging:\n  level: info\n")
            daemon = Daemon(d, cfg).start()
            try:
                # A bad config: a misspelt key. The daemon keeps running on the old one.
                with open(cfg, "a") as f:
                    f.write("storage:\n  retention_dayz: 3\n")
                daemon.signal(signal.SIGHUP)
                msg = daemon.notify.wait_for(reload_done,
                                             what="reload status")
                self.assertIn("reload failed", msg["STATUS"])
                self.assertIn(f"{cfg}:8:3", msg["STATUS"])
                self.assertIn("storage.retention_dayz", msg["STATUS"])

                # Fixed: the reload succeeds.
                cfg_text = open(cfg).read().replace("retention_dayz: 3", "telemetry_retention_days: 3")
                with open(cfg, "w") as f:
                    f.write(cfg_text)
                daemon.signal(signal.SIGHUP)
                msg = daemon.notify.wait_for(reload_done,
                                             what="second reload status")
                self.assertEqual(msg["STATUS"], "config reloaded")
                self.assertIsNone(daemon.proc.poll(), "daemon must still run")
            finally:
                rc = daemon.stop()
            self.assertEqual(rc, 0)
            logs = daemon.logs()
            self.assertIn("reload failed: keeping the running configuration", logs)
            self.assertIn("retention_dayz: unknown key", logs)
            self.assertIn("configuration reloaded", logs)
            self.assertIn("SIGTERM received", logs)
            self.assertIn("stopped", logs)

            # The store is there, WAL, migrated, bound to this gateway.
            db = sqlite3.connect(os.path.join(d, "state", "estate-edge.db"))
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            self.assertEqual(db.execute("SELECT value FROM meta WHERE key='gateway_id'").fetchone()[0],
                             "test-gw")
            self.assertGreaterEqual(
                db.execute("SELECT version FROM schema_versions WHERE area='core'").fetchone()[0], 1)
            db.close()

    def test_http_flag_overrides_the_listener_and_survives_reload(self):
        with tempdir() as d:
            cfg = minimal_config(d)
            port = free_port()
            daemon = Daemon(d, cfg, extra_args=["--http", f"127.0.0.1:{port}"]).start()
            try:
                def healthz():
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    c.request("GET", "/healthz")
                    r = c.getresponse()
                    r.read()
                    c.close()
                    return r.status
                self.assertEqual(healthz(), 200)
                daemon.signal(signal.SIGHUP)
                daemon.notify.wait_for(lambda m: m.get("STATUS") == "config reloaded", 30,
                                       "reload")
                self.assertNotIn("http.listen changed", daemon.logs())
                self.assertEqual(healthz(), 200)
            finally:
                self.assertEqual(daemon.stop(), 0)
            p = run_cli("run", "--config", cfg, "--state-dir", os.path.join(d, "s2"),
                        "--http", "no-port-here")
            self.assertEqual(p.returncode, 2)
            self.assertIn("--http: expected HOST:PORT", p.stderr)

    def test_invalid_config_refuses_to_start_with_exit_2(self):
        with tempdir() as d:
            cfg = minimal_config(d, extra="mqtt:\n  keepalive_s: forty\n")
            p = run_cli("run", "--config", cfg, "--state-dir", os.path.join(d, "state"))
            self.assertEqual(p.returncode, 2)
            self.assertIn(f"{cfg}:6:16: mqtt.keepalive_s: expected an integer", p.stderr)

    def test_state_dir_of_another_gateway_is_refused(self):
        with tempdir() as d:
            cfg = minimal_config(d)
            Daemon(d, cfg).start().stop()
            other = os.path.join(d, "other.yaml")
            with open(other, "w") as f:
                f.write("site:\n  id: test-site\ngateway:\n  id: another-gw\n")
            p = run_cli("run", "--config", other, "--state-dir", os.path.join(d, "state"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("belongs to gateway 'test-gw'", p.stderr)

    def test_newer_schema_is_a_clear_error(self):
        with tempdir() as d:
            cfg = minimal_config(d)
            Daemon(d, cfg).start().stop()
            db = sqlite3.connect(os.path.join(d, "state", "estate-edge.db"))
            db.execute("UPDATE schema_versions SET version = version + 5 WHERE area = 'core'")
            db.commit()
            db.close()
            p = run_cli("run", "--config", cfg, "--state-dir", os.path.join(d, "state"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("written by a newer estate-edge", p.stderr)


if __name__ == "__main__":
    unittest.main()
