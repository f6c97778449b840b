"""`estate-edge audit verify` / `audit show` against a store written by the real daemon (config
load and reloads are audited), tampered with through the sqlite3 CLI: every edit, deletion,
reordering and insertion must be reported with exit code 1, and the chain format documented in
docs/security.md must reproduce the daemon's hashes."""

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import unittest
from datetime import datetime

from harness import Daemon, minimal_config, run_cli, tempdir

ZERO = "0" * 64


def netstring(value):
    b = str(value).encode()
    return str(len(b)).encode() + b":" + b + b","


def entry_hash(row):
    """docs/security.md: SHA-256(prev_hash raw || netstrings of the fields in order)."""
    canonical = b"".join(netstring(row[k]) for k in
                         ("seq", "ts", "unix_ms", "kind", "actor", "subject", "room", "detail"))
    return hashlib.sha256(bytes.fromhex(row["prev_hash"]) + canonical).hexdigest()


def rows(db_path):
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    out = [dict(r) for r in db.execute("SELECT * FROM audit_log ORDER BY seq")]
    db.close()
    return out


def sqlite_cli(db_path, sql, check=True):
    p = subprocess.run(["sqlite3", db_path], input=sql, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"sqlite3 failed: {p.stderr}")
    return p


DROP_TRIGGERS = """
DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_head_forward; DROP TRIGGER audit_anchors_no_update;
DROP TRIGGER audit_anchors_no_delete;
"""


def reloaded(m):
    s = m.get("STATUS", "")
    return s == "config reloaded" or s.startswith("reload failed")


class AuditTamper(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.dir = d
        cfg = minimal_config(d, extra="security:\n  audit:\n    anchor_interval_s: 3600\n")
        daemon = Daemon(d, cfg).start()
        try:
            for i in range(4):
                with open(cfg, "a") as f:
                    f.write(f"# revision {i}\n")
                daemon.signal(signal.SIGHUP)
                msg = daemon.notify.wait_for(reloaded, what="reload")
                assert msg["STATUS"] == "config reloaded", msg
            # verify works beside the running daemon
            cls.live_verify = run_cli("audit", "verify", "--state-dir", daemon.state_dir)
        finally:
            assert daemon.stop() == 0
        cls.state = daemon.state_dir
        cls.db = os.path.join(cls.state, "estate-edge.db")
        # One money entry with a room, appended the way docs/security.md describes, so the
        # documented format is what verify checks.
        r = rows(cls.db)
        last = r[-1]
        ts = "2026-11-23T18:16:01.123+08:00"
        entry = {"seq": last["seq"] + 1, "ts": ts,
                 "unix_ms": int(datetime.fromisoformat(ts).timestamp() * 1000),
                 "kind": "money.topup", "actor": "platform:cmd-7", "subject": "room:1-101",
                 "room": "1-101", "detail": '{"amount_fen":5000,"ref":"T1"}',
                 "prev_hash": last["hash"]}
        entry["hash"] = entry_hash(entry)
        db = sqlite3.connect(cls.db)
        db.execute("INSERT INTO audit_log(seq, ts, unix_ms, kind, actor, subject, room, detail, "
                   "prev_hash, hash) VALUES(:seq, :ts, :unix_ms, :kind, :actor, :subject, :room, "
                   ":detail, :prev_hash, :hash)", entry)
        db.execute("UPDATE audit_head SET seq = ?, hash = ?", (entry["seq"], entry["hash"]))
        db.commit()
        db.close()
        cls.count = entry["seq"]
        cls.head = entry["hash"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def tampered(self, name, sql):
        """A copy of the state dir with `sql` applied through the sqlite3 CLI."""
        copy = os.path.join(self.dir, "copy-" + name)
        shutil.copytree(self.state, copy, ignore=shutil.ignore_patterns("*.lock"))
        sqlite_cli(os.path.join(copy, "estate-edge.db"), DROP_TRIGGERS + sql)
        return copy

    def verify(self, state, *extra):
        p = run_cli("audit", "verify", "--state-dir", state, "--json", *extra)
        return p.returncode, json.loads(p.stdout)

    def expect_broken(self, state, seq, problem, *extra):
        rc, j = self.verify(state, *extra)
        self.assertEqual(rc, 1, j)
        self.assertFalse(j["ok"])
        self.assertEqual(j["broken"]["problem"], problem, j)
        self.assertEqual(j["broken"]["seq"], seq, j)
        return j

    def test_daemon_audits_config_load_and_reloads(self):
        self.assertEqual(self.live_verify.returncode, 0, self.live_verify.stdout)
        self.assertIn("OK: 5 entries", self.live_verify.stdout)
        kinds = [r["kind"] for r in rows(self.db)]
        self.assertEqual(kinds, ["config.load"] + ["config.reload"] * 4 + ["money.topup"])
        first = rows(self.db)[0]
        self.assertTrue(first["actor"].startswith("file:"))
        self.assertEqual(first["prev_hash"], ZERO)

    def test_documented_hash_matches_every_entry(self):
        for r in rows(self.db):
            self.assertEqual(entry_hash(r), r["hash"], r["seq"])

    def test_untouched_chain_verifies(self):
        p = run_cli("audit", "verify", "--state-dir", self.state, check=0)
        self.assertIn(f"OK: {self.count} entries, head {self.count}:{self.head}", p.stdout)
        rc, j = self.verify(self.state, "--anchor", f"{self.count}:{self.head}")
        self.assertEqual(rc, 0)
        self.assertEqual(j["head"], {"count": self.count, "hash": self.head})
        self.assertEqual(j["anchors_checked"], 1)

    def test_triggers_refuse_update_and_delete(self):
        copy = os.path.join(self.dir, "copy-triggers")
        shutil.copytree(self.state, copy, ignore=shutil.ignore_patterns("*.lock"))
        db = os.path.join(copy, "estate-edge.db")
        p = sqlite_cli(db, "UPDATE audit_log SET detail='{}' WHERE seq=2;", check=False)
        self.assertIn("append-only", p.stderr)
        p = sqlite_cli(db, "DELETE FROM audit_log WHERE seq=2;", check=False)
        self.assertIn("append-only", p.stderr)
        self.assertEqual(self.verify(copy)[0], 0)

    def test_edited_detail(self):
        s = self.tampered("detail", f"UPDATE audit_log SET detail='{{\"amount_fen\":1}}' "
                                    f"WHERE seq={self.count};")
        j = self.expect_broken(s, self.count, "modified")
        self.assertIn(f"entry {self.count} (money.topup", j["broken"]["message"])

    def test_edited_actor(self):
        s = self.tampered("actor", "UPDATE audit_log SET actor='token:nobody' WHERE seq=2;")
        self.expect_broken(s, 2, "modified")

    def test_edited_hash(self):
        s = self.tampered("hash", f"UPDATE audit_log SET hash='{'a' * 64}' WHERE seq=3;")
        self.expect_broken(s, 3, "modified")

    def test_deleted_middle(self):
        s = self.tampered("middle", "DELETE FROM audit_log WHERE seq=3;")
        j = self.expect_broken(s, 3, "missing")
        self.assertIn("entry 3 is missing", j["broken"]["message"])

    def test_deleted_last_caught_by_head(self):
        s = self.tampered("last", f"DELETE FROM audit_log WHERE seq={self.count};")
        self.expect_broken(s, self.count, "tail_missing")

    def test_deleted_last_with_forged_head_caught_by_anchor(self):
        prev = rows(self.db)[-2]["hash"]
        s = self.tampered("last-head", f"DELETE FROM audit_log WHERE seq={self.count};"
                                       f"UPDATE audit_head SET seq={self.count - 1}, "
                                       f"hash='{prev}';")
        # Locally consistent: only the head the platform was sent tells.
        self.assertEqual(self.verify(s)[0], 0)
        j = self.expect_broken(s, self.count, "tail_missing", "--anchor",
                               f"{self.count}:{self.head}")
        self.assertIn(f"{self.count} entries were anchored", j["broken"]["message"])

    def recomputed_sql(self, edits, from_seq):
        """SQL that applies `edits` {column: value} to entry `from_seq` and recomputes the hashes
        of it and of every later entry (a forger with the documented format), and the head."""
        chain = rows(self.db)
        sql = []
        prev = None
        for r in chain:
            if r["seq"] < from_seq:
                prev = r["hash"]
                continue
            r = dict(r)
            if r["seq"] == from_seq:
                r.update(edits)
            r["prev_hash"] = prev if prev is not None else ZERO
            r["hash"] = entry_hash(r)
            prev = r["hash"]
            sets = ", ".join(f"{k} = '{r[k]}'" for k in ("detail", "prev_hash", "hash"))
            sql.append(f"UPDATE audit_log SET {sets} WHERE seq = {r['seq']};")
        sql.append(f"UPDATE audit_head SET seq = {chain[-1]['seq']}, hash = '{prev}';")
        return "\n".join(sql), prev

    def test_edited_with_its_hash_recomputed(self):
        sql, _ = self.recomputed_sql({"detail": '{"amount_fen":1}'}, self.count)
        # Only the last entry's own hash (and the head) recomputed: caught as a rewrite of it.
        one = sql.split("\n")
        s = self.tampered("rewritten", one[0] + "\n")
        j = self.expect_broken(s, self.count, "rewritten")
        self.assertIn("recorded head", j["broken"]["message"])
        # An edit in the middle with only its own hash recomputed: the next link breaks.
        sql, _ = self.recomputed_sql({"detail": '{"files":[]}'}, 2)
        s = self.tampered("rewritten-mid", sql.split("\n")[0] + "\n")
        self.expect_broken(s, 2, "rewritten")

    def test_whole_chain_recomputed_caught_by_platform_anchor(self):
        sql, forged_head = self.recomputed_sql({"detail": '{"amount_fen":1}'}, 2)
        s = self.tampered("recomputed", sql)
        self.assertNotEqual(forged_head, self.head)
        # Consistent in itself and with its (forged) head: only the platform's anchor tells.
        self.assertEqual(self.verify(s)[0], 0)
        j = self.expect_broken(s, self.count, "anchor_mismatch", "--anchor",
                               f"{self.count}:{self.head}")
        self.assertIn("rewritten", j["broken"]["message"])

    def test_reordered(self):
        s = self.tampered("reorder", "UPDATE audit_log SET seq=-1 WHERE seq=2;"
                                     "UPDATE audit_log SET seq=2 WHERE seq=4;"
                                     "UPDATE audit_log SET seq=4 WHERE seq=-1;")
        self.expect_broken(s, 2, "reordered")

    def test_inserted_after_last(self):
        s = self.tampered("insert", f"INSERT INTO audit_log VALUES({self.count + 1}, "
                                    f"'2026-11-24T00:00:00+08:00', 0, 'money.refund', 'x', "
                                    f"'room:1-101', '1-101', '{{}}', '{self.head}', "
                                    f"'{'b' * 64}');")
        self.expect_broken(s, self.count + 1, "modified")

    def test_inserted_before_first(self):
        s = self.tampered("insert0", f"INSERT INTO audit_log VALUES(0, '2026-11-24T00:00:00Z', "
                                     f"0, 'money.refund', 'x', '', '', '{{}}', '{ZERO}', "
                                     f"'{ZERO}');")
        self.expect_broken(s, 0, "inserted")

    def test_human_output_names_the_entry(self):
        s = self.tampered("human", "DELETE FROM audit_log WHERE seq=2;")
        p = run_cli("audit", "verify", "--state-dir", s, check=1)
        self.assertIn("BROKEN at entry 2 (missing): entry 2 is missing", p.stdout)

    def test_show_filters(self):
        def show(*args):
            p = run_cli("audit", "show", "--state-dir", self.state, "--json", *args, check=0)
            return json.loads(p.stdout)
        self.assertEqual(len(show()), self.count)
        self.assertEqual(len(show("--kind", "config")), 5)
        self.assertEqual(len(show("--kind", "config.reload")), 4)
        money = show("--room", "1-101")
        self.assertEqual(len(money), 1)
        self.assertEqual(money[0]["detail"], {"amount_fen": 5000, "ref": "T1"})
        self.assertEqual(money[0]["kind"], "money.topup")
        # Times without an offset are read in the site's offset (+08:00 here, from the entries).
        self.assertEqual(len(show("--since", "2026-11-23T18:16", "--until", "2026-11-23T18:17")), 1)
        self.assertEqual(len(show("--since", "2026-11-23T10:16:01.123Z", "--kind", "money")), 1)
        self.assertEqual(len(show("--until", "2000-01-01")), 0)
        newest = show("--limit", "2")
        self.assertEqual([e["seq"] for e in newest], [self.count - 1, self.count])
        p = run_cli("audit", "show", "--state-dir", self.state, "--room", "9-999", check=0)
        self.assertIn("(no entries match)", p.stdout)
        p = run_cli("audit", "show", "--state-dir", self.state, "--since", "yesterday", check=2)
        self.assertIn("--since", p.stderr)

    def test_no_store(self):
        p = run_cli("audit", "verify", "--state-dir", os.path.join(self.dir, "nothing"), check=1)
        self.assertIn("no store", p.stderr)


if __name__ == "__main__":
    unittest.main()
