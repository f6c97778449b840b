"""The published contract (docs/schemas) and the check every integration test runs on what its
broker carries (harness.Capture / harness.check_contract): proves the check can fail. A record
missing a required field, a field of the wrong type, a batch with one bad record, a command with
an unknown field, and a command without a schema are each caught and named (topic, message, schema
error); a deliberately invalid command is skipped; a real broker's capture raises at stop()."""

import json
import os
import shutil
import subprocess
import unittest

import harness
from harness import Contract, ContractViolation, Mosquitto, SCHEMA_DIR, tempdir

TOPIC = "estate/test-site/test-gw/"
TIMES = {"issued_at": "2026-12-04T08:00:00+08:00", "expires": "2026-12-04T08:01:00+08:00"}


def cmd(**fields):
    return dict({"v": 1, "id": "c-1"}, **TIMES, **fields)


def raw(doc):
    return json.dumps(doc, ensure_ascii=False).encode()


class Schemas(unittest.TestCase):
    def setUp(self):
        self.contract = Contract()

    def problems(self, topic, doc):
        return self.contract.check(TOPIC + topic, raw(doc) if not isinstance(doc, bytes) else doc)[0]

    def test_every_schema_is_draft_2020_12_and_loads(self):
        self.assertIn("command-common.schema.json", self.contract.schemas)
        for name, (_, doc) in self.contract.schemas.items():
            self.assertEqual(doc["$schema"], "https://json-schema.org/draft/2020-12/schema", name)

    def test_valid_messages_pass(self):
        ok = {
            "state": {"v": 1, "gateway": "test-gw", "state": "online",
                      "ts": "2026-11-23T18:16:01.123+08:00", "version": "0.1.0", "uptime_s": 3,
                      "backlog": 0},
            "acks": {"v": 1, "id": "cards-7", "command": "cards", "ok": True,
                     "ts": "2026-11-23T18:16:01.456+08:00",
                     "result": {"list": "cards", "version": 7, "applied": True}},
            "cmd/ping": cmd(),
            "cmd/gate-open": cmd(gate="gate-in", reason="guard"),
            "cmd/cards": cmd(version=7, chunk=0, chunks=2,
                             items=[{"key": "04A1B2C3", "unit": "3-201"}]),
            "cmd/blocklist": cmd(version=3, entries=[{"kind": "plate", "value": "粤B00001",
                                                      "reason": "stolen"}]),
            "cmd/monthly-passes": cmd(version=2, entries=[
                {"kind": "plate", "value": "粤B00002", "room": "3-1-402",
                 "valid_from": "2020-01-01T00:00:00+08:00",
                 "valid_to": "2099-01-01T00:00:00+08:00"}]),
            "cmd/topup": cmd(room="1-1-101", amount_fen=5000, ref="app-1"),
            "cmd/tariffs": cmd(version=1, items=[{"key": "water-2027", "unit": "m3"}]),
        }
        for topic, doc in ok.items():
            self.assertEqual(self.problems(topic, doc), [], topic)

    def test_a_state_missing_a_required_field_is_caught(self):
        doc = {"v": 1, "state": "online", "ts": "2026-11-23T18:16:01.123+08:00",
               "version": "0.1.0", "uptime_s": 3, "backlog": 0}
        p = self.problems("state", doc)
        self.assertEqual(len(p), 1, p)
        self.assertIn(TOPIC + "state", p[0])
        self.assertIn('"uptime_s": 3', p[0])  # the message
        self.assertIn("state.schema.json", p[0])

    def test_a_wrong_type_is_caught(self):
        p = self.problems("acks", {"v": 1, "id": "x", "command": "ping", "ok": "yes",
                                   "ts": "2026-11-23T18:16:01.456+08:00"})
        self.assertTrue(p, "an ack with ok as a string must not validate")
        self.assertIn("$.ok: 'yes' is not of type 'boolean'", "\n".join(p))
        p = self.problems("cmd/topup", cmd(room="1-1-101", amount_fen="50.00", ref="r"))
        self.assertIn("$.amount_fen: '50.00' is not of type 'integer'", "\n".join(p))

    def test_an_unknown_command_field_is_caught(self):
        p = self.problems("cmd/gate-open", cmd(gate="gate-in", colour="red"))
        self.assertEqual(len(p), 1, p)
        self.assertIn("cmd-gate-open.schema.json", p[0])
        self.assertIn("'colour' was unexpected", p[0])
        p = self.problems("cmd/cards", cmd(version=1, items=[{"key": "04A1", "unit": "1",
                                                              "pin": "1234"}]))
        self.assertIn("$.items[0]", "\n".join(p))
        # chunk without chunks; a common field of the wrong form.
        self.assertTrue(self.problems("cmd/cards", cmd(version=1, chunk=0, items=[])))
        self.assertTrue(self.problems("cmd/ping", dict(cmd(), expires="tomorrow")))

    def test_a_command_without_schema_or_json_is_caught_unless_marked(self):
        p = self.problems("cmd/launch", cmd())
        self.assertIn("no schema docs/schemas/cmd-launch.schema.json", "\n".join(p))
        self.assertTrue(self.problems("cmd/ping", b"{not json"))
        harness.deliberately_invalid(b"{not json either")
        self.assertEqual(self.problems("cmd/ping", b"{not json either"), [])
        harness.deliberately_invalid({"id": "hostile-1"})
        self.assertEqual(self.problems("cmd/gate-open", cmd(id="hostile-1", boat=1)), [])

    def test_a_batch_is_checked_record_by_record(self):
        # A stream schema of its own (the streams' schemas are the record module's): the
        # second record of the batch lacks `seq`.
        with tempdir() as d:
            for name in os.listdir(SCHEMA_DIR):
                shutil.copy(os.path.join(SCHEMA_DIR, name), d)
            with open(os.path.join(d, "probe.schema.json"), "w") as f:
                json.dump({"$schema": "https://json-schema.org/draft/2020-12/schema",
                           "type": "object", "required": ["v", "id", "seq"],
                           "properties": {"seq": {"type": "integer"}}}, f)
            c = Contract(d)
            good = {"v": 1, "id": "gw-1", "seq": 1}
            self.assertEqual(c.check(TOPIC + "probe", raw([good, good])), ([], []))
            problems, _ = c.check(TOPIC + "probe", raw([good, {"v": 1, "id": "gw-2"}]))
            self.assertEqual(len(problems), 1, problems)
            self.assertIn("record 1", problems[0])
            self.assertIn("'seq' is a required property", problems[0])
            # A stream without a schema: a note, or a failure with STRICT_STREAMS.
            self.assertEqual(c.check(TOPIC + "nowhere", raw(good))[0], [] if not
                             harness.STRICT_STREAMS else c.check(TOPIC + "nowhere", raw(good))[0])
            saved = harness.STRICT_STREAMS
            try:
                harness.STRICT_STREAMS = True
                self.assertTrue(c.check(TOPIC + "nowhere", raw(good))[0])
                harness.STRICT_STREAMS = False
                self.assertEqual(c.check(TOPIC + "nowhere", raw(good)),
                                 ([], [TOPIC + "nowhere: no docs/schemas/nowhere.schema.json"]))
            finally:
                harness.STRICT_STREAMS = saved


class BrokerCapture(unittest.TestCase):
    def test_a_broker_carrying_a_bad_message_fails_at_stop(self):
        with tempdir() as d:
            broker = Mosquitto(d).start()
            bad = cmd(id="capture-1", gate="gate-in", colour="red")
            for topic, doc in ((TOPIC + "cmd/gate-open", bad), (TOPIC + "cmd/ping", cmd())):
                subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", topic,
                                "-m", json.dumps(doc)], check=True, timeout=10)
            with self.assertRaises(ContractViolation) as caught:
                broker.stop(raise_violation=True)
            text = str(caught.exception)
            self.assertIn("1 problem(s) in messages on the broker", text)
            self.assertIn(TOPIC + "cmd/gate-open", text)
            self.assertIn('"colour": "red"', text)
            self.assertIn("'colour' was unexpected", text)
            self.assertIsNone(broker.proc, "the broker is stopped before the failure is raised")

    def test_a_violation_in_a_test_process_fails_it_at_exit(self):
        # As a test's tearDownClass meets it: reported at once, the cleanup goes on, and the
        # process exits 1 even though unittest itself saw nothing wrong.
        script = (
            "import json, subprocess, sys\n"
            "import harness\n"
            "with harness.tempdir() as d:\n"
            "    b = harness.Mosquitto(d).start()\n"
            f"    subprocess.run(['mosquitto_pub', '-p', str(b.port), '-q', '1', '-t', "
            f"'{TOPIC}state', '-m', json.dumps({{'v': 1, 'state': 'online'}})], check=True)\n"
            "    b.stop()\n"
            "    print('cleanup ran', flush=True)\n"
            "sys.exit(0)\n")
        p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True,
                           cwd=os.path.dirname(os.path.abspath(__file__)), timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cleanup ran", p.stdout)
        self.assertIn("contract violation: 3 problem(s)", p.stderr)
        self.assertIn(TOPIC + "state", p.stderr)
        self.assertIn("'gateway' is a required property", p.stderr)

    def test_a_clean_broker_stops_quietly(self):
        with tempdir() as d:
            broker = Mosquitto(d).start()
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t",
                            TOPIC + "cmd/ping", "-m", json.dumps(cmd())], check=True, timeout=10)
            broker.stop(raise_violation=True)


if __name__ == "__main__":
    unittest.main()
