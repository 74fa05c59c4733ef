"""The table report at a terminal's width, its compact and quiet forms, and fix commands with
the real names in them."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.reports.fixes import fill, id_values
from policyengine.reports.layout import columns, shell_words, wrap_command
from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]
SERVER = ("/subscriptions/1e7b4c60-2a9f-4d35-8c18-93b5e0f6a2d4/resourceGroups/rg-app/providers/"
          "Microsoft.DBforPostgreSQL/flexibleServers/pg-01")


@pytest.mark.parametrize("width", [60, 80, 100, 132])
def test_the_bundled_example_fits_the_terminal(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch,
                                               width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    result = cli("scan")
    lines = result.out.splitlines() + (result.err.splitlines() if width >= 80 else [])
    # Only a word that no line could hold (a shell word of a fix command) may stand out.
    assert [line for line in lines if len(line) > width and " " in line.strip().removesuffix(" \\")] == []
    if width >= 80:
        assert [line for line in lines if len(line) > width] == []
    assert result.out.startswith("severity  fail  error  unknown  waived  pass\n")
    # Every rule and every failing resource is still there.
    for text in ("PG-SUB-001", "Failing (81):", "Could not evaluate (1):", "Unknown (33):",
                 "rg-hr-legacy/pgsql-legacy-hr", "MISSING DATA (3)"):
        assert text in result.out


def test_titles_share_the_row_when_there_is_room(cli: Callable[..., Result],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    wide = cli("scan").out
    assert "Flexible servers accept only TLS 1.2 or newer" in next(
        line for line in wide.splitlines() if line.startswith("PG-FLEX-002 "))
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cli("scan").out.splitlines()
    at = next(i for i, line in enumerate(narrow) if line.startswith("PG-FLEX-002 "))
    assert narrow[at + 1] == "  Flexible servers accept only TLS 1.2 or newer"


def test_fix_commands_name_the_real_resource_and_paste_as_one_command(
        cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = cli("scan").out
    assert "<resource-group>" not in out and "<server>" not in out and "<subscription-id>" not in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "fix: az resource update --resource-group rg-billing-legacy" in line)
    command = lines[start].split("fix: ", 1)[1]
    at = start
    while lines[at].endswith(" \\"):
        at += 1
        command = command[:-2] + " " + lines[at].strip()
    assert shlex.split(command) == [
        "az", "resource", "update", "--resource-group", "rg-billing-legacy", "--namespace",
        "Microsoft.DBforPostgreSQL", "--parent", "servers/pgsql-legacy-billing", "--resource-type",
        "securityAlertPolicies", "--name", "Default", "--api-version", "2017-12-01", "--set",
        "properties.state=Enabled", "properties.emailAccountAdmins=true"]


def test_wrapped_commands_are_the_same_command_in_a_shell() -> None:
    command = ("az postgres flexible-server parameter set --resource-group 'rg (prod)' --server-name pg-01 "
               "--name require_secure_transport --value on && echo \"done: it is  on\"")
    lines = wrap_command(command, 40, "fix: ", "    ")
    assert all(len(line) <= 40 for line in lines) and len(lines) > 2
    pasted = "\n".join(lines).removeprefix("fix: ")
    shown = subprocess.run(["sh", "-c", f"printf '%s|' {pasted}"], capture_output=True, text=True, check=True)
    assert shown.stdout == "|".join(shlex.split(command.split(" && ", maxsplit=1)[0])) + "|done: it is  on\n"
    assert shell_words('a "b c" d\\ e \'f "g\'') == ["a", '"b c"', "d\\ e", "'f \"g'"]


def test_placeholders_stay_where_the_id_holds_no_value() -> None:
    assert id_values(SERVER) == {"<subscription-id>": "1e7b4c60-2a9f-4d35-8c18-93b5e0f6a2d4",
                                 "<resource-group>": "rg-app", "<server>": "pg-01"}
    # A template's id: the subscription and group are known only at deployment.
    declared = ("/subscriptions/[subscription().subscriptionId]/resourceGroups/[resourceGroup().name]/"
                "providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-legacy-app-1/configurations/x")
    assert id_values(declared) == {"<server>": "pg-legacy-app-1"}
    assert fill("az x -g <resource-group> -n <server>", id_values(declared)) == \
        "az x -g <resource-group> -n pg-legacy-app-1"


def test_hostile_names_are_quoted_not_run() -> None:
    values = {"<resource-group>": "rg; rm -rf ~", "<server>": "pg$(id)"}
    command = fill('az x -g <resource-group> -n <server> --url "https://h/<resource-group>/<server>"', values)
    assert shlex.split(command)[:5] == ["az", "x", "-g", "rg; rm -rf ~", "-n"]
    assert "'pg$(id)'" in command
    # Inside double quotes a quoted value would be text: the placeholder stays.
    assert '"https://h/<resource-group>/<server>"' in command


def test_columns_wrap_the_flexible_column_only() -> None:
    lines = columns(["id", "n", "title"], [["A-1", "3", "a title long enough to need two lines here"]],
                    30, flex=2, right=[1])
    assert lines[0] == "id   n  title"
    assert all(len(line) <= 30 for line in lines)
    assert lines[2].startswith("A-1  3  a title") and lines[3].startswith("        ")


def test_compact_is_one_line_per_failing_finding(cli: Callable[..., Result]) -> None:
    result = cli("scan", "--compact")
    findings = [line for line in result.out.splitlines() if line.startswith(("high ", "medium ", "low ")) and " PG-" in line]
    assert len(findings) == 82  # 81 failing, 1 that could not be evaluated
    assert "high    PG-FLEX-001    rg-orders-staging/pg-orders-staging-01  related.secureTransport." \
        "properties.value is \"OFF\"; expected: equals \"on\"" in findings
    assert "Unknown (" not in result.out and "fix:" not in result.out
    assert result.code == 1


def test_compact_shows_where_a_template_declares_the_resource(cli: Callable[..., Result],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = cli("scan", "examples/templates/flexible-insecure.json", "--compact", "--rule", "PG-FLEX-001").out
    line = next(line for line in out.splitlines() if "PG-FLEX-001" in line)
    assert "(examples/templates/flexible-insecure.json:" in line and "expected: equals" in line


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    script = ("import os, pty, sys\n"
              "pid, fd = pty.fork()\n"
              "if pid == 0:\n"
              "    os.execv(sys.executable, [sys.executable, '-m', 'policyengine', 'scan', '--quiet'])\n"
              "out = b''\n"
              "while True:\n"
              "    try:\n"
              "        chunk = os.read(fd, 65536)\n"
              "    except OSError:\n"
              "        break\n"
              "    if not chunk:\n"
              "        break\n"
              "    out += chunk\n"
              "os.waitpid(pid, 0)\n"
              "sys.stdout.write(out.decode())\n")
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "80"}
    coloured = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                              check=True).stdout
    assert "\x1b[31m" in coloured
    plain = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True,
                           env={**env, "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in plain and "severity" in plain


def test_json_and_sarif_give_each_failure_its_own_command(cli: Callable[..., Result], tmp_path: Path) -> None:
    import json

    assert cli("scan", "-o", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.sarif")).code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    failing = [f for f in report["findings"] if f["verdict"] == "fail"]
    assert len(failing) == 81 and all("fix" in f for f in failing)
    assert not any("fix" in f for f in report["findings"] if f["verdict"] != "fail")
    staging = next(f for f in failing if f["resource"]["id"].endswith("/pg-orders-staging-01"))
    assert staging["fix"] == ("az postgres flexible-server parameter set --resource-group rg-orders-staging "
                              "--server-name pg-orders-staging-01 --name require_secure_transport --value on")
    results = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    assert staging["fix"] in {r["properties"].get("fix") for r in results}


def test_a_rule_with_many_findings_shows_some_and_counts_the_rest(cli: Callable[..., Result],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from policyengine.reports import table

    monkeypatch.setattr(table, "SHOWN_PER_RULE", 2)
    out = cli("scan").out
    failing = out[out.index("Failing (81):"):out.index("Could not evaluate")]
    assert failing.count("medium  PG-FLEX-003") == 2
    assert "... and 2 more PG-FLEX-003 (fail): --compact lists each on a line" in " ".join(failing.split())
    compact = cli("scan", "--compact").out
    assert compact.count("PG-FLEX-003  ") == 4
