"""Every device family checks its settings when the config loads (drivers/device_families.cpp),
so check-config refuses what `run` would refuse. For each family (a meter per protocol: modbus,
mbus, dlt645, cjt188; gate; io_module; card_reader; camera; pos; printer) one config with one
bad value: check-config exits 2 naming file:line:column of the value and devices.<id>.<key>,
and `run` on the same file refuses too, with the same line. A config with a good device of
every family passes."""

import os
import unittest

from harness import run_cli, tempdir

SECRET = "a2aabfa8f455a033225c4a444f7ffec3"  # 128 bits

BASE = """site:
  id: test-site
gateway:
  id: test-gw
buses:
  - {id: mb, kind: tcp, protocol: modbus, host: 127.0.0.1, port: 1502}
  - {id: mbus, kind: serial, protocol: mbus, device: /dev/null}
  - {id: dlt, kind: serial, protocol: dlt645, device: /dev/null}
  - {id: cjt, kind: serial, protocol: cjt188, device: /dev/null}
  - {id: cards, kind: serial, protocol: card, device: /dev/null}
  - {id: barriers, kind: serial, protocol: barrier, device: /dev/null}
  - {id: io-bus, kind: tcp, protocol: modbus, host: 127.0.0.1, port: 1503}
  - {id: pos-link, kind: tcp, protocol: pos, host: 127.0.0.1, port: 1504}
  - {id: printer-link, kind: tcp, protocol: escpos, host: 127.0.0.1, port: 1505}
devices:
  - {id: io-1, kind: io_module, bus: io-bus, address: "1"}
  - {id: gate-in, kind: gate, lane: entry, relay: "io-1:0", loop_input: "io-1:1"}
"""

# One good device per family: together they pass check-config.
GOOD = [
    '{id: m-modbus, kind: meter, bus: mb, address: "1", medium: electricity, model: eastron-sdm630}',
    '{id: m-mbus, kind: meter, bus: mbus, address: "12345678", medium: heat}',
    '{id: m-dlt, kind: meter, bus: dlt, address: "230610000101", medium: electricity}',
    '{id: m-cjt, kind: meter, bus: cjt, address: "12345678901234", medium: water}',
    '{id: gate-out, kind: gate, lane: exit, barrier: serial_controller, bus: barriers, address: "2"}',
    '{id: io-2, kind: io_module, bus: io-bus, address: "2"}',
    '{id: r1, kind: card_reader, bus: cards, gate: gate-in, address: "1"}',
    f'{{id: cam, kind: camera, model: vzenith, gate: gate-in, secret: "{SECRET}"}}',
    '{id: pos-1, kind: pos, bus: pos-link, model: transbank-integrado}',
    '{id: printer-1, kind: printer, bus: printer-link, model: 58mm}',
]

# (family, the device with one bad value, its key, the bad value as written, the message)
BAD = [
    ("meter/modbus",
     '{id: m-modbus, kind: meter, bus: mb, address: "1", medium: electricity, model: no-such-map}',
     "model", "no-such-map", "unknown Modbus model 'no-such-map'"),
    ("meter/mbus",
     '{id: m-mbus, kind: meter, bus: mbus, address: "ABCDEF0123456789", medium: heat}',
     "address", '"ABCDEF0123456789"',
     "'ABCDEF0123456789' is neither an M-Bus primary address (0..250) nor a secondary address"),
    ("meter/dlt645",
     '{id: m-dlt, kind: meter, bus: dlt, address: "2306100001", medium: electricity}',
     "address", '"2306100001"', "a DL/T 645 address is 12 digits, got '2306100001'"),
    ("meter/cjt188",
     '{id: m-cjt, kind: meter, bus: cjt, address: "1234", medium: water}',
     "address", '"1234"', "a CJ/T 188 address is 14 digits, got '1234'"),
    ("meter on a bus of no meter protocol",
     '{id: m-card, kind: meter, bus: cards, address: "1", medium: water}',
     "bus", "cards", "'cards' speaks card, not a meter protocol"),
    ("gate",
     '{id: gate-out, kind: gate, barrier: serial_controller, bus: barriers, address: "2", model: acme}',
     "model", "acme", "unknown barrier controller model 'acme' (known: generic-485, aa55-sum)"),
    ("gate options",
     '{id: gate-out, kind: gate, relay: "io-1:2", options: {open_timeout_s: 0}}',
     "options.open_timeout_s", "0", "expected an integer from 1 to 3600, got '0'"),
    ("io_module",
     '{id: io-2, kind: io_module, bus: io-bus, address: "300"}',
     "address", '"300"', "a Modbus unit is 1..247, got '300'"),
    ("card_reader",
     '{id: r1, kind: card_reader, bus: cards, gate: gate-in, model: mifare-x}',
     "model", "mifare-x", "unknown card reader model 'mifare-x'"),
    ("card_reader address",
     '{id: r1, kind: card_reader, bus: cards, gate: gate-in, address: "256"}',
     "address", '"256"', "a generic-485 reader needs its bus address 0..255, got '256'"),
    ("camera",
     f'{{id: cam, kind: camera, model: vzenith, gate: io-1, secret: "{SECRET}"}}',
     "gate", "io-1", "'io-1' is not a gate device"),
    ("camera model empty",  # a camera names its push format: none is assumed
     f'{{id: cam, kind: camera, model: "", gate: gate-in, secret: "{SECRET}"}}',
     "model", '""', "a camera needs its model, the format of its plate pushes (known: vzenith, "
     "hikvision-isapi, generic-json, json-fields)"),
    ("camera json-fields pointer",
     f'{{id: cam, kind: camera, model: json-fields, gate: gate-in, secret: "{SECRET}", '
     'options: {plate: /data/plate, colour: data.colour}}',
     "options.colour", "data.colour",
     "expected a JSON pointer (RFC 6901) such as /result/plate, got 'data.colour'"),
    ("camera json-fields plate",
     f'{{id: cam, kind: camera, model: json-fields, gate: gate-in, secret: "{SECRET}", '
     'options: {plate: "plate"}}',
     "options.plate", '"plate"',
     "expected a JSON pointer (RFC 6901) such as /result/plate, got 'plate'"),
    ("pos",  # the invented format of earlier builds is no protocol of any terminal
     '{id: pos-1, kind: pos, bus: pos-link, model: generic}',
     "model", "generic", "unknown POS protocol 'generic' (known: transbank-integrado)"),
    ("pos options",
     '{id: pos-1, kind: pos, bus: pos-link, model: transbank-integrado, options: {unknown_retry_ms: 0}}',
     "options.unknown_retry_ms", "0", "expected an integer from 100 to 3600000, got '0'"),
    ("printer",
     '{id: printer-1, kind: printer, bus: printer-link, model: 76mm}',
     "model", "76mm", "a printer's model is its paper width, 58mm or 80mm, got '76mm'"),
]


def write(directory, devices):
    path = os.path.join(directory, "site.yaml")
    with open(path, "w") as f:
        f.write(BASE + "".join(f"  - {d}\n" for d in devices))
    return path


def place(path, device_id, key, value):
    """file:line:column of `key: value` on the line of device `device_id` (1-based)."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if f"id: {device_id}," in line:
                needle = f"{key.split('.')[-1]}: {value}"
                return f"{path}:{n}:{line.index(needle) + len(needle) - len(value) + 1}"
    raise AssertionError(f"no device {device_id} in {path}")


class CheckConfigDevices(unittest.TestCase):
    def test_a_good_device_of_every_family_passes(self):
        with tempdir() as d:
            p = run_cli("check-config", write(d, GOOD), check=0)
            self.assertIn("ok (site test-site", p.stdout)

    def test_one_bad_value_per_family_is_refused_by_check_config_and_run(self):
        families = set()
        for family, device, key, value, message in BAD:
            families.add(family.split(" ")[0])
            with self.subTest(family=family), tempdir() as d:
                device_id = device.split(",")[0].split(": ")[1]
                # The good devices of the other families stay in: only this value is wrong.
                others = [g for g in GOOD if not g.startswith(f"{{id: {device_id},")]
                path = write(d, others + [device])
                where = place(path, device_id, key, value)
                expected = f"{where}: devices.{device_id}.{key}: {message}"
                p = run_cli("check-config", path, check=2)
                self.assertIn(expected, p.stderr)
                self.assertEqual(p.stderr.count(": devices."), 1, p.stderr)
                self.assertEqual(p.stdout, "")
                # Nothing check-config refuses is left for `run` to find, and nothing `run`
                # refuses passes check-config: the same file, the same line.
                r = run_cli("run", "--config", path, "--state-dir", os.path.join(d, "state"),
                            timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(expected, r.stderr)
        self.assertEqual(families, {"meter/modbus", "meter/mbus", "meter/dlt645", "meter/cjt188",
                                    "meter", "gate", "io_module", "card_reader", "camera", "pos",
                                    "printer"})

    def test_a_camera_without_a_model_is_refused_at_its_mapping(self):
        # No default push format: the error points at the device (the key is absent) and lists
        # the models; check-config and run alike.
        with tempdir() as d:
            others = [g for g in GOOD if not g.startswith("{id: cam,")]
            path = write(d, others + [f'{{id: cam, kind: camera, gate: gate-in, secret: "{SECRET}"}}'])
            with open(path) as f:
                line = next(n for n, text in enumerate(f, 1) if "{id: cam," in text)
            expected = (f"{path}:{line}:5: devices.cam.model: a camera needs its model, the format "
                        "of its plate pushes (known: vzenith, hikvision-isapi, generic-json, "
                        "json-fields)")
            p = run_cli("check-config", path, check=2)
            self.assertIn(expected, p.stderr)
            self.assertEqual(p.stderr.count(": devices."), 1, p.stderr)
            r = run_cli("run", "--config", path, "--state-dir", os.path.join(d, "state"),
                        timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(expected, r.stderr)

    def test_a_json_fields_camera_without_its_plate_is_refused(self):
        with tempdir() as d:
            others = [g for g in GOOD if not g.startswith("{id: cam,")]
            path = write(d, others + [f'{{id: cam, kind: camera, model: json-fields, gate: gate-in, '
                                      f'secret: "{SECRET}", options: {{colour: /c}}}}'])
            with open(path) as f:
                line = next(n for n, text in enumerate(f, 1) if "{id: cam," in text)
            p = run_cli("check-config", path, check=2)
            self.assertIn(f"{path}:{line}:5: devices.cam.options.plate: a json-fields camera needs "
                          "the JSON pointer of its plate", p.stderr)
            # With its plate it passes.
            path = write(d, others + [f'{{id: cam, kind: camera, model: json-fields, gate: gate-in, '
                                      f'secret: "{SECRET}", options: {{plate: /p, colour: /c}}}}'])
            run_cli("check-config", path, check=0)


if __name__ == "__main__":
    unittest.main()
