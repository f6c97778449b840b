"""A broker that refuses the gateway's credentials is told apart from a broker that is away: a
real mosquitto with a password file (mosquitto_passwd) and no anonymous access. The gateway
reports the refusal once, in its log and in `estate-edge status` (state "refused" with the
reason), retries at the reconnect cap, not in a fast loop, and connects once the broker accepts
its credentials."""

import http.client
import json
import os
import pwd
import signal
import subprocess
import time
import unittest

from harness import Daemon, Mosquitto, free_port, run_cli, tempdir
from test_bridge import MqttClient

SITE, GW = "test-site", "test-gw"


def status(state_dir):
    return json.loads(run_cli("status", "--state-dir", state_dir, "--json", check=0).stdout)


def wait_until(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(interval)


def broker_gauge(port):
    """The estate_broker_state samples of /metrics: {state: value}."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    c.close()
    out = {}
    for line in body.splitlines():
        if line.startswith('estate_broker_state{state="'):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('"')[1]] = int(value)
    return out


def passwd(path, user, password):
    subprocess.run(["mosquitto_passwd", "-b", path, user, password], check=True,
                   capture_output=True)


class BrokerRefusal(unittest.TestCase):
    def test_bad_credentials_are_reported_once_and_retried_at_the_cap(self):
        with tempdir() as d:
            pw = os.path.join(d, "passwords")
            passwd_create = ["mosquitto_passwd", "-c", "-b", pw, "platform", "platform-secret"]
            subprocess.run(passwd_create, check=True, capture_output=True)
            broker = Mosquitto(d)
            log = os.path.join(d, "mosquitto.log")
            with open(broker.conf) as f:
                text = f.read().replace("allow_anonymous true\n", "allow_anonymous false\n")
            with open(broker.conf, "w") as f:
                # Started as root, mosquitto drops to its own user unless told to stay.
                f.write(text + f"password_file {pw}\nlog_dest file {log}\n"
                        f"user {pwd.getpwuid(os.geteuid()).pw_name}\n")
            broker.start()
            secret = os.path.join(d, "mqtt-password")
            with open(secret, "w") as f:
                f.write("not-the-password\n")
            cfg = os.path.join(d, "site.yaml")
            http_port = free_port()
            with open(cfg, "w") as f:
                f.write(f"site:\n  id: {SITE}\ngateway:\n  id: {GW}\nmqtt:\n  url: {broker.url}\n"
                        f"  username: {GW}\n  password_file: {secret}\n"
                        f"http:\n  listen: 127.0.0.1:{http_port}\n")
            daemon = Daemon(d, cfg)
            try:
                daemon.start()
                st = wait_until(lambda: (s := status(daemon.state_dir))["broker"]["state"] ==
                                "refused" and s, 30, "status: refused")
                self.assertRegex(st["broker"]["detail"], r"\(CONNACK [45]\)$")
                self.assertTrue(st["broker"]["since"])
                text = run_cli("status", "--state-dir", daemon.state_dir, check=0).stdout
                self.assertIn("refused since", text)
                self.assertIn("CONNACK", text)
                self.assertEqual(broker_gauge(http_port),
                                 {"connecting": 0, "connected": 0, "disconnected": 0,
                                  "refused": 1, "stopped": 0})

                # Two refusals seen by the broker (its log has a line for each, stamped in
                # whole seconds; the gateway is the only client so far), at least 15 s apart
                # (the cap's lower half), and one log line for both at the gateway.
                def refusals():
                    with open(log, errors="replace") as f:
                        return [int(line.split(":")[0]) for line in f if "not authorised" in line]
                wait_until(lambda: len(refusals()) >= 2, 45, "a second refused attempt")
                times = refusals()
                self.assertEqual(len(times), 2)
                self.assertGreaterEqual(times[1] - times[0], 14,
                                        "retried faster than the cap's lower half")
                logs = daemon.logs()
                self.assertEqual(logs.count("refused the connection"), 1, logs[-3000:])
                self.assertNotIn("not-the-password", logs)
                self.assertEqual(status(daemon.state_dir)["broker"]["since"], st["broker"]["since"],
                                 "a repeated refusal rewrote the state")

                # The broker is given the gateway's credentials (mosquitto re-reads its
                # password file on SIGHUP): the next attempt connects and says so.
                passwd(pw, GW, "not-the-password")
                broker.proc.send_signal(signal.SIGHUP)
                sub = MqttClient(broker.port, "platform", clean=True)
                sub.connect = _connect_as(sub, "platform", "platform-secret")
                sub.connect()
                sub.subscribe(f"estate/{SITE}/{GW}/state")
                sub.wait_online(f"estate/{SITE}/{GW}/", timeout=45)
                sub.close()
                wait_until(lambda: status(daemon.state_dir)["broker"]["state"] == "connected", 10,
                           "status: connected")
                self.assertEqual(status(daemon.state_dir)["broker"]["detail"], "")
                self.assertEqual(broker_gauge(http_port)["connected"], 1)
                self.assertEqual(broker_gauge(http_port)["refused"], 0)
                self.assertIn("accepted the connection", daemon.logs())
                self.assertEqual(daemon.stop(), 0)
            finally:
                daemon.kill()
                broker.stop()


def _connect_as(client, user, password):
    """MqttClient.connect with a user name and password (MQTT 3.1.1 §3.1.2.8-9)."""
    import socket
    import struct

    def connect(timeout=10):
        client.sock = socket.create_connection(("127.0.0.1", client.port), timeout=timeout)
        client.buf = b""
        flags = 0x02 | 0x80 | 0x40
        body = (client._str("MQTT") + bytes([4, flags]) + struct.pack("!H", 0) +
                client._str(client.client_id) + client._str(user) + client._str(password))
        client._send(0x10, body)
        ptype, payload = client._read_packet(timeout)
        if ptype >> 4 != 2 or payload[1] != 0:
            raise RuntimeError(f"CONNACK refused: {payload!r}")
        return client

    return connect


if __name__ == "__main__":
    unittest.main()
