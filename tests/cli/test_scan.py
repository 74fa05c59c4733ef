"""``policyengine scan`` end to end through ``main([...])``: reports, exit codes, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policyengine.loading.schema import load_schema
from tests.conftest import Result, rule_text

Cli = Callable[..., Result]
Write = Callable[[str, str], Path]

SUB = "11111111-1111-1111-1111-111111111111"
FLEX_ID = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.DBforPostgreSQL/flexibleServers"


def flex(name: str, rst: str | None, tls: str | None = "TLSv1.2", atp: str | None = "Enabled") -> list[dict[str, Any]]:
    sid = f"{FLEX_ID}/{name}"
    rows: list[dict[str, Any]] = [{"id": sid, "name": name, "type": "microsoft.dbforpostgresql/flexibleservers",
                                   "subscriptionId": SUB, "properties": {"state": "Ready"}}]
    for param, value in (("require_secure_transport", rst), ("ssl_min_protocol_version", tls)):
        if value is not None:
            rows.append({"id": f"{sid}/configurations/{param}", "name": param,
                         "type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations",
                         "properties": {"value": value}})
    if atp is not None:
        rows.append({"id": f"{sid}/advancedThreatProtectionSettings/Default", "name": "Default",
                     "type": "Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings",
                     "properties": {"state": atp}})
    return rows


def estate(write: Write, *servers: list[dict[str, Any]], pricing: str | None = "Standard") -> Path:
    rows = [r for s in servers for r in s]
    if pricing:
        rows.append({"id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/OpenSourceRelationalDatabases",
                     "type": "microsoft.security/pricings", "name": "OpenSourceRelationalDatabases",
                     "properties": {"pricingTier": pricing}})
    return write("estate.json", json.dumps({"count": len(rows), "data": rows}, indent=2))


def json_report(cli: Cli, *argv: str) -> tuple[int, dict[str, Any]]:
    result = cli("scan", *argv, "--format", "json")
    # Nothing on stderr but, where the input lacks what the rules read, the note saying so.
    assert result.err == "" or result.err.startswith("policyengine: the input lacks data the rules read")
    report = json.loads(result.out)
    jsonschema.Draft202012Validator(load_schema("report.schema.json")).validate(report)
    return result.code, report


def verdicts(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["rule"]["id"], f["resource"]["id"].rsplit("/", 1)[-1]): f["verdict"] for f in report["findings"]}


def test_clean_estate_exits_0(cli: Cli, write: Write) -> None:
    path = estate(write, flex("good", "on"))
    code, report = json_report(cli, str(path), "--rule", "PG-FLEX-001", "--rule", "pg-flex-002")
    assert code == 0
    assert verdicts(report) == {("PG-FLEX-001", "good"): "pass", ("PG-FLEX-002", "good"): "pass"}
    assert report["summary"]["exitCode"] == 0


def test_failure_exits_1_and_fail_on_filters_by_severity(cli: Cli, write: Write, tmp_path: Path) -> None:
    path = estate(write, flex("bad", "OFF"))
    code, report = json_report(cli, str(path), "--rule", "PG-FLEX-001")
    assert code == 1
    (finding,) = report["findings"]
    assert finding["verdict"] == "fail"
    (evidence,) = finding["evidence"]
    assert evidence["path"].startswith("related.") and evidence["path"].endswith(".properties.value")
    assert (evidence["actual"], evidence["present"], evidence["outcome"]) == ("OFF", True, "fail")
    assert finding["resource"]["source"] == {"file": str(path), "line": 4, "kind": "observed"}
    severity = finding["rule"]["severity"]
    above = {"critical": None, "high": "critical", "medium": "high"}[severity]
    if above:
        assert cli("scan", str(path), "--rule", "PG-FLEX-001", "--fail-on", above).code == 0


def test_missing_children_are_unknown_not_pass(cli: Cli, write: Write) -> None:
    # The original set, which judges flexible servers by their children only (the posture
    # rules also read the server's own properties, whose absence is the platform's default).
    path = estate(write, flex("blind", None, None, None), pricing=None)
    code, report = json_report(cli, str(path), "--rule", "tag:core")
    assert code == 0  # unknown does not fail by default
    flex_verdicts = {k: v for k, v in verdicts(report).items() if k[1] == "blind"}
    assert set(flex_verdicts.values()) == {"unknown"}
    assert len(flex_verdicts) == sum(1 for r in report["rules"]
                                     if r["resource"] == "Microsoft.DBforPostgreSQL/flexibleServers")
    sub_verdicts = {k: v for k, v in verdicts(report).items() if k[1] == SUB}
    assert list(sub_verdicts.values()) == ["unknown"]  # a subscription with no pricing row
    missing = {m["what"]: m["resources"] for m in report["scan"]["missingData"]}
    assert missing == {"server parameters (flexibleServers/configurations)": 1,
                       "threat protection settings (flexibleServers/advancedThreatProtectionSettings)": 1,
                       "Defender plans (Microsoft.Security/pricings)": 2}  # the server and its subscription


def test_table_report_shows_evidence_and_fix(cli: Cli, write: Write) -> None:
    path = estate(write, flex("bad", "off"), flex("good", "on"))
    result = cli("scan", str(path), "--rule", "PG-FLEX-001")
    assert result.code == 1
    assert "PG-FLEX-001" in result.out
    assert "Failing (1):" in result.out
    assert 'rg-app/bad' in result.out and '.properties.value is "off"' in result.out
    assert "fix: az postgres flexible-server parameter set" in result.out
    command = " ".join(result.out.replace(" \\\n", " ").split())
    assert "--resource-group rg-app --server-name bad" in command  # the real names, not placeholders
    assert "1 failing at or above 'info'" in " ".join(result.out.split())


def test_output_file(cli: Cli, write: Write, tmp_path: Path) -> None:
    path = estate(write, flex("good", "on"))
    out = tmp_path / "report.json"
    result = cli("scan", str(path), "--format", "json", "--output", str(out))
    assert result.out == ""
    report = json.loads(out.read_text())
    assert report["inputs"]["files"] == [str(path)]
    assert not list(tmp_path.glob("*.partial"))


def test_custom_rule_directory(cli: Cli, write: Write, tmp_path: Path) -> None:
    write("mine/pna.yaml", rule_text("""
        resource: Microsoft.DBforPostgreSQL/flexibleServers
        condition: {field: properties.network.publicNetworkAccess, equals: Disabled}
        onMissing: fail
    """, rule_id="ACME-001"))
    path = estate(write, flex("good", "on"))
    code, report = json_report(cli, str(path), "--rules", str(tmp_path / "mine"), "--rule", "ACME-001")
    assert code == 1
    assert verdicts(report) == {("ACME-001", "good"): "fail"}
    listed = cli("rules", "list", "--rules", str(tmp_path / "mine"))
    assert "ACME-001" in listed.out and "PG-FLEX-001" in listed.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "/nonexistent/estate.json"], "/nonexistent/estate.json: cannot read input: No such file or directory"),
        (["scan", "--rule", "NOPE-1"], "policyengine: --rule NOPE-1: no rule has this id"),
        (["rules", "show", "NOPE-1"], "policyengine: unknown rule id: NOPE-1"),
        (["scan", "--rules", "/nonexistent/rules"], "/nonexistent/rules: no such rule file or directory"),
        (["scan", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, argv: list[str], message: str) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_bad_export_is_located(cli: Cli, write: Write) -> None:
    path = write("bad.ndjson", '{"id": "/subscriptions/s/x"}\n{"id": \n')
    result = cli("scan", str(path))
    assert result.code == 2
    assert result.err.endswith(f"{path}:2:8: invalid JSON: Expecting value\n"
                               "policyengine: 1 input error; everything else was judged; exit code 2\n")
    assert "INPUT ERRORS (1)" in result.out


def test_bad_rules_are_located(cli: Cli, write: Write, tmp_path: Path) -> None:
    write("r/bad.yaml", rule_text("resource: Microsoft.DBforPostgreSQL/flexibleServers\n"
                                  "condition: {field: name, equal: x}"))
    result = cli("scan", "--rules", str(tmp_path / "r"))
    assert result.code == 2
    assert result.err.startswith(f"{tmp_path / 'r' / 'bad.yaml'}:11:28: spec.condition: unknown operator 'equal'")


def test_help_and_version(cli: Cli) -> None:
    assert cli("--help").code == 0
    version = cli("--version")
    assert version.code == 0 and version.out.startswith("policyengine ")


def test_output_to_a_device_is_written_in_place(cli: Cli, write: Write, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    import os
    import threading

    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    path = estate(write, flex("good", "on"))
    result = cli("scan", str(path), "--format", "json", "--output", str(fifo))
    reader.join(timeout=10)
    assert result.code == 0
    assert fifo.exists() and not fifo.is_file()  # still the FIFO, not replaced by a file
    assert json.loads(received[0])["summary"]["total"] > 0


def test_unwritable_output_is_a_usage_error(cli: Cli, write: Write, tmp_path: Path) -> None:
    path = estate(write, flex("good", "on"))
    result = cli("scan", str(path), "--output", str(tmp_path / "no" / "such" / "dir" / "r.json"))
    assert result.code == 2
    assert "cannot write the report to" in result.err


def test_offline_scan_and_help_import_no_azure_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, contextlib, io\n"
            "from policyengine.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help']); main(['scan', '--format', 'json'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'azure'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
