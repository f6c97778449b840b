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

    def test_written_paths_are_writable_under_protect_system_strict(self):
        # ProtectSystem=strict makes all of /etc and /var read-only but what the unit opens: the
        # drop-ins the daemon writes (conf.d) and the documented backup dir must be among them,
        # and tmpfiles must hand them to the service user.
        text = open(UNIT).read()
        self.assertIn("ProtectSystem=strict", text)
        writable = [p.lstrip("-") for line in re.findall(r"^ReadWritePaths=(.*)$", text, re.M)
                    for p in line.split()]
        writable += ["/var/lib/" + d for d in re.findall(r"^StateDirectory=(.*)$", text, re.M)]
        example = open(os.path.join(SOURCE_DIR, "config", "site.example.yaml")).read()
        backup_dir = re.search(r"^\s+dir:\s*(\S+)", example[example.index("backup:"):], re.M).group(1)
        for path in ("/etc/estate-edge/conf.d", backup_dir):
            self.assertTrue(any(path == w or path.startswith(w + "/") for w in writable),
                            f"{path} is not writable under the unit: {writable}")
        tmpfiles = open(os.path.join(SOURCE_DIR, "systemd", "estate-edge.tmpfiles.conf")).read()
        for path in ("/etc/estate-edge/conf.d", backup_dir):
            self.assertRegex(tmpfiles, rf"(?m)^d {re.escape(path)} 07[57]0 estate-edge estate-edge")
        self.assertRegex(tmpfiles, r"(?m)^z /etc/estate-edge/site.yaml 0640 root estate-edge")

    def test_no_start_without_a_site_config(self):
        text = open(UNIT).read()
        self.assertIn("ConditionPathExists=/etc/estate-edge/site.yaml", text)
        self.assertIn("ExecStartPre=/usr/bin/estate-edge check-config /etc/estate-edge/site.yaml", text)


if __name__ == "__main__":
    unittest.main()
