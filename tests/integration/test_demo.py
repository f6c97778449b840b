"""`estate-edge demo`, as scripts/demo runs it: the embedded site with its simulators (meters on
ptys, an SDM630 on Modbus TCP, the car park, POS and printer) and a broker it starts itself.

Checks what a new user would look at: readings of every meter family reach the store, the
prepaid room's water valve is closed by billing on the simulated CJ/T 188 meter, a kiosk top-up
with the printed token opens it again, the records reach the demo's own broker, and Ctrl-C
(SIGINT) stops the gateway, the broker and every simulator, exit status 0.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest
import urllib.request

from harness import (BINARY, SOURCE_DIR, Capture, NotifySocket, _pending, check_contract, query,
                     tempdir, wait_for_line)


class Demo(unittest.TestCase):
    def test_demo_site_end_to_end(self):
        with tempdir() as d:
            state = os.path.join(d, "state")
            notify = NotifySocket(d)
            env = dict(os.environ, NOTIFY_SOCKET=notify.path,
                       ESTATE_EDGE_SIM_DIR=os.path.join(SOURCE_DIR, "tests", "sim"))
            env.pop("JOURNAL_STREAM", None)
            proc = subprocess.Popen([BINARY, "demo", "--state-dir", state],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            lines = []
            capture = None
            try:
                # Everything the demo publishes is checked against docs/schemas (harness.Capture).
                started = wait_for_line(proc.stderr, "demo: started mosquitto on", 60,
                                        "the demo's broker")
                lines.append(started)
                capture = Capture(int(re.search(r"mqtt://127\.0\.0\.1:(\d+)", started).group(1)))
                kiosk = wait_for_line(proc.stderr, "demo: kiosk page", 60, "the kiosk URL")
                lines.append(kiosk)
                url = re.search(r"(http://\S+/kiosk/\?token=(\w+)&room=\S+)", kiosk)
                self.assertIsNotNone(url, kiosk)
                base, token = url.group(1).split("/kiosk/")[0], url.group(2)
                # Everything else the daemon says goes to a list (the pipe must not fill up).
                def collect():
                    fd = proc.stderr.fileno()
                    buf = _pending.pop(fd, b"")
                    while True:
                        lines.extend(l.decode(errors="replace") + "\n"
                                     for l in buf.split(b"\n")[:-1])
                        buf = buf.split(b"\n")[-1]
                        chunk = os.read(fd, 65536)
                        if not chunk:
                            return
                        buf += chunk

                reader = threading.Thread(target=collect, daemon=True)
                reader.start()
                notify.wait_for(lambda m: m.get("READY") == "1", 60, "READY=1")
                db = os.path.join(state, "estate-edge.db")

                def wait(pred, what, timeout=90):
                    deadline = time.monotonic() + timeout
                    while time.monotonic() < deadline:
                        if pred():
                            return
                        time.sleep(0.2)  # polling the store for a condition, not a guess
                    raise AssertionError(f"{what}: not within {timeout}s\n" +
                                         "".join(lines[-40:]))

                meters = {"1-1-101-power", "1-1-101-water", "1-1-101-heat", "shop-1-power"}
                wait(lambda: meters <= {r[0] for r in query(
                    db, "SELECT DISTINCT meter FROM readings")}, "readings of every meter family")

                def valve(state_word):
                    rows = query(db, "SELECT detail FROM events WHERE kind = "
                                     "'billing.supply_action_result' ORDER BY seq")
                    for (detail,) in rows:
                        j = json.loads(detail)
                        if j.get("meter") == "1-1-101-water" and j.get("action") == state_word \
                                and j.get("ok") is True:
                            return True
                    return False

                wait(lambda: valve("valve_close"), "the prepaid room's valve closed")
                # As the kiosk page pays: the room's look-up opens the sale it pays with.
                req = urllib.request.Request(base + "/api/rooms/1-1-101",
                                             headers={"Authorization": "Bearer " + token})
                with urllib.request.urlopen(req, timeout=20) as r:
                    sale = json.loads(r.read())["sale"]
                req = urllib.request.Request(
                    base + "/api/payments", method="POST",
                    data=json.dumps({"sale": sale, "amount_fen": 5000, "kind": "topup",
                                     "method": "card"}).encode(),
                    headers={"Authorization": "Bearer " + token,
                             "Content-Type": "application/json",
                             "Idempotency-Key": "demo-topup-1"})
                with urllib.request.urlopen(req, timeout=20) as r:
                    self.assertEqual(r.status, 202)
                wait(lambda: valve("valve_open"), "the valve opened after the top-up")
                # The dashboard URL it printed works with its technician token and shows the
                # car park's two gates.
                dash = [l for l in lines if l.startswith("demo: dashboard")]
                self.assertEqual(len(dash), 1, "".join(lines[:20]))
                m = re.search(r"(http://\S+)/dashboard/\?token=(\w+)", dash[0])
                self.assertIsNotNone(m, dash[0])
                req = urllib.request.Request(m.group(1) + "/api/dashboard",
                                             headers={"Authorization": "Bearer " + m.group(2)})
                with urllib.request.urlopen(req, timeout=20) as r:
                    overview = json.loads(r.read())
                self.assertEqual([g["gate"] for g in overview["gates"]], ["gate-in", "gate-out"])
                # The demo's broker got the records (the bridge marks them sent on its ack).
                wait(lambda: query(db, "SELECT acknowledged FROM stream_counts "
                                       "WHERE stream = 'readings'") > [(0,)],
                     "readings acknowledged by the demo broker")
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                rc = proc.wait(60)
                notify.close()
                proc.stderr.close()
                messages = capture.stop(sync=False) if capture else []
            self.assertEqual(rc, 0, "".join(lines[-40:]))
            self.assertTrue(any(t.endswith("/readings") for t, _ in messages),
                            "the capture saw the demo's readings")
            check_contract(messages, "demo's broker")
            # Nothing the demo started outlives it.
            left = subprocess.run(["pgrep", "-f", state], capture_output=True, text=True)
            self.assertEqual(left.stdout.strip(), "", "processes left behind")


if __name__ == "__main__":
    unittest.main()
