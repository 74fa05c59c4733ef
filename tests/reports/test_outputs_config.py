"""Several formats in one scan, the configuration file, and --framework."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]


def test_each_format_goes_to_its_own_output(cli: Callable[..., Result], tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.txt"
    # The n-th --output goes with the n-th --format; the third format has none: standard output.
    result = cli("scan", "--format", "json", "--output", str(first), "--format", "table", "-o", str(second),
                 "--format", "json")
    assert result.code == 1
    assert json.loads(result.out) == json.loads(first.read_text())
    assert second.read_text().startswith("severity ")
    result = cli("scan", "--format", "json", "--output", str(first), "--format", "table")
    assert result.code == 1
    assert result.out.startswith("severity ")  # the table went to standard output
    assert json.loads(first.read_text())["summary"]["exitCode"] == 1


def test_output_pairing_errors(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("scan", "--format", "json", "--format", "table")
    assert result.code == 2 and "only one report can go to standard output" in result.err
    result = cli("scan", "--format", "json", "-o", str(tmp_path / "r.sarif"))
    assert result.code == 2 and "--format json with --output" in result.err and "the extension says sarif" in result.err
    assert not list(tmp_path.iterdir())


def test_an_unreadable_input_is_reported_and_the_report_still_written(
        cli: Callable[..., Result], tmp_path: Path, write: Callable[[str, str], Path]) -> None:
    bad = write("bad.json", "[{\"id\": ")
    out = tmp_path / "r.json"
    result = cli("scan", str(bad), str(ROOT / "examples" / "estate.json"), "--format", "json", "--output", str(out))
    assert result.code == 2
    doc = json.loads(out.read_text())
    assert doc["scan"]["inputErrors"] == [{"file": str(bad), "line": 1, "column": 9, "unit": "file",
                                           "message": "invalid JSON: Expecting value"}]
    assert doc["summary"]["verdicts"]["fail"] > 0  # the other input was judged
    assert not list(tmp_path.glob("*.partial"))


def test_configuration_file_drives_the_scan(cli: Callable[..., Result], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.yaml").write_text(
        "apiVersion: policyengine/v1\nkind: Waivers\nwaivers:\n  - rule: PG-FLEX-003\n"
        "    resource: '*/rg-sandbox/*'\n    justification: Sandbox data is synthetic.\n"
        "    owner: me@contoso.com\n    expires: 2099-01-01\n")
    (tmp_path / "policyengine.yaml").write_text(
        f"apiVersion: policyengine/v1\nkind: Config\npaths: [{ROOT / 'examples' / 'estate.json'}]\n"
        "waivers: [w.yaml]\nfailOn: critical\nframework: mcsb\n"
        "outputs:\n  - {format: json, file: out/report.json}\n  - {format: table}\n")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    result = cli("scan")
    assert result.code == 0  # no rule is critical
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["summary"]["failOn"] == "critical"
    assert doc["framework"]["id"] == "mcsb"
    assert doc["summary"]["verdicts"]["waived"] == 1
    assert "Microsoft cloud security benchmark (mcsb)" in result.out
    # The command line wins over the file.
    assert cli("scan", "--fail-on", "high", "--format", "json", "-o", "out/x.json").code == 1


def test_bad_configuration_is_located(cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    path = write("c.yaml", "apiVersion: policyengine/v1\nkind: Config\nfailOn: severe\n")
    result = cli("scan", "--config", str(path))
    assert result.code == 2 and result.err.startswith(f"{path}:3:9: failOn:"), result.err
    assert cli("scan", "--config", str(path) + ".missing").code == 2


def test_framework_groups_results_by_control(cli: Callable[..., Result]) -> None:
    doc = json.loads(cli("scan", "--format", "json", "--framework", "CIS-Azure-3.0.0").out)
    controls = {c["id"]: c for c in doc["framework"]["controls"]}
    assert {"3.1.7.2", "5.2.1", "5.2.8"} <= set(controls)  # every control of the definition
    assert controls["5.2.1"]["rules"] == ["PG-FLEX-001"]
    assert controls["5.2.1"]["status"] == "fail" and controls["5.2.1"]["verdicts"]["fail"] == 3
    assert controls["5.2.8"]["status"] == "not_covered" and controls["5.2.8"]["rules"] == []
    unknown = cli("scan", "--framework", "iso-27001")
    assert unknown.code == 2 and "known: azure-policy, cis-azure-2.0.0" in unknown.err


def test_frameworks_lists_controls(cli: Callable[..., Result]) -> None:
    result = cli("frameworks", "mcsb")
    assert result.code == 0
    assert result.out.startswith("mcsb: Microsoft cloud security benchmark: ")
    assert "LT-1" in result.out and "PG-SUB-001" in result.out


def test_quiet_table_shows_the_summary_only(cli: Callable[..., Result]) -> None:
    result = cli("scan", "--quiet")
    assert result.out.startswith("severity ") and "25 failing" in result.out
    assert "Failing (" not in result.out and "Unknown (" not in result.out and "PG-FLEX-001" not in result.out
    assert result.err == ""


def test_the_cli_offers_every_report_format() -> None:
    from policyengine.cli import FORMATS
    from policyengine.reports import FORMAT_NAMES, formats

    assert set(FORMATS) == set(FORMAT_NAMES) == set(formats())


def test_every_missing_key_is_named_once(cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    path = write("c.yaml", "failOn: high\n")
    result = cli("scan", "--config", str(path))
    assert result.code == 2
    assert "missing required key 'apiVersion'" in result.err and "missing required key 'kind'" in result.err
