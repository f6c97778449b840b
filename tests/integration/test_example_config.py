"""The annotated example site (config/site.example.yaml) against the real binary: as shipped,
check-config refuses exactly its placeholder secrets (two camera secrets, three token hashes),
each named with file:line:column; a copy with secrets of its own passes with no warning; a
misspelt top-level key in a copy is named with file:line:column, and conf.d drop-ins beside a
copy are merged and checked as docs/config.md says."""

import hashlib
import os
import re
import secrets
import unittest

from harness import SOURCE_DIR, run_cli, tempdir

EXAMPLE = os.path.join(SOURCE_DIR, "config", "site.example.yaml")


PLACEHOLDER_SECRETS = ("change-me-entry-camera", "change-me-exit-camera")
PLACEHOLDER_TOKENS = ("change-me-kiosk", "change-me-technician", "change-me-admin")


def copy_example(directory):
    """A copy of the example with every placeholder replaced, as a technician does."""
    path = os.path.join(directory, "site.yaml")
    with open(EXAMPLE) as f:
        text = f.read()
    for placeholder in PLACEHOLDER_SECRETS:
        text = text.replace(placeholder, secrets.token_hex(16))
    for placeholder in PLACEHOLDER_TOKENS:
        text = text.replace(hashlib.sha256(placeholder.encode()).hexdigest(),
                            hashlib.sha256(secrets.token_hex(16).encode()).hexdigest())
    with open(path, "w") as f:
        f.write(text)
    return path


def position_of(path, needle):
    """(line, column), 1-based, of the first occurrence of `needle` in `path`."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if needle in line:
                return n, line.index(needle) + 1
    raise AssertionError(f"no {needle!r} in {path}")


def line_of(path, prefix):
    """1-based number of the first line of `path` that starts with `prefix`."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith(prefix):
                return n
    raise AssertionError(f"no line starting with {prefix!r} in {path}")


def summary(stdout):
    m = re.search(r": ok \(site (\S+), gateway (\S+), (\d+) buses, (\d+) devices, (\d+) files\)",
                  stdout)
    if not m:
        raise AssertionError(f"no check-config summary in {stdout!r}")
    return m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))


class ExampleConfig(unittest.TestCase):
    def test_example_as_shipped_is_refused_for_its_placeholders_only(self):
        p = run_cli("check-config", EXAMPLE, check=2)
        self.assertEqual(p.stdout, "")
        expected = []
        for placeholder in PLACEHOLDER_SECRETS:
            line, col = position_of(EXAMPLE, f'"{placeholder}"')
            expected.append(re.escape(f"{EXAMPLE}:{line}:{col}: devices[") + r"\d+" +
                            re.escape("].secret: this is a placeholder: put a random secret of at "
                                      "least 128 bits here (openssl rand -hex 16)"))
        for i, token in enumerate(PLACEHOLDER_TOKENS):
            digest = hashlib.sha256(token.encode()).hexdigest()
            line, col = position_of(EXAMPLE, f'"{digest}"')
            expected.append(re.escape(f"{EXAMPLE}:{line}:{col}: http.tokens[{i}].sha256: the hash "
                                      "of a placeholder token: make a token of at least 128 bits "
                                      '(openssl rand -hex 16) and put its printf %s "$TOKEN" | '
                                      "sha256sum"))
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), len(expected) + 1, p.stderr)
        for pattern, got in zip(expected, lines):
            self.assertRegex(got, "^" + pattern + "$")
        self.assertEqual(lines[-1], "5 error(s)")
        # The values themselves are never repeated.
        for placeholder in PLACEHOLDER_SECRETS:
            self.assertNotIn(placeholder, p.stderr)

    def test_example_with_own_secrets_passes_check_config(self):
        with tempdir() as d:
            p = run_cli("check-config", copy_example(d), check=0)
        site, gateway, buses, devices, _ = summary(p.stdout)
        self.assertEqual((site, gateway), ("sunrise-garden", "sg-gw-01"))
        self.assertGreater(buses, 0)
        self.assertGreater(devices, 0)
        self.assertEqual(p.stderr, "")

    def test_misspelt_top_level_key_names_file_line_column(self):
        with tempdir() as d:
            path = copy_example(d)
            line = line_of(path, "storage:")
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("\nstorage:\n", "\nstorag:\n", 1))
            p = run_cli("check-config", path, check=2)
            self.assertIn(f"{path}:{line}:1: storag: unknown key (did you mean 'storage'?)",
                          p.stderr)
            self.assertEqual(p.stdout, "")

    def test_dropins_are_appended_and_checked(self):
        with tempdir() as d:
            path = copy_example(d)
            _, _, buses, devices, files = summary(run_cli("check-config", path, check=0).stdout)
            self.assertEqual(files, 1)
            os.mkdir(os.path.join(d, "conf.d"))
            dropin = os.path.join(d, "conf.d", "10-building-2.yaml")
            with open(dropin, "w") as f:
                f.write("buses:\n"
                        "  - { id: b2-dlt645, kind: serial, protocol: dlt645, device: /dev/ttyUSB9 }\n"
                        "devices:\n"
                        "  - { id: 2-1-101-power, kind: meter, bus: b2-dlt645,\n"
                        "      address: \"230610020101\", medium: electricity }\n"
                        "accounts:\n"
                        "  - room: \"2-1-101\"\n"
                        "    meters: [{ meter: 2-1-101-power, tariff: power-res }]\n"
                        "logging:\n"
                        "  level: debug\n")
            # Not *.yaml / *.yml: ignored.
            with open(os.path.join(d, "conf.d", "90-off.yaml.off"), "w") as f:
                f.write("nonsense: [\n")
            p = run_cli("check-config", path, check=0)
            self.assertEqual(summary(p.stdout)[2:], (buses + 1, devices + 1, 2))

            # A device id already defined in the main file: named in the drop-in, with the
            # place of the first definition.
            with open(os.path.join(d, "conf.d", "20-dup.yaml"), "w") as f:
                f.write("devices:\n  - { id: gate-in, kind: gate, lane: exit }\n")
            p = run_cli("check-config", os.path.join(d, "site.yaml"), check=2)
            dup = os.path.join(d, "conf.d", "20-dup.yaml")
            self.assertRegex(p.stderr, re.escape(f"{dup}:2:5: devices.gate-in: duplicate device id; "
                                                 f"first defined at {path}:") + r"\d+:\d+")


if __name__ == "__main__":
    unittest.main()
