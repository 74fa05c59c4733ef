"""The ``script`` report: the commands that fix the failures, for a person to review and run.
Run here with a stand-in ``az`` that records its arguments, so what the script would do is
checked, argument by argument."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]
FAKE_AZ = """#!/bin/sh
for arg in "$@"; do printf '%s\\037' "$arg"; done >> "$AZ_LOG"
printf '\\n' >> "$AZ_LOG"
"""


@dataclass
class Ran:
    returncode: int
    stderr: str
    calls: list[list[str]]
    leftovers: list[str]


def run_script(text: str) -> Ran:
    """Run a script with an ``az`` that only writes down its arguments, in an empty folder."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        (where / "bin").mkdir()
        az = where / "bin" / "az"
        az.write_text(FAKE_AZ, encoding="utf-8")
        az.chmod(0o755)
        script = where / "fix.sh"
        script.write_text(text, encoding="utf-8")
        checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        run = subprocess.run(["sh", str(script)], capture_output=True, text=True, cwd=where / "bin", check=False,
                             env={"PATH": f"{where / 'bin'}:/usr/bin:/bin", "AZ_LOG": str(where / "az.log")})
        log = (where / "az.log").read_text("utf-8") if (where / "az.log").exists() else ""
        calls = [line.split("\x1f")[:-1] for line in log.splitlines()]
        leftovers = sorted(p.name for p in (where / "bin").iterdir() if p.name != "az")
    return Ran(run.returncode, run.stderr, calls, leftovers)


def test_the_script_fixes_each_failure_once_per_subscription(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "fix.sh"
    assert cli("scan", "-o", str(out)).code == 1
    text = out.read_text("utf-8")
    assert text.startswith("#!/bin/sh\n") and "policyengine has run none of them" in text
    ran = run_script(text)
    assert ran.returncode == 0 and ran.leftovers == []
    switches = [call for call in ran.calls if call[:2] == ["account", "set"]]
    assert [s[-1] for s in switches] == ["1e7b4c60-2a9f-4d35-8c18-93b5e0f6a2d4", "8c3f2a91-5d4e-4b7a-9e21-6f0c3d8a7b12",
                                         "d5a09e37-6c2b-48f1-a7e4-0b9c2f8d1e53"]
    fixes = [call for call in ran.calls if call[:2] != ["account", "set"]]
    # 81 failures. The original set's 15 give 12 commands: the plan fix serves PG-SUB-001 and
    # two PG-FLEX-004s, and the e-mail fix (PG-SINGLE-005) needs an address the input does not
    # hold: commented out, not run. The 4 firewall-rule failures (PG-FLEX-010, -011) give a
    # delete each; the 9 alert-recipient failures (PG-FLEX-017, PG-SUB-002) one contact update
    # per subscription, 2. The 53 posture failures of PG-FLEX-005..009 and -012..016 give 41:
    # a geo-redundant backup (11) needs a new server's name and a major-version upgrade (1) a
    # target version, so those 12 are commented out.
    assert len(fixes) == (15 - 2 - 1) + 4 + 2 + (53 - 12)
    assert "# az postgres flexible-server restore --resource-group rg-orders-prod --name <new-server>" in \
        text.replace(" \\\n", " ")
    assert fixes.count(["security", "pricing", "create", "-n", "OpenSourceRelationalDatabases", "--tier",
                        "standard", "--subscription", "1e7b4c60-2a9f-4d35-8c18-93b5e0f6a2d4"]) == 1
    assert ["postgres", "flexible-server", "parameter", "set", "--resource-group", "rg-orders-staging",
            "--server-name", "pg-orders-staging-01", "--name", "require_secure_transport", "--value", "on"] in fixes
    assert "# Not run: the input does not hold every value" in text
    assert "<security-team@example.com>" in text


def test_a_template_failure_points_at_the_file(cli: Callable[..., Result], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "fix.sh"
    monkeypatch.chdir(ROOT)
    cli("scan", "examples/templates/flexible-insecure.json", "-o", str(out))
    text = out.read_text("utf-8")
    assert "# Declared in templates and plans: fix the file, then deploy it." in text
    assert "# examples/templates/flexible-insecure.json:" in text
    assert run_script(text).calls == []


def test_a_hostile_name_is_quoted_never_run(tmp_path: Path) -> None:
    # A resource group named to break out of the command: it reaches az as one argument.
    evil = "rg; touch pwned $(touch pwned2) `touch pwned3`"
    rid = (f"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/{evil}/providers/"
           "Microsoft.DBforPostgreSQL/flexibleServers/pg")
    estate = tmp_path / "estate.json"
    estate.write_text(json.dumps([
        {"id": rid, "type": "microsoft.dbforpostgresql/flexibleservers", "name": "pg", "properties": {}},
        {"id": f"{rid}/configurations/require_secure_transport", "name": "require_secure_transport",
         "type": "microsoft.dbforpostgresql/flexibleservers/configurations", "properties": {"value": "off"}}]),
        encoding="utf-8")
    out = tmp_path / "fix.sh"
    done = subprocess.run([sys.executable, "-m", "policyengine", "scan", str(estate), "--rule", "PG-FLEX-001", "-o", str(out)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 1, done.stderr
    ran = run_script(out.read_text("utf-8"))
    assert ran.returncode == 0 and ran.leftovers == []
    assert ["postgres", "flexible-server", "parameter", "set", "--resource-group", evil, "--server-name", "pg",
            "--name", "require_secure_transport", "--value", "on"] in ran.calls


def test_a_name_with_control_characters_is_shown_escaped_and_never_run(tmp_path: Path) -> None:
    # A firewall rule named with an escape sequence: written as '\x1b' the command would name
    # another rule, so it is commented out with the reason.
    server = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
              "Microsoft.DBforPostgreSQL/flexibleServers/pg")
    estate = tmp_path / "estate.json"
    estate.write_text(json.dumps([
        {"id": server, "type": "microsoft.dbforpostgresql/flexibleservers", "name": "pg", "properties": {}},
        {"id": f"{server}/firewallRules/any\x1b[31m", "name": "any\x1b[31m",
         "type": "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
         "properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}}]), encoding="utf-8")
    out = tmp_path / "fix.sh"
    done = subprocess.run([sys.executable, "-m", "policyengine", "scan", str(estate), "--rule", "PG-FLEX-010",
                           "-o", str(out)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr  # a posture rule: reported, not gating
    text = out.read_text("utf-8")
    assert "\x1b" not in text
    assert "# Not run: a value holds control characters, shown escaped here; check the name." in text
    ran = run_script(text)
    assert ran.returncode == 0 and [call[:2] for call in ran.calls] == [["account", "set"]]
