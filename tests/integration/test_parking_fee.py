"""`estate-edge parking fee` end to end: JSON breakdown, text output, exit codes and
file:line:column errors, and the same rules accepted inside a site config by check-config."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

RULES = """parking_rules:
  - id: visitor
    free_minutes: 30
    unit_minutes: 60
    unit_price_fen: 500
    daily_cap_fen: 2000
"""


def fee(rules, *extra, check=0):
    return harness.run_cli("parking", "fee", "--rules", rules, *extra, check=check)


def main():
    with harness.tempdir() as d:
        rules = os.path.join(d, "rules.yaml")
        with open(rules, "w") as f:
            f.write(RULES)
        # 24 h 1 s: window 0 is capped at 2000, window 1 holds one unit of 500.
        p = fee(rules, "--id", "visitor", "--entry", "2026-03-01T08:00:00+08:00",
                "--exit", "2026-03-02T08:00:01+08:00", "--json")
        j = json.loads(p.stdout)
        assert j["fee_fen"] == 2500, j
        assert j["units"] == 25, j
        assert [w["charged_fen"] for w in j["windows"]] == [2000, 500], j
        assert j["windows"][0]["daily_capped"] is True, j

        # Free time boundary, with the exit written in another offset (00:30Z = 08:30+08:00).
        p = fee(rules, "--id", "visitor", "--entry", "2026-03-01T08:00:00+08:00",
                "--exit", "2026-03-01T00:30:00Z", "--json")
        assert json.loads(p.stdout)["fee_fen"] == 0, p.stdout

        p = fee(rules, "--id", "visitor", "--entry", "2026-03-01T08:00+08:00",
                "--exit", "2026-03-01T08:30:01+08:00")
        assert "5.00 yuan (500 fen)" in p.stdout, p.stdout

        # Exit before entry: exit code 2 and a message.
        p = fee(rules, "--id", "visitor", "--entry", "2026-03-01T08:00:00+08:00",
                "--exit", "2026-03-01T07:59:59+08:00", check=2)
        assert "before the entry" in p.stderr, p.stderr
        # A time without an offset, an unknown rule: exit code 2.
        p = fee(rules, "--id", "visitor", "--entry", "2026-03-01T08:00:00",
                "--exit", "2026-03-01T09:00:00+08:00", check=2)
        assert "--entry" in p.stderr and "offset" in p.stderr, p.stderr
        p = fee(rules, "--id", "nobody", "--entry", "2026-03-01T08:00:00+08:00",
                "--exit", "2026-03-01T09:00:00+08:00", check=2)
        assert "no parking rule with id 'nobody'" in p.stderr, p.stderr

        # A bad rules file: every error with file:line:column, exit code 2.
        bad = os.path.join(d, "bad.yaml")
        with open(bad, "w") as f:
            f.write(RULES.replace("unit_minutes: 60", "unit_minutes: 0")
                    .replace("daily_cap_fen", "daily_cap"))
        p = fee(bad, "--id", "visitor", "--entry", "2026-03-01T08:00:00+08:00",
                "--exit", "2026-03-01T09:00:00+08:00", check=2)
        assert f"{bad}:4:19: parking_rules[0].unit_minutes: 0 is out of range" in p.stderr, \
            p.stderr
        assert f"{bad}:6:5: parking_rules[0].daily_cap: unknown key" in p.stderr, p.stderr

        # The same section in a site config is validated by check-config.
        site = harness.minimal_config(d, extra=RULES.replace("unit_price_fen: 500",
                                                             "unit_price_fen: -1"))
        p = harness.run_cli("check-config", site, check=2)
        assert "parking_rules[0].unit_price_fen: -1 is out of range" in p.stderr, p.stderr
        site = harness.minimal_config(d, name="ok.yaml", extra=RULES +
                                      "access:\n  arrears:\n    1: warn\n    3: deny\n")
        harness.run_cli("check-config", site, check=0)
        p = fee(site, "--id", "visitor", "--entry", "2026-03-01T08:00:00+08:00",
                "--exit", "2026-03-01T09:00:00+08:00", "--json")
        assert json.loads(p.stdout)["fee_fen"] == 500, p.stdout
    print("ok")


if __name__ == "__main__":
    main()
