"""The Debian package: built by CPack from the tested build tree, unpacked into a throwaway
root, checked for its layout. It ships the example config but no live site.yaml (Debian practice:
the unit is skipped until the technician wrote one, and check-config runs before it starts); its
binary runs check-config on a copy of the packaged example: refused for its placeholder secrets
only (the technician replaces them), accepted once they are."""

import hashlib
import os
import re
import secrets
import shutil
import subprocess
import unittest

from harness import BUILD_DIR, SOURCE_DIR, tempdir
from test_example_config import PLACEHOLDER_SECRETS, PLACEHOLDER_TOKENS


@unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-deb"), "cpack/dpkg-deb missing")
class Package(unittest.TestCase):
    def test_deb_layout_and_check_config(self):
        with tempdir() as d:
            out = os.path.join(d, "out")
            p = subprocess.run(["cpack", "-G", "DEB", "-B", out], cwd=BUILD_DIR,
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            debs = [f for f in os.listdir(out) if f.endswith(".deb")]
            self.assertEqual(len(debs), 1, os.listdir(out))
            deb = os.path.join(out, debs[0])

            info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True,
                                  check=True).stdout
            self.assertIn("Package: estate-edge", info)
            self.assertIn("Depends:", info)          # from the shared libraries
            self.assertIn("libsqlite3", info)
            self.assertIn("libjs-chart.js", info)    # the dashboard's charts, not bundled
            # QR frames (built by default): exactly the OpenCV modules the binary links, and zbar
            # (dpkg-shlibdeps from the binary's NEEDED entries; nothing of dnn, calib3d, ...).
            depends = re.search(r"^ Depends: (.*)$", info, re.M).group(1)
            names = {re.split(r"[ (]", d.strip())[0] for d in depends.split(",")}
            # Frames are decoded by libjpeg-turbo, libpng and our own BMP/PNM readers, not by
            # OpenCV's imgcodecs (which maps about a hundred more libraries).
            qr_deps = {n for n in names
                       if n.startswith(("libopencv", "libzbar", "libjpeg", "libpng"))}
            with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
                opencv = re.search(r"^ESTATE_EDGE_WITH_OPENCV:BOOL=ON$", f.read(), re.M)
            self.assertEqual(qr_deps, {"libopencv-core406", "libopencv-imgproc406",
                                       "libopencv-objdetect406", "libzbar0",
                                       "libjpeg62-turbo", "libpng16-16"} if opencv else set(),
                             depends)
            # No live config in the package, so no conffile that would install the example.
            conffiles = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"], capture_output=True,
                                       text=True).stdout
            self.assertNotIn("/etc/estate-edge/site.yaml", conffiles)

            root = os.path.join(d, "root")
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
            for path in ("usr/bin/estate-edge",
                         "lib/systemd/system/estate-edge.service",
                         "lib/sysusers.d/estate-edge.conf",
                         "lib/tmpfiles.d/estate-edge.conf",
                         "usr/share/doc/estate-edge/examples/site.example.yaml",
                         "usr/share/doc/estate-edge/config.md",
                         "usr/share/doc/estate-edge/operations.md",
                         "usr/share/estate-edge/assets/kiosk/index.html",
                         "usr/share/estate-edge/assets/dashboard/index.html",
                         "usr/share/estate-edge/assets/dashboard/app.js",
                         "usr/share/doc/estate-edge/examples/99-estate-edge-rs485.rules"):
                self.assertTrue(os.path.exists(os.path.join(root, path)), path)
            self.assertFalse(os.path.exists(os.path.join(root, "etc/estate-edge/site.yaml")),
                             "the package must not install the example as the live config")
            unit = open(os.path.join(root, "lib/systemd/system/estate-edge.service")).read()
            self.assertIn("ConditionPathExists=/etc/estate-edge/site.yaml", unit)
            self.assertIn("ExecStartPre=/usr/bin/estate-edge check-config", unit)
            if os.path.isdir(os.path.join(SOURCE_DIR, "config", "models")):
                models = os.path.join(root, "usr/share/estate-edge/models")
                self.assertTrue(any(f.endswith(".yaml") for f in os.listdir(models)))

            binary = os.path.join(root, "usr/bin/estate-edge")
            # The technician's first step: the example copied as the site config.
            site = os.path.join(d, "etc", "site.yaml")
            os.makedirs(os.path.dirname(site))
            shutil.copy(os.path.join(root, "usr/share/doc/estate-edge/examples/site.example.yaml"),
                        site)
            env = dict(os.environ,
                       ESTATE_EDGE_MODELS_DIR=os.path.join(root, "usr/share/estate-edge/models"))
            p = subprocess.run([binary, "check-config", site], capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            errors = p.stderr.splitlines()
            self.assertEqual(errors[-1], "5 error(s)", p.stderr)
            for e in errors[:-1]:
                self.assertRegex(e, r": (devices\[\d+\]\.secret: this is a placeholder|"
                                    r"http\.tokens\[\d\]\.sha256: the hash of a placeholder token)")
            # Replaced as a technician does: accepted.
            with open(site) as f:
                text = f.read()
            for placeholder in PLACEHOLDER_SECRETS:
                text = text.replace(placeholder, secrets.token_hex(16))
            for token in PLACEHOLDER_TOKENS:
                text = text.replace(hashlib.sha256(token.encode()).hexdigest(),
                                    hashlib.sha256(secrets.token_hex(16).encode()).hexdigest())
            with open(site, "w") as f:
                f.write(text)
            p = subprocess.run([binary, "check-config", site], capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            p = subprocess.run([binary, "version"], capture_output=True, text=True)
            self.assertRegex(p.stdout, r"^estate-edge \d+\.\d+\.\d+")

            if shutil.which("lintian"):
                p = subprocess.run(["lintian", "--no-tag-display-limit", deb],
                                   capture_output=True, text=True, timeout=300)
                tags = [l for l in p.stdout.splitlines() if l[:2] in ("E:", "W:")]
                self.assertEqual(tags, [], p.stdout)


if __name__ == "__main__":
    unittest.main()
