"""The daemon under the unit's real file-system sandbox. systemd cannot run units in this
container (no systemd as PID 1: no systemd-run, no nspawn), so the test builds the unit's view
itself, as root, in a private mount namespace (`unshare --mount`): the built binary installed into
a throwaway root as the package does (/usr/bin/estate-edge, the package's tmpfiles.d owners and
modes), the whole root read-only (ProtectSystem=strict) but the unit's ReadWritePaths,
StateDirectory and LogsDirectory, private /tmp and /var/tmp (PrivateTmp), empty read-only /home
and /root (ProtectHome), then chroot, the service user's uid/gid (User=, Group=,
SupplementaryGroups=), UMask= and no new privileges. Every path comes from
systemd/estate-edge.service and systemd/estate-edge.tmpfiles.conf, none is written here.

Under it: a write outside the writable paths fails (read-only file system, also for root), while
cmd/config and cmd/tariffs from a real mosquitto write their drop-ins, `estate-edge backup` and
`estate-edge restore` run as the service user, and the restore brings back the drop-ins and the
list version they belong to. Skipped (with the reason) when not root or without unshare; CI runs
as root."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "..", "systemd", "estate-edge.service")
TMPFILES = os.path.join(HERE, "..", "..", "systemd", "estate-edge.tmpfiles.conf")
SERVICE_UID = 64_321  # the throwaway service user's uid and gid inside the sandbox


def unit_settings(path=UNIT):
    """The unit's [Service] settings: {key: [values, in order]}."""
    out = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key), []).append(value)
    return {k[1]: v for k, v in out.items() if k[0] == "[Service]"}


def sandbox_spec(root, settings):
    """What the sandbox does, derived from the unit: the paths that stay writable (in the
    throwaway root), the user, groups and umask."""
    writable = []
    for value in settings.get("ReadWritePaths", []):
        for p in value.split():
            optional = p.startswith("-")
            writable.append((p.lstrip("-"), optional))
    for key, base in (("StateDirectory", "/var/lib"), ("LogsDirectory", "/var/log"),
                      ("CacheDirectory", "/var/cache")):
        for value in settings.get(key, []):
            for name in value.split():
                writable.append((f"{base}/{name}", False))
    return {
        "root": root,
        "writable": writable,
        "strict": settings.get("ProtectSystem", [""])[-1] == "strict",
        "private_tmp": settings.get("PrivateTmp", [""])[-1] == "yes",
        "protect_home": settings.get("ProtectHome", [""])[-1] == "yes",
        "no_new_privileges": settings.get("NoNewPrivileges", [""])[-1] == "yes",
        "umask": int(settings.get("UMask", ["0022"])[-1], 8),
        "uid": SERVICE_UID,
        "gid": SERVICE_UID,
        "groups": [SERVICE_UID] + [
            _host_gid(g) for v in settings.get("SupplementaryGroups", []) for g in v.split()
            if _host_gid(g) is not None],
    }


def _host_gid(name):
    import grp
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def inside(spec, argv):
    """Runs in a fresh mount namespace as root: builds the unit's view of `spec['root']`, then
    becomes the service user (unless argv[0] is 'as-root') and execs argv."""
    root = spec["root"]

    def mount(*args):
        subprocess.run(["mount", *args], check=True)

    mount("--make-rprivate", "/")
    mount("--bind", root, root)
    mount("--bind", "/usr", root + "/usr")
    mount("-o", "remount,bind,ro", root + "/usr")
    mount("--bind", spec["bin_dir"], root + "/usr/bin")
    mount("-o", "remount,bind,ro", root + "/usr/bin")
    mount("--rbind", "/dev", root + "/dev")
    mount("-t", "proc", "proc", root + "/proc")
    for path, optional in spec["writable"]:
        target = root + path
        if not os.path.isdir(target):
            if optional:
                continue
            raise SystemExit(f"sandbox: {path} (not optional) is missing")
        mount("--bind", target, target)
    if spec["private_tmp"]:
        for p in ("/tmp", "/var/tmp"):
            mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", root + p)
    if spec["protect_home"]:
        for p in ("/home", "/root"):
            mount("-t", "tmpfs", "-o", "ro,mode=0755", "tmpfs", root + p)
    if spec["strict"]:
        mount("-o", "remount,bind,ro", root)
    os.chroot(root)
    os.chdir("/")
    as_root = argv[0] == "as-root"
    if as_root:
        argv = argv[1:]
    else:
        os.setgroups(spec["groups"])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
    os.umask(spec["umask"])
    if spec["no_new_privileges"]:
        import ctypes
        PR_SET_NO_NEW_PRIVS = 38
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if argv[0] == "probe":
        # Tries to create each path; prints {path: "ok" | errno name}.
        import errno
        out = {}
        for p in argv[1:]:
            try:
                with open(p, "w") as f:
                    f.write("x")
                os.unlink(p)
                out[p] = "ok"
            except OSError as e:
                out[p] = errno.errorcode.get(e.errno, str(e.errno))
        print(json.dumps(out), flush=True)
        os._exit(0)
    os.execv(argv[0], argv)


def _sandbox_available():
    if os.geteuid() != 0:
        return "needs root (mount namespaces, chroot, another uid); CI runs it as root"
    for tool in ("unshare", "mount", "mosquitto"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return f"unshare --mount does not work here: {p.stderr.strip()}"
    return None


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--inside":
    with open(sys.argv[2]) as f:
        inside(json.load(f), sys.argv[3:])
    raise SystemExit(0)

import harness  # noqa: E402  (the --inside path above needs none of it)
from harness import Mosquitto, NotifySocket  # noqa: E402
from test_bridge import PREFIX, MqttClient  # noqa: E402

SKIP = _sandbox_available()


@unittest.skipIf(SKIP, SKIP or "")
class Sandbox(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="estate-edge-sandbox-")
        self.root = os.path.join(self.tmp.name, "root")
        settings = unit_settings()
        # ExecStart=/usr/bin/estate-edge run --config <site.yaml> --state-dir <dir>
        exec_start = settings["ExecStart"][-1].split()
        self.binary_path = exec_start[0]
        self.config = exec_start[exec_start.index("--config") + 1]
        self.state_dir = exec_start[exec_start.index("--state-dir") + 1]
        self.user = settings["User"][-1]
        self.spec = sandbox_spec(self.root, settings)
        conf_dir = os.path.dirname(self.config)
        self.conf_d = conf_dir + "/conf.d"  # where the daemon writes its drop-ins
        # The documented backup dir: the writable path that is neither conf.d nor the unit's
        # own directories.
        self.backup_dir = next(p for p, _ in self.spec["writable"]
                               if p != self.conf_d and not p.startswith(("/var/lib/", "/var/log/",
                                                                         "/var/cache/")))
        self.install()

    def tearDown(self):
        if getattr(self, "daemon", None) and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait(10)
        if getattr(self, "notify", None):
            self.notify.close()
        self.tmp.cleanup()

    def host(self, path):
        return self.root + path

    def install(self):
        """The package's layout in the throwaway root: the binary at the unit's ExecStart path,
        the directories tmpfiles.d makes with their owners and modes, an /etc with the service
        user, the site config and the backup key."""
        r = self.root
        for d in ("usr", "dev", "proc", "tmp", "var/tmp", "home", "root", "run/notify", "etc"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            if os.path.islink("/" + link):
                os.symlink(os.readlink("/" + link), os.path.join(r, link))
        self.bin_dir = os.path.join(self.tmp.name, "usr-bin")
        os.makedirs(self.bin_dir)
        shutil.copy2(shutil.which(harness.BINARY) or harness.BINARY,
                     os.path.join(self.bin_dir, os.path.basename(self.binary_path)))
        self.spec["bin_dir"] = self.bin_dir
        uid = gid = SERVICE_UID
        with open(os.path.join(r, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n"
                    f"{self.user}:x:{uid}:{gid}:estate-edge gateway:{self.state_dir}:/nonexistent\n")
        with open(os.path.join(r, "etc/group"), "w") as f:
            f.write(f"root:x:0:\n{self.user}:x:{gid}:\n")
            for name in ("dialout",):
                g = _host_gid(name)
                if g is not None:
                    f.write(f"{name}:x:{g}:{self.user}\n")
        # What the dynamic linker and libc read from /etc (the packaged system's own).
        for name in ("nsswitch.conf", "hosts", "localtime", "ld.so.cache", "ld.so.conf"):
            if os.path.exists("/etc/" + name):
                shutil.copy("/etc/" + name, os.path.join(r, "etc", name))
        for name in ("alternatives", "ld.so.conf.d"):  # library symlinks (BLAS/LAPACK) point here
            if os.path.isdir("/etc/" + name):
                shutil.copytree("/etc/" + name, os.path.join(r, "etc", name), symlinks=True)
        owners = {"root": 0, self.user: uid}
        with open(TMPFILES) as f:
            for line in f:
                fields = line.split()
                if not fields or fields[0].startswith("#") or fields[0] not in ("d", "z"):
                    continue
                kind, path, mode, user, group = fields[:5]
                target = self.host(path)
                if kind == "d":
                    os.makedirs(target, exist_ok=True)
                elif not os.path.exists(target):
                    continue
                os.chown(target, owners[user], owners[group])
                os.chmod(target, int(mode, 8))
        for path, _ in self.spec["writable"]:  # StateDirectory= etc.: systemd makes them
            if not os.path.isdir(self.host(path)):
                os.makedirs(self.host(path), mode=0o750)
                os.chown(self.host(path), uid, gid)

    def write_site(self, broker_url):
        key = os.path.join(os.path.dirname(self.config), "backup.key")
        with open(self.host(key), "wb") as f:
            f.write(os.urandom(32))
        os.chown(self.host(key), SERVICE_UID, SERVICE_UID)
        os.chmod(self.host(key), 0o600)
        with open(self.host(self.config), "w") as f:
            f.write("site:\n  id: test-site\ngateway:\n  id: test-gw\n"
                    f"mqtt:\n  url: {broker_url}\n"
                    f"security:\n  backup:\n    key_file: {key}\n    dir: {self.backup_dir}\n")
        # tmpfiles' z line: the site config read by the service user, written by root.
        with open(TMPFILES) as f:
            for line in f:
                fields = line.split()
                if fields[:2] == ["z", self.config]:
                    os.chmod(self.host(self.config), int(fields[2], 8))
                    os.chown(self.host(self.config), 0, SERVICE_UID)

    def command(self, argv, as_root=False):
        spec = os.path.join(self.tmp.name, "spec.json")
        with open(spec, "w") as f:
            json.dump(self.spec, f)
        return ["unshare", "--mount", "--propagation", "private", "--", sys.executable,
                os.path.abspath(__file__), "--inside", spec] + (["as-root"] if as_root else []) + argv

    def run_in(self, *argv, as_root=False, check=0):
        p = subprocess.run(self.command(list(argv), as_root), capture_output=True, text=True,
                           timeout=120)
        if check is not None and p.returncode != check:
            raise AssertionError(f"{argv}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def probe(self, paths, as_root=False):
        return json.loads(self.run_in("probe", *paths, as_root=as_root).stdout)

    def start_daemon(self):
        self.notify = NotifySocket(self.host("/run/notify"))
        os.chmod(self.notify.path, 0o777)
        env = dict(os.environ, NOTIFY_SOCKET="/run/notify/notify.sock")
        env.pop("JOURNAL_STREAM", None)
        self.log = open(os.path.join(self.tmp.name, "daemon.log"), "a")
        argv = [self.binary_path, "run", "--config", self.config, "--state-dir", self.state_dir]
        self.daemon = subprocess.Popen(self.command(argv), stdout=self.log,
                                       stderr=subprocess.STDOUT, env=env)
        self.notify.wait_for(lambda m: m.get("READY") == "1", 30, "READY=1")

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        rc = self.daemon.wait(60)
        self.notify.close()
        os.unlink(self.notify.path)
        self.notify = None
        self.log.close()
        return rc

    def logs(self):
        with open(os.path.join(self.tmp.name, "daemon.log")) as f:
            return f.read()

    def test_unit_sandbox_writes_only_where_it_may_and_everything_works(self):
        # The sandbox is real: outside the writable paths nothing can be created, also not by
        # root (a read-only file system, not only permissions); inside them the service user can.
        outside = [self.config + ".new", os.path.dirname(self.config) + "/x",
                   "/usr/x", "/var/lib/x", "/etc/x"]
        for who, result in (("service user", self.probe(outside)),
                            ("root", self.probe(outside, as_root=True))):
            for path in outside:
                self.assertIn(result[path], ("EROFS",) if who == "root" else ("EROFS", "EACCES"),
                              f"{who} could write {path}: {result}")
        inside_paths = [p + "/probe" for p in (self.conf_d, self.backup_dir, self.state_dir)]
        self.assertEqual(self.probe(inside_paths), {p: "ok" for p in inside_paths})
        # PrivateTmp: the sandbox's /tmp is its own.
        self.assertEqual(self.probe(["/tmp/private"]), {"/tmp/private": "ok"})
        self.assertEqual(os.listdir(self.host("/tmp")), [])

        broker = Mosquitto(self.tmp.name).start()
        platform = MqttClient(broker.port, "platform-sandbox", clean=True).connect()
        try:
            platform.subscribe(PREFIX + "acks")
            platform.subscribe(PREFIX + "state")
            self.write_site(broker.url)
            self.run_in(self.binary_path, "check-config", self.config)
            self.start_daemon()
            platform.wait_online(PREFIX)

            def tariffs(version, price):
                ack = platform.command(PREFIX, "tariffs", {
                    "v": 1, "id": f"tar-{version}", "version": version, "items": [
                        {"key": "water-2027", "quantity": "water", "unit": "m3",
                         "price": price}]})
                self.assertIsNotNone(ack, "no ack for cmd/tariffs")
                self.assertTrue(ack["ok"], ack)

            ack = platform.command(PREFIX, "config", {"v": 1, "id": "cfg-1",
                                                      "yaml": "logging:\n  level: debug\n"})
            self.assertIsNotNone(ack, "no ack for cmd/config")
            self.assertTrue(ack["ok"], ack)
            tariffs(1, "5.00")
            tariffs_file = self.host(self.conf_d + "/80-platform-tariffs.yaml")
            with open(tariffs_file) as f:
                v1 = f.read()
            self.assertIn('"5.00"', v1)
            for name in ("80-platform-tariffs.yaml", "90-platform.yaml"):
                st = os.stat(self.host(self.conf_d + "/" + name))
                self.assertEqual((st.st_uid, st.st_gid), (SERVICE_UID, SERVICE_UID), name)

            # A backup beside the running daemon, as the service user.
            backup = self.backup_dir + "/manual.eebak"
            p = self.run_in(self.binary_path, "backup", "--config", self.config, "--state-dir",
                            self.state_dir, "--to", backup, "--json")
            self.assertEqual(json.loads(p.stdout)["conf_d"],
                             ["80-platform-tariffs.yaml", "90-platform.yaml"])
            self.assertEqual(os.stat(self.host(backup)).st_uid, SERVICE_UID)

            tariffs(2, "6.00")
            self.assertEqual(self.stop_daemon(), 0)

            # The restore, as the service user, puts the drop-ins and the list version back.
            p = self.run_in(self.binary_path, "restore", "--config", self.config, "--state-dir",
                            self.state_dir, "--from", backup, "--json")
            r = json.loads(p.stdout)
            self.assertEqual(r["conf_d"]["restored"],
                             ["80-platform-tariffs.yaml", "90-platform.yaml"])
            with open(tariffs_file) as f:
                self.assertEqual(f.read(), v1)
            st = os.stat(tariffs_file)
            self.assertEqual((st.st_uid, st.st_gid), (SERVICE_UID, SERVICE_UID))
            rows = harness.query(self.host(self.state_dir + "/estate-edge.db"),
                                 "SELECT version FROM bridge_lists WHERE name = 'tariffs'")
            self.assertEqual(rows, [(1,)])

            # And the daemon starts again on the restored state, taking version 2 anew.
            self.start_daemon()
            platform.wait_online(PREFIX)
            tariffs(2, "6.50")
            with open(tariffs_file) as f:
                self.assertIn('"6.50"', f.read())
            self.assertEqual(self.stop_daemon(), 0)
        except BaseException:
            sys.stderr.write("--- daemon log:\n" + (self.logs() if os.path.exists(
                os.path.join(self.tmp.name, "daemon.log")) else "") + "\n")
            raise
        finally:
            platform.close()
            broker.stop()


if __name__ == "__main__":
    unittest.main()
