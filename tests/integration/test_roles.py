"""The role matrix of the local HTTP API (docs/security.md, "Local roles"): every route mounted
in the source is in the documented table with the same role, and every route is called by every
caller (no token, a malformed Authorization header, an unknown token, and a kiosk, technician and
admin token) against the real daemon. A caller whose role is enough gets the handler's answer;
otherwise the router answers 401 (no or bad token) or 403 (role too low), exactly. /metrics is
walked twice: open, then behind a token after a reload that sets
http.metrics_token_required. The camera push route is open to every token, and refused without
the camera's own secret whatever the token. Failed tokens are limited per client address (each
call of the matrix comes from its own loopback address, 127.1.x.y): the tenth failure locks the
address out (429, even for a valid token), is logged without the token and audited. The admin
routes change the config (a conf.d drop-in, validated, refused with file:line:column) and the
lists (the platform's list path through the cloud bridge, a real mosquitto here); each change
is audited with the admin token's name, and the config they show has its secrets redacted."""

import hashlib
import hmac
import http.client
import json
import os
import itertools
import re
import signal
import sqlite3
import time
import unittest

from harness import SOURCE_DIR, Daemon, Mosquitto, free_port, tempdir
from test_gate import IoModule

TOKENS = {"kiosk": "kiosk-token-roles", "technician": "tech-token-roles",
          "admin": "admin-token-roles"}
SECRET = "967bfc7b22c8b3dc2ff0ad3a49c54a23"  # 128 bits: check-config refuses less
ROOM = "1-2-301"
RANK = {"none": 0, "kiosk": 1, "technician": 2, "admin": 3}
# Callers: the header each sends, and the role the router gives it.
CALLERS = {
    "no token": (None, "none"),
    "malformed": ("Basic a2lvc2s6a2lvc2s=", "none"),
    "unknown token": ("Bearer not-a-configured-token", "none"),
    "kiosk": ("Bearer " + TOKENS["kiosk"], "kiosk"),
    "technician": ("Bearer " + TOKENS["technician"], "technician"),
    "admin": ("Bearer " + TOKENS["admin"], "admin"),
}


def sha(t):
    return hashlib.sha256(t.encode()).hexdigest()


def documented_routes():
    """(method, mounted prefix) -> role, from the table in docs/security.md."""
    with open(os.path.join(SOURCE_DIR, "docs", "security.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Local roles", 1)[1].split("\n## ", 1)[0]
    routes = {}
    for m in re.finditer(r"^\| `(GET|POST|PUT|DELETE|\*)` \| `([^`]+)` \| (\w+) \|", section,
                         re.M):
        route = m.group(2)
        # "/api/rooms/<room>" is mounted as the prefix "/api/rooms/"; a query is no part of it.
        prefix = route.split("<", 1)[0].split("?", 1)[0]
        routes[(m.group(1), prefix)] = m.group(3)
    return routes


def mounted_routes():
    """(method, prefix) -> role of every add_route (or add_async_route) call in daemon/."""
    pattern = re.compile(
        r'add_(?:async_)?route\(\s*"([A-Z*]+)",\s*"([^"]+)",\s*(?:http::)?Role::(\w+)')
    routes = {}
    for root, _, files in os.walk(os.path.join(SOURCE_DIR, "daemon")):
        for name in files:
            if not name.endswith(".cpp") or name == "router.cpp":
                continue
            with open(os.path.join(root, name), encoding="utf-8") as f:
                for m in pattern.finditer(f.read()):
                    key = (m.group(1), m.group(2))
                    assert key not in routes, f"{key} mounted twice"
                    routes[key] = m.group(3)
    return routes


class Roles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir()
        d = cls.tmp.name
        cls.io = IoModule()
        cls.broker = Mosquitto(d).start()
        cls.port = free_port()
        cls.config = os.path.join(d, "site.yaml")
        cls.write_config(metrics_token_required=False)
        cls.daemon = Daemon(d, cls.config).start()

    @classmethod
    def write_config(cls, metrics_token_required):
        tokens = "".join(f"    - {{ name: {role}-1, role: {role}, sha256: {sha(t)} }}\n"
                         for role, t in TOKENS.items())
        with open(cls.config, "w") as f:
            f.write(f"""site:
  id: test-site
gateway:
  id: test-gw
mqtt:
  url: {cls.broker.url}
http:
  listen: 127.0.0.1:{cls.port}
  metrics_token_required: {"true" if metrics_token_required else "false"}
  tokens:
{tokens}buses:
  - {{ id: io-bus, kind: tcp, protocol: modbus, host: 127.0.0.1, port: {cls.io.port} }}
devices:
  - {{ id: io-1, kind: io_module, bus: io-bus, address: "1" }}
  - id: gate-in
    kind: gate
    lane: entry
    relay: io-1:0
    loop_input: io-1:0
    options: {{ loop_poll_ms: 50, open_timeout_s: 600 }}
  - {{ id: cam-in, kind: camera, model: generic-json, gate: gate-in, lane: entry, secret: {SECRET} }}
  - {{ id: kiosk-lobby, kind: kiosk }}
tariffs:
  - {{ id: water, quantity: water, unit: m3, price: "3.50" }}
accounts:
  - {{ room: "{ROOM}", meters: [] }}
parking_rules:
  - {{ id: visitor, free_minutes: 30, unit_minutes: 60, unit_price_fen: 500, daily_cap_fen: 2000 }}
# Platform commands must be signed (RFC 8032 test key 1); the admin API's lists carry a token
# and need no signature.
security:
  platform_public_keys: [d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a]
""")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.broker.stop()
        cls.io.stop()
        cls.tmp.cleanup()

    sources = (f"127.1.{i // 250}.{i % 250 + 1}" for i in itertools.count())

    def call(self, method, path, auth, body=None, headers=None, source=None):
        """One request from `source`, by default a loopback address of its own."""
        source = source or next(self.sources)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20,
                                       source_address=(source, 0))
        h = dict(headers or {})
        if auth:
            h["Authorization"] = auth
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        payload = r.read()
        c.close()
        try:
            j = json.loads(payload)
        except ValueError:
            j = None
        self.last_headers = dict(r.getheaders())
        return r.status, j

    # One concrete request per documented route, and the handler's answer to it: status and,
    # for errors, the error code (so a 401/404 of a handler is told apart from the router's).
    def requests(self):
        plate = {"camera": "cam-in", "plate": "粤B10001", "colour": "blue", "confidence": 95,
                 "lane": "entry"}
        return {
            ("GET", "/healthz"): (("GET", "/healthz", None, None), 200, None),
            ("GET", "/metrics"): (("GET", "/metrics", None, None), 200, None),
            ("GET", "/kiosk"): (("GET", "/kiosk", None, None), 308, None),
            ("GET", "/kiosk/"): (("GET", "/kiosk/", None, None), 200, None),
            # Without the camera's secret: the handler refuses, whatever the token.
            ("POST", "/api/cameras/anpr"): (("POST", "/api/cameras/anpr", plate, None), 401,
                                            "unauthorized_camera"),
            ("POST", "/api/cameras/frame"): (("POST", "/api/cameras/frame", None,
                                              {"X-Camera-Id": "cam-in"}), 401,
                                             "unauthorized_camera"),
            ("GET", "/api/rooms/"): (("GET", f"/api/rooms/{ROOM}", None, None), 200, None),
            # No POS terminal on this site: the handler's 503 shows the call got through for
            # staff. A kiosk pays only by a look-up's sale (a room's: test_8 below; a parking
            # session's: its plate search, test_kiosk_parking): without one, 403 no_sale.
            ("POST", "/api/payments"): (("POST", "/api/payments",
                                         {"kind": "parking", "session": 1, "amount_fen": 100},
                                         {"Idempotency-Key": "roles-1"}), 503, "no_terminal"),
            ("GET", "/api/payments/"): (("GET", "/api/payments/test-gw-pay-999", None, None), 404,
                                        "no such payment"),
            ("POST", "/api/payments/"): (("POST", "/api/payments/test-gw-pay-999/receipt", None,
                                          None), 404, "no such payment"),
            ("GET", "/api/payments"): (("GET", "/api/payments?state=unknown", None, None), 200,
                                       None),
            ("GET", "/api/admin/config"): (("GET", "/api/admin/config", None, None), 200, None),
            # A drop-in with a misspelt key: refused by validation, nothing written.
            ("POST", "/api/admin/config"): (("POST", "/api/admin/config",
                                             {"yaml": "logging:\n  levle: debug\n"}, None), 422,
                                            "invalid_config"),
            ("GET", "/api/admin/lists/"): (("GET", "/api/admin/lists/plates", None, None), 200,
                                           None),
            # Version 0 is not a version: refused by the list's checks, nothing applied.
            ("POST", "/api/admin/lists/"): (("POST", "/api/admin/lists/plates",
                                             {"version": 0, "items": []}, None), 422, "refused"),
        }

    def request_for(self, route):
        """The request of `route`; a route this test has no request for yet (a new one) is
        probed on its prefix, and any answer but 401/403/429 counts as let through."""
        known = self.requests().get(route)
        if known:
            return known
        method, prefix = route
        path = prefix + "probe" if prefix.endswith("/") else prefix
        return (method if method != "*" else "GET", path, None, None), None, None

    def check_cell(self, route, role, caller, metrics_token_required=False):
        (method, path, body, headers), ok_status, ok_mark = self.request_for(route)
        auth, caller_role = CALLERS[caller]
        status, j = self.call(method, path, auth, body, headers)
        cell = f"{method} {path} as {caller}: {status} {j}"
        if route == ("GET", "/metrics") and metrics_token_required:
            # Any valid token, whatever its role.
            if caller_role == "none":
                self.assertEqual(status, 401, cell)
                self.assertEqual(j["error"], "unauthorized", cell)
            else:
                self.assertEqual(status, 200, cell)
            return
        if RANK[caller_role] >= RANK[role]:
            if route == ("POST", "/api/payments") and caller_role == "kiosk":
                ok_status, ok_mark = 403, "no_sale"
            if ok_status is None:
                self.assertNotIn(status, (401, 403, 429), cell)
                return
            self.assertEqual(status, ok_status, cell)
            if ok_mark == "unauthorized_camera":
                self.assertEqual(j, {"ok": False, "error": "unknown camera or wrong secret"},
                                 cell)
            elif ok_mark == "no such payment":
                self.assertIn("no such payment", j["message"], cell)
            elif ok_mark:
                self.assertEqual(j["error"], ok_mark, cell)
        elif caller_role == "none":
            self.assertEqual(status, 401, cell)
            self.assertEqual(j["error"], "unauthorized", cell)
        else:
            self.assertEqual(status, 403, cell)
            self.assertEqual(j["error"], "forbidden", cell)
            self.assertIn(f"it needs {role}", j["message"], cell)

    def test_1_documented_table_is_every_mounted_route(self):
        documented, mounted = documented_routes(), mounted_routes()
        self.assertEqual(documented, mounted,
                         "docs/security.md's route table and the add_route calls differ")

    def test_2_every_route_with_every_caller(self):
        cells = 0
        for route, role in sorted(documented_routes().items()):
            for caller in CALLERS:
                with self.subTest(route=route, caller=caller):
                    self.check_cell(route, role, caller)
                cells += 1
        self.assertEqual(cells, len(documented_routes()) * len(CALLERS))
        print(f"\nrole matrix: {cells} cells", flush=True)

    def test_3_camera_push_with_its_secret_is_open_to_every_caller(self):
        for i, caller in enumerate(CALLERS):
            with self.subTest(caller=caller):
                auth, _ = CALLERS[caller]
                status, j = self.call("POST", "/api/cameras/anpr", auth,
                                      {"camera": "cam-in", "plate": f"粤B2000{i}",
                                       "colour": "blue", "confidence": 95, "lane": "entry"},
                                      {"X-Camera-Secret": SECRET})
                self.assertEqual(status, 200, f"{caller}: {status} {j}")

    def test_4_metrics_behind_a_token_after_reload(self):
        self.write_config(metrics_token_required=True)
        self.daemon.signal(signal.SIGHUP)
        msg = self.daemon.notify.wait_for(
            lambda m: m.get("STATUS", "") == "config reloaded"
            or m.get("STATUS", "").startswith("reload failed"), what="reload")
        self.assertEqual(msg["STATUS"], "config reloaded")
        try:
            for caller in CALLERS:
                with self.subTest(caller=caller):
                    self.check_cell(("GET", "/metrics"), "none", caller,
                                    metrics_token_required=True)
        finally:
            self.write_config(metrics_token_required=False)
            self.daemon.signal(signal.SIGHUP)
            self.daemon.notify.wait_for(
                lambda m: m.get("STATUS", "") == "config reloaded", what="reload")

    def test_5_failed_tokens_lock_the_address_out(self):
        attacker = "127.9.9.9"
        path = f"/api/rooms/{ROOM}"
        for i in range(10):
            status, j = self.call("GET", path, f"Bearer guess-{i}", source=attacker)
            self.assertEqual(status, 401, j)
        # Locked out: even the right token is not looked at, until the window has passed.
        status, j = self.call("GET", path, "Bearer " + TOKENS["kiosk"], source=attacker)
        self.assertEqual(status, 429, j)
        self.assertEqual(j["error"], "too_many_attempts")
        self.assertGreater(int(self.last_headers["Retry-After"]), 0)
        # Requests without a token still work from there; other addresses are not affected.
        self.assertEqual(self.call("GET", "/healthz", None, source=attacker)[0], 200)
        self.assertEqual(self.call("GET", path, "Bearer " + TOKENS["kiosk"])[0], 200)
        # Logged with the address, never the token; the lock-out is audited.
        log = self.daemon.logs()
        self.assertIn(f"http: {attacker}: GET {path}: token refused", log)
        self.assertIn(f"http: {attacker}: 10 failed token attempts within 60 s", log)
        self.assertNotIn("guess-", log)
        db_path = os.path.join(self.daemon.state_dir, "estate-edge.db")
        deadline = time.monotonic() + 20
        while True:
            db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
            rows = db.execute("SELECT actor, subject FROM audit_log "
                              "WHERE kind = 'security.token_lockout'").fetchall()
            db.close()
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(rows, [(f"remote:{attacker}", f"http:{path}")])

    def keyed_hash(self, kind, value):
        """What the lists keep of a normalised credential (privacy::keyed_hash): HMAC-SHA256
        with the gateway's own privacy key, as 64 hex digits."""
        with open(os.path.join(self.daemon.state_dir, "privacy.key"), "rb") as f:
            raw = f.read()
        key = raw if len(raw) == 32 else bytes.fromhex(raw.decode().strip())
        return hmac.new(key, f"estate-edge/{kind}\0{value}".encode(), hashlib.sha256).hexdigest()

    def audit_rows(self, kind):
        db = sqlite3.connect(f"file:{os.path.join(self.daemon.state_dir, 'estate-edge.db')}"
                             "?mode=ro", uri=True, timeout=10)
        rows = db.execute("SELECT actor, subject, detail FROM audit_log WHERE kind = ? "
                          "ORDER BY seq", (kind,)).fetchall()
        db.close()
        return rows

    def test_7_admin_changes_config_and_lists_audited_by_token_name(self):
        admin = CALLERS["admin"][0]
        dropin = os.path.join(os.path.dirname(self.config), "conf.d", "70-admin.yaml")
        # The config as it is, with every secret redacted.
        status, j = self.call("GET", "/api/admin/config", admin)
        self.assertEqual(status, 200, j)
        text = json.dumps(j, ensure_ascii=False)
        self.assertNotIn(SECRET, text)
        for token in TOKENS.values():
            self.assertNotIn(sha(token), text)
        cam = [d for d in j["files"][0]["config"]["devices"] if d["id"] == "cam-in"][0]
        self.assertEqual(cam["secret"], "<redacted>")
        self.assertEqual(j["files"][0]["config"]["gateway"]["id"], "test-gw")
        # A refused drop-in names file:line:column and writes nothing.
        status, j = self.call("POST", "/api/admin/config", admin,
                              {"yaml": "logging:\n  level: loud\n"})
        self.assertEqual(status, 422, j)
        self.assertIn("conf.d/70-admin.yaml:2:10", j["message"])
        self.assertFalse(os.path.exists(dropin))
        status, j = self.call("POST", "/api/admin/config", admin, {"yaml": "x: 1", "name": "../x"})
        self.assertEqual(status, 400, j)
        # An accepted one is written, in force, and audited with the token's name.
        status, j = self.call("POST", "/api/admin/config", admin,
                              {"yaml": "logging:\n  level: info\n"})
        self.assertEqual((status, j), (200, {"file": "conf.d/70-admin.yaml", "removed": False}))
        self.assertTrue(os.path.exists(dropin))
        status, j = self.call("POST", "/api/admin/config", admin, {"yaml": ""})
        self.assertEqual((status, j), (200, {"file": "conf.d/70-admin.yaml", "removed": True}))
        self.assertFalse(os.path.exists(dropin))
        rows = [r for r in self.audit_rows("config.change") if r[0].startswith("token:")]
        self.assertEqual([(a, s) for a, s, _ in rows],
                         [("token:admin-1", "file:conf.d/70-admin.yaml")] * 2)
        # A list through the platform's path: applied to the gates, shown, audited.
        plate = "粤B30001"
        status, j = self.call("POST", "/api/admin/lists/plates", admin,
                              {"version": 7, "items": [{"key": plate, "unit": ROOM}]})
        self.assertEqual(status, 200, j)
        self.assertEqual(j, {"list": "plates", "version": 7, "applied": True, "items": 1,
                             "chunks": 1})
        status, j = self.call("POST", "/api/admin/lists/plates", admin,
                              {"version": 7, "items": []})
        self.assertEqual(status, 422, j)
        self.assertIn("not newer", j["message"])
        # Shown as stored: the plate's keyed hash and its masked form, never the plate.
        status, j = self.call("GET", "/api/admin/lists/plates", admin)
        self.assertEqual(status, 200, j)
        self.assertEqual((j["version"], j["total"], j["entries"]),
                         (7, 1, [{"key": self.keyed_hash("plate", plate), "shown": "粤B***01",
                                  "unit": ROOM}]))
        self.assertEqual(self.call("GET", "/api/admin/lists/boats", admin)[0], 404)
        db = sqlite3.connect(f"file:{os.path.join(self.daemon.state_dir, 'estate-edge.db')}"
                             "?mode=ro", uri=True, timeout=10)
        self.assertEqual(db.execute("SELECT version, entries FROM access_lists "
                                    "WHERE list = 'plates'").fetchall(), [(7, 1)])
        db.close()
        # The gates' own blocklist takes the same road (cmd/blocklist's handler).
        status, j = self.call("POST", "/api/admin/lists/blocklist", admin,
                              {"version": 3, "items": [{"key": "bl-1", "kind": "plate",
                                                        "value": "粤B30002", "reason": "stolen"}]})
        self.assertEqual((status, j), (200, {"list": "blocklist", "version": 3, "applied": True,
                                             "items": 1, "chunks": 1}))
        status, j = self.call("GET", "/api/admin/lists/blocklist", admin)
        self.assertEqual((j["version"], j["entries"]),
                         (3, [{"key": "bl-1", "kind": "plate",
                               "value": self.keyed_hash("plate", "粤B30002"),
                               "reason": "stolen", "shown": "粤B***02"}]))
        self.assertNotIn("30002", json.dumps(j, ensure_ascii=False))
        rows = [(a, s) for a, s, _ in self.audit_rows("list.change")]
        self.assertEqual(rows, [("token:admin-1", "list:plates"),
                                ("token:admin-1", "list:blocklist")])
        for token in TOKENS.values():
            self.assertNotIn(token, json.dumps(self.audit_rows("list.change")))

    def test_8_kiosk_pays_only_the_room_it_looked_up(self):
        """Beyond the role: a kiosk names a room only by the sale its look-up opened; every
        caller needs an Idempotency-Key; technicians and admins may name the room."""
        kiosk, tech = "Bearer " + TOKENS["kiosk"], "Bearer " + TOKENS["technician"]
        key = {"Idempotency-Key": "roles-8"}
        for auth in (kiosk, tech, "Bearer " + TOKENS["admin"]):
            status, j = self.call("POST", "/api/payments", auth, {"room": ROOM, "amount_fen": 100})
            self.assertEqual((status, j["error"]), (400, "bad_request"), j)
            self.assertIn("Idempotency-Key", j["message"])
        status, j = self.call("POST", "/api/payments", kiosk, {"room": ROOM, "amount_fen": 100}, key)
        self.assertEqual((status, j["error"]), (403, "no_sale"), j)
        status, j = self.call("POST", "/api/payments", tech, {"room": ROOM, "amount_fen": 100}, key)
        self.assertEqual((status, j["error"]), (503, "no_terminal"), j)
        status, room = self.call("GET", f"/api/rooms/{ROOM}", kiosk)
        self.assertEqual(status, 200, room)
        self.assertRegex(room["sale"], r"^[0-9a-f]{32}$")
        status, j = self.call("POST", "/api/payments", kiosk,
                              {"sale": room["sale"], "amount_fen": 100}, key)
        self.assertEqual((status, j["error"]), (503, "no_terminal"), j)
        # Another token cannot use this kiosk's sale.
        status, j = self.call("POST", "/api/payments", tech,
                              {"sale": room["sale"], "amount_fen": 100}, key)
        self.assertEqual((status, j["error"]), (403, "no_sale"), j)

    def test_6_tokens_never_reach_the_log(self):
        for role, token in TOKENS.items():
            self.assertNotIn(token, self.daemon.logs())
        self.assertNotIn("not-a-configured-token", self.daemon.logs())
        self.assertNotIn(SECRET, self.daemon.logs())


if __name__ == "__main__":
    unittest.main()
