"""`estate-edge tariff quote` and the billing sections of check-config, against the real binary."""

import json
import os
import unittest

from harness import minimal_config, run_cli, tempdir

TARIFFS = """tariffs:
  - id: water-res          # unique
    quantity: water
    unit: m3
    cycle: year
    tiers:
      - { upto: 180, price: "5.00" }
      - { upto: 260, price: "7.00" }
      - { price: "9.00" }
  - id: power-flat
    quantity: electricity
    unit: kWh
    price: "0.5883"
  - id: power-tou
    quantity: electricity
    unit: kWh
    cycle: month
    periods:
      - { name: peak, times: ["08:00-12:00", "17:00-21:00"], price: "0.9500" }
      - { name: flat, times: ["12:00-17:00", "21:00-23:00"], price: "0.6500" }
      - name: valley
        times: ["23:00-08:00"]
        tiers:
          - { upto: 100, price: "0.3500" }
          - { price: "0.4500" }
"""


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def quote(path, *args, check=0):
    p = run_cli("tariff", "quote", "--tariffs", path, *args, "--json", check=check)
    return json.loads(p.stdout) if check == 0 else p


class TariffQuote(unittest.TestCase):
    def test_tiered_split_across_tiers(self):
        with tempdir() as d:
            f = write(d, "tariffs.yaml", TARIFFS)
            # 100 m3 after 150: 30 x 5.00 + 70 x 7.00 = 640.00
            j = quote(f, "--id", "water-res", "--usage", "100", "--cycle-usage-before", "150")
            self.assertEqual(j["total_fen"], 64000)
            self.assertEqual(j["lines"], [
                {"tier": 1, "usage": "30.000", "price": "5.0000", "amount": "150.00"},
                {"tier": 2, "usage": "70.000", "price": "7.0000", "amount": "490.00"}])
            # All three tiers, from zero.
            j = quote(f, "--id", "water-res", "--usage", "300", "--cycle-usage-before", "0")
            self.assertEqual(j["total_fen"], 182000)
            self.assertEqual([l["tier"] for l in j["lines"]], [1, 2, 3])
            # Exactly half a fen rounds up, once: 0.001 m3 x 5.00 = 0.005 yuan.
            j = quote(f, "--id", "water-res", "--usage", "0.001", "--cycle-usage-before", "0")
            self.assertEqual(j["total_fen"], 1)
            self.assertEqual(j["lines"][0]["amount"], "0.005")
            # Zero usage costs nothing and has no lines.
            j = quote(f, "--id", "water-res", "--usage", "0", "--cycle-usage-before", "200")
            self.assertEqual(j, {"total_fen": 0, "exact": "0.00", "lines": []})

    def test_flat_and_time_of_use(self):
        with tempdir() as d:
            f = write(d, "tariffs.yaml", TARIFFS)
            j = quote(f, "--id", "power-flat", "--usage", "123.456", "--cycle-usage-before", "0")
            # 123.456 x 0.5883 = 72.6291648 -> 72.63
            self.assertEqual(j["total_fen"], 7263)
            self.assertEqual(j["exact"], "72.6291648")
            j = quote(f, "--id", "power-tou", "--usage", "10", "--cycle-usage-before", "0",
                      "--at", "2026-11-23T08:00:00+08:00")
            self.assertEqual(j["lines"], [{"tier": 1, "period": "peak", "usage": "10.000",
                                           "price": "0.9500", "amount": "9.50"}])
            j = quote(f, "--id", "power-tou", "--usage", "10", "--cycle-usage-before", "95",
                      "--at", "2026-11-23T07:59:59+08:00")
            self.assertEqual(j["total_fen"], 400)  # 5 x 0.35 + 5 x 0.45
            self.assertEqual([(l["period"], l["tier"]) for l in j["lines"]],
                             [("valley", 1), ("valley", 2)])
            p = run_cli("tariff", "quote", "--tariffs", f, "--id", "power-tou", "--usage", "1",
                        "--cycle-usage-before", "0", check=2)
            self.assertIn("time-of-use", p.stderr)
            # People get an aligned table.
            p = run_cli("tariff", "quote", "--tariffs", f, "--id", "water-res", "--usage", "200",
                        "--cycle-usage-before", "0", check=0)
            self.assertIn("total 1040.00 yuan (104000 fen", p.stdout)

    def test_bad_input_exits_2_naming_file_and_line(self):
        with tempdir() as d:
            bad = write(d, "bad.yaml", TARIFFS.replace('{ upto: 260, price: "7.00" }',
                                                       '{ upto: 170, price: "7.00" }'))
            p = quote(bad, "--id", "water-res", "--usage", "1", "--cycle-usage-before", "0",
                      check=2)
            self.assertIn(f"{bad}:8:17: tariffs[0].tiers[1].upto: tiers must be strictly increasing",
                          p.stderr)
            self.assertEqual(p.stdout, "")
            f = write(d, "tariffs.yaml", TARIFFS)
            for args, needle in [
                (["--id", "nope", "--usage", "1", "--cycle-usage-before", "0"], "no tariff with id 'nope'"),
                (["--id", "water-res", "--usage", "1.0001", "--cycle-usage-before", "0"], "--usage"),
                (["--id", "water-res", "--usage", "-1", "--cycle-usage-before", "0"], "negative"),
                (["--id", "power-tou", "--usage", "1", "--cycle-usage-before", "0", "--at", "25:00"], "--at"),
            ]:
                p = quote(f, *args, check=2)
                self.assertIn(needle, p.stderr)
            p = quote(os.path.join(d, "missing.yaml"), "--id", "x", "--usage", "1",
                      "--cycle-usage-before", "0", check=2)
            self.assertIn("missing.yaml", p.stderr)

    def test_site_config_tariffs_work_and_are_checked(self):
        with tempdir() as d:
            site = minimal_config(d, extra=TARIFFS)
            j = quote(site, "--id", "water-res", "--usage", "1", "--cycle-usage-before", "180")
            self.assertEqual(j["total_fen"], 700)
            run_cli("check-config", site, check=0)
            bad = minimal_config(d, name="bad-site.yaml",
                                 extra=TARIFFS.replace('price: "0.5883"', 'price: "-0.5883"'))
            p = run_cli("check-config", bad, check=2)
            self.assertIn(f"{bad}:17:12: tariffs[1].price: price must not be negative", p.stderr)


if __name__ == "__main__":
    unittest.main()
