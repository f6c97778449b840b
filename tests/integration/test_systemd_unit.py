"""The systemd unit's hardening: systemd-analyze's offline security score must stay <= 2.0,
while serial/USB devices stay reachable through a group."""

import os
import re
import shutil
import subprocess
import unittest

from harness import SOURCE_DIR

UNIT = os.path.join(SOURCE_DIR, "systemd", "estate-edge.service")


class SystemdUnit(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_security_exposure_at_most_2(self):
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for estate-edge.service: ([0-9.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, p.stdout)

    def test_notify_watchdog_reload_and_device_access(self):
        text = open(UNIT).read()
        for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=estate-edge",
                     "SupplementaryGroups=dialout", "DeviceAllow=char-ttyUSB rw"):
            self.assertIn(line, text)
        self.assertRegex(text, r"WatchdogSec=\d+")


if __name__ == "__main__":
    unittest.main()
