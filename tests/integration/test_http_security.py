"""The local listener's transport rules against the real binary: HTTPS with a certificate and key
from config (a self-signed pair made by the test, spoken to with python's ssl client) while plain
HTTP still answers on loopback; a key file its group may read refused at start with the file and
the fix named; one client address limited to http.max_connections_per_client while another
address is still served; and check-config's warnings for plain HTTP on the LAN and a password
over mqtt://."""

import http.client
import os
import socket
import ssl
import subprocess
import time
import unittest

from harness import Daemon, free_port, run_cli, tempdir

HEAD = "site:\n  id: test-site\ngateway:\n  id: gw-sec\n"


def make_cert(directory):
    cert = os.path.join(directory, "http-cert.pem")
    key = os.path.join(directory, "http-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=gateway",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def write_config(directory, http_lines, extra=""):
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(HEAD + "http:\n" + http_lines + extra)
    return path


def get(conn, path="/healthz"):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, r.headers, body


class Https(unittest.TestCase):
    def test_https_for_the_lan_plain_http_on_loopback(self):
        with tempdir() as d:
            cert, key = make_cert(d)
            port = free_port()
            path = write_config(d, f"  listen: 127.0.0.1:{port}\n  tls_cert_file: {cert}\n"
                                   f"  tls_key_file: {key}\n")
            p = run_cli("check-config", path, check=0)
            self.assertEqual(p.stderr, "")
            daemon = Daemon(d, path).start()
            try:
                ctx = ssl.create_default_context(cafile=cert)
                tls = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
                status, headers, body = get(tls)
                self.assertEqual((status, body), (200, b'{"status":"ok"}'))
                self.assertEqual(headers["X-Frame-Options"], "DENY")
                status, headers, _ = get(tls, "/kiosk/")  # the same connection, kept alive
                self.assertEqual(status, 200)
                self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
                self.assertEqual(tls.sock.version() in ("TLSv1.2", "TLSv1.3"), True)
                tls.close()
                plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                self.assertEqual(get(plain)[0], 200)
                plain.close()
                self.assertIn("HTTPS, plain HTTP for loopback clients only", daemon.logs())
            finally:
                daemon.stop()

    def test_a_key_its_group_may_read_is_refused(self):
        with tempdir() as d:
            cert, key = make_cert(d)
            os.chmod(key, 0o640)
            path = write_config(d, f"  listen: 127.0.0.1:{free_port()}\n"
                                   f"  tls_cert_file: {cert}\n  tls_key_file: {key}\n")
            why = (f"{path}:6:11: http.tls_key_file: file {key} is accessible by its group "
                   f"(mode 640): chmod 600 {key}")
            # check-config refuses it, naming the file and the fix, and so does run.
            self.assertIn(why, run_cli("check-config", path, check=2).stderr)
            daemon = Daemon(d, path).start(wait_ready=False)
            try:
                daemon.proc.wait(30)
                self.assertNotEqual(daemon.proc.returncode, 0)
                self.assertIn(why, daemon.logs())
            finally:
                daemon.stop()
            # Fixed as told, it starts.
            os.chmod(key, 0o600)
            daemon = Daemon(d, path).start()
            daemon.stop()


class ConnectionCap(unittest.TestCase):
    def test_one_address_cannot_hold_every_connection(self):
        with tempdir() as d:
            port = free_port()
            path = write_config(d, f"  listen: 127.0.0.1:{port}\n  max_connections_per_client: 4\n")
            daemon = Daemon(d, path).start()
            try:
                held = []
                for _ in range(4):
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    self.assertEqual(get(c)[0], 200)  # answered and kept open
                    held.append(c)
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    self.assertEqual(s.recv(4096), b"")  # closed at once, nothing answered
                except ConnectionResetError:
                    pass
                s.close()
                other = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                                   source_address=("127.0.0.2", 0))
                self.assertEqual(get(other)[0], 200)
                other.close()
                # A closed connection gives its slot back (noticed by the server asynchronously).
                held.pop().close()
                deadline = time.monotonic() + 10
                while True:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    try:
                        if get(c)[0] == 200:
                            break
                    except (ConnectionError, http.client.HTTPException):
                        pass
                    finally:
                        c.close()
                    self.assertLess(time.monotonic(), deadline, "the slot was never given back")
                for c in held:
                    c.close()
                metrics = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                self.assertIn(b"estate_http_connections_refused_total", get(metrics, "/metrics")[2])
                metrics.close()
            finally:
                daemon.stop()


class Warnings(unittest.TestCase):
    def test_check_config_warns_of_secrets_in_clear(self):
        with tempdir() as d:
            path = write_config(d, '  listen: "0.0.0.0:8080"\n',
                                "mqtt:\n  url: mqtt://broker.example:1883\n  username: u\n"
                                "  password: pw\n")
            p = run_cli("check-config", path, check=0)
            self.assertIn(": ok (site test-site", p.stdout)
            self.assertEqual(p.stderr.splitlines(), [
                f"{path}:6:11: http.listen: warning: plain HTTP on a non-loopback address: tokens "
                "and camera secrets cross the LAN in clear; set http.tls_cert_file and "
                "http.tls_key_file",
                f"{path}:8:3: mqtt.url: warning: a password over mqtt:// crosses the network in "
                "clear; use mqtts://",
                f"{path}:8:3: security.platform_public_keys: warning: not set: commands from the "
                "platform (gate-open, topup, valve, config ...) are obeyed without a signature; "
                "list the platform's Ed25519 key (docs/security.md)"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
