"""The kiosk page in headless Chromium (Debian's `chromium`) against the real daemon: the page
is served by the daemon, reads the kiosk token from its URL, asks /api for a room's bills and
renders them in Chinese, with the room's arrears warning. The DOM after the page's scripts ran is checked, and a screenshot is
kept in the build dir (artifacts/kiosk-page.png) so the layout can be looked at. The page works
under the Content-Security-Policy the daemon sends with it (no inline code, no framing), and its
script takes the token out of the address bar once it has kept it."""

import os
import shutil
import subprocess
import unittest
import urllib.request

from harness import BUILD_DIR, SOURCE_DIR, tempdir
from test_payment_kiosk import KIOSK_TOKEN, OVERDUE_DAYS, Site

CHROMIUM = shutil.which("chromium")


def chromium(profile, url, *mode):
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1000",
         "--virtual-time-budget=5000", *mode, url],
        capture_output=True, text=True, timeout=120)


@unittest.skipIf(CHROMIUM is None, "chromium is not installed (scripts/bootstrap installs it)")
class KioskPage(unittest.TestCase):
    def test_page_shows_a_rooms_bills_from_the_daemon(self):
        with tempdir() as d:
            site = Site(d).start()
            try:
                url = f"http://127.0.0.1:{site.http_port}/kiosk/?token={KIOSK_TOKEN}&room=1-2-301"
                dom = chromium(os.path.join(d, "profile-dom"), url, "--dump-dom")
                self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
                html = dom.stdout
                self.assertIn('<span id="acct-room">1-2-301</span>', html)
                self.assertIn('<span id="due" class="money">¥30.00</span>', html)
                self.assertIn('<section id="find" class="panel hidden">', html)
                self.assertIn("<td>2026-09-30</td><td>水费</td><td></td><td>¥10.00</td>", html)
                self.assertIn("刷卡缴清欠费", html)
                # The room is in arrears (level 2: warn, charge as visitor, deny the gate).
                self.assertIn('<div id="arrears" class="warning" role="alert">', html)
                self.assertIn(f"已逾期 {OVERDUE_DAYS} 天，逾期欠费 ¥30.00", html)
                self.assertIn("<li>门禁及车辆通行已受限</li>", html)
                self.assertIn("<li>车辆进出停车场按临时车收费</li>", html)
                self.assertNotIn("已暂停供水", html)
                artifacts = os.path.join(BUILD_DIR, "artifacts")
                os.makedirs(artifacts, exist_ok=True)
                shot = os.path.join(artifacts, "kiosk-page.png")
                if os.path.exists(shot):
                    os.unlink(shot)
                r = chromium(os.path.join(d, "profile-shot"), url, f"--screenshot={shot}")
                self.assertEqual(r.returncode, 0, r.stderr[-2000:])
                with open(shot, "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
                # The page's requests went through the token check.
                logs = site.daemon.logs()
                self.assertNotIn("handler failed", logs)
            finally:
                site.close()

    def test_token_leaves_the_address_bar_and_the_page_is_not_framable(self):
        with tempdir() as d:
            # The daemon's own assets with one line appended to the kiosk script, run after it:
            # it writes the page's address into the DOM for --dump-dom to show.
            assets = os.path.join(d, "assets")
            shutil.copytree(os.path.join(SOURCE_DIR, "daemon", "http", "assets"), assets)
            with open(os.path.join(assets, "kiosk", "app.js"), "a") as f:
                f.write("\ndocument.documentElement.dataset.href = location.href;\n")
            os.environ["ESTATE_EDGE_ASSETS_DIR"] = assets
            try:
                site = Site(d).start()
            finally:
                os.environ.pop("ESTATE_EDGE_ASSETS_DIR", None)
            try:
                base = f"http://127.0.0.1:{site.http_port}/kiosk/"
                with urllib.request.urlopen(base, timeout=10) as r:
                    headers = r.headers
                self.assertEqual(headers["X-Frame-Options"], "DENY")
                csp = headers["Content-Security-Policy"]
                self.assertIn("script-src 'self'", csp)
                self.assertIn("frame-ancestors 'none'", csp)
                self.assertNotIn("unsafe-inline", csp)
                self.assertEqual(headers["Referrer-Policy"], "no-referrer")
                dom = chromium(os.path.join(d, "profile"), f"{base}?token={KIOSK_TOKEN}&room=1-2-301",
                               "--dump-dom")
                self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
                self.assertIn(f'data-href="{base}?room=1-2-301"', dom.stdout)
                self.assertNotIn(KIOSK_TOKEN, dom.stdout)
                # The token was kept: the room's bills were fetched with it.
                self.assertIn('<span id="acct-room">1-2-301</span>', dom.stdout)
            finally:
                site.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
