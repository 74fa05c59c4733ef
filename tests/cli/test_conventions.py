"""What users bring from Checkov, Trivy and PSRule: the format from the file's extension,
rule selection by id, comma and glob, --soft-fail, help with no command, and a did-you-mean
for every kind of typo."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]
Cli = Callable[..., Result]


def test_the_format_follows_the_output_extension(cli: Cli, tmp_path: Path) -> None:
    names = ["r.json", "r.sarif", "r.sarif.json", "r.xml", "r.csv", "r.md", "r.html", "r.sh", "r.txt", "r.out"]
    argv = [arg for name in names for arg in ("-o", str(tmp_path / name))]
    assert cli("scan", *argv).code == 1
    read = {name: (tmp_path / name).read_text("utf-8") for name in names}
    assert "findings" in json.loads(read["r.json"])
    assert json.loads(read["r.sarif"])["version"] == "2.1.0" == json.loads(read["r.sarif.json"])["version"]
    assert ET.fromstring(read["r.xml"]).tag == "testsuites"
    assert read["r.csv"].startswith("rule_id,severity,title,verdict,")
    assert read["r.md"].startswith("#")
    assert read["r.html"].startswith("<!DOCTYPE html>")
    assert read["r.sh"].startswith("#!/bin/sh\n")
    assert read["r.txt"].startswith("severity ") and read["r.out"].startswith("severity ")


@pytest.mark.parametrize(("given", "file", "says"), [("json", "r.sarif", "sarif"), ("sarif", "r.xml", "junit"),
                                                     ("table", "r.html", "html")])
def test_a_format_that_contradicts_the_extension_is_a_usage_error(cli: Cli, tmp_path: Path, given: str,
                                                                  file: str, says: str) -> None:
    result = cli("scan", "--format", given, "-o", str(tmp_path / file))
    assert result.code == 2
    assert f"--format {given} with --output {tmp_path / file}: the extension says {says}" in result.err
    assert list(tmp_path.iterdir()) == []
    # A name that says nothing about its content takes any format.
    assert cli("scan", "--format", "json", "-o", str(tmp_path / "r.txt")).code == 1
    assert "findings" in json.loads((tmp_path / "r.txt").read_text())


def test_fail_on_and_format_are_case_insensitive(cli: Cli) -> None:
    assert cli("scan", "--fail-on", "CRITICAL", "-q").code == 0
    assert cli("scan", "--fail-on", "High", "-q").code == 1
    assert json.loads(cli("scan", "--format", "JSON").out)["summary"]


def _rules_run(cli: Cli, *argv: str) -> list[str]:
    out = cli("scan", "--format", "json", *argv).out
    return sorted(r["id"] for r in json.loads(out)["rules"])


def test_rules_are_chosen_by_id_comma_and_glob(cli: Cli) -> None:
    assert _rules_run(cli, "--rule", "pg-flex-00[12]") == ["PG-FLEX-001", "PG-FLEX-002"]
    assert _rules_run(cli, "--rule", "PG-SUB-001,PG-SINGLE-001", "--rule", "pg-flex-004") == \
        ["PG-FLEX-004", "PG-SINGLE-001", "PG-SUB-001"]
    assert _rules_run(cli, "--rule", "PG-FLEX-00?", "--skip-rule", "PG-FLEX-003,pg-flex-004") == \
        ["PG-FLEX-001", "PG-FLEX-002", "PG-FLEX-005", "PG-FLEX-006", "PG-FLEX-007", "PG-FLEX-008", "PG-FLEX-009"]
    assert "PG-SINGLE-001" not in _rules_run(cli, "--skip-rule", "PG-SINGLE-*")


@pytest.mark.parametrize(("argv", "message"), [
    (["--rule", "PG-FLX-001"], "--rule PG-FLX-001: no rule has this id (did you mean PG-FLEX-001?)"),
    (["--skip-rule", "PG-SINGEL-*"], "--skip-rule PG-SINGEL-*: no rule has this id"),
    (["--rule", "PG-*", "--skip-rule", "PG-*"], "no rules to evaluate"),
])
def test_a_rule_pattern_that_matches_nothing_is_a_usage_error(cli: Cli, argv: list[str], message: str) -> None:
    result = cli("scan", *argv)
    assert result.code == 2 and message in result.err and result.out == ""


def test_soft_fail_exits_0_and_still_writes_every_report(cli: Cli, tmp_path: Path) -> None:
    report = tmp_path / "r.sarif"
    result = cli("scan", "--soft-fail", "-o", str(report))
    assert result.code == 0
    assert json.loads(report.read_text())["runs"][0]["results"]
    # An input error is not a finding: the scan did not see everything, and says so.
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": ')
    assert cli("scan", "--soft-fail", str(bad), str(ROOT / "examples" / "estate.json"), "-q").code == 2


def test_no_command_prints_help(cli: Cli) -> None:
    result = cli()
    assert result.code == 0 and result.out.startswith("usage: policyengine") and "scan" in result.out


@pytest.mark.parametrize(("argv", "hint"), [
    (["scna"], "(did you mean scan?)"),
    (["scan", "--fial-on", "high"], "(did you mean --fail-on?)"),
    (["scan", "--format", "sarf"], "(did you mean sarif?)"),
    (["scan", "--fail-on", "hihg"], "(did you mean high?)"),
    (["rules", "shwo", "PG-FLEX-001"], "(did you mean show?)"),
    (["scan", "--compcat"], "(did you mean --compact?)"),
    (["compile", "--sumary"], "(did you mean --summary?)"),
])
def test_typos_get_a_did_you_mean(cli: Cli, argv: list[str], hint: str) -> None:
    result = cli(*argv)
    assert result.code == 2 and hint in result.err


def test_compact_and_quiet_cannot_be_combined(cli: Cli) -> None:
    result = cli("scan", "--compact", "--quiet")
    assert result.code == 2 and "not allowed with argument" in result.err


def test_export_says_why_a_rule_cannot_take_deny_and_prints_no_empty_array(cli: Cli) -> None:
    result = cli("export", "azure-policy", "--rule", "PG-FLEX-001", "--effect", "deny")
    assert result.code == 2
    assert result.out == ""
    assert "PG-FLEX-001: cannot export: deny cannot look at" in result.err
    assert "(use auditIfNotExists)" in result.err


def test_a_new_rule_names_a_schema_that_travels_with_it(cli: Cli, tmp_path: Path) -> None:
    made = tmp_path / "team" / "rules" / "acme.yaml"
    assert cli("new", "rule", "ACME-PG-001", "-o", str(made)).code == 0
    first = made.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./rule.schema.json"
    # Committed and cloned elsewhere, the reference still resolves, and the rule validates.
    moved = tmp_path / "clone"
    shutil.copytree(made.parent, moved)
    schema = json.loads((moved / "rule.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((moved / "acme.yaml").read_text()), schema)
    assert cli("test", str(moved)).code == 0


def test_the_console_script_prints_help_with_no_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "policyengine"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "usage: policyengine" in done.stdout and done.stderr == ""


@pytest.mark.parametrize("argv", [["scan"], ["scan", "--compact"], ["rules", "list"], ["rules", "show", "PG-FLEX-004"],
                                  ["frameworks"], ["test"], ["explain", "PG-FLEX-004", "pg-sandbox-dev-01"],
                                  ["scan", "--help"], ["--help"]])
def test_text_output_fits_80_columns(cli: Cli, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(*argv)
    assert result.code in (0, 1)
    # Only a line holding a word no line can hold (an id, a URL) may stand out; --compact keeps a
    # finding on one line on purpose (to grep for it).
    long = [line for line in result.out.splitlines() if len(line) > 80 and max(map(len, line.split())) < 60]
    assert long == [] or argv == ["scan", "--compact"]


def test_paths_may_come_after_options(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    split = cli("scan", "examples/templates/flexible-insecure.json", "--rule", "PG-FLEX-001",
                "examples/templates/flexible-unknown.json", "-f", "json")
    assert sorted(json.loads(split.out)["inputs"]["files"]) == ["examples/templates/flexible-insecure.json",
                                                                "examples/templates/flexible-unknown.json"]
    explained = cli("explain", "PG-FLEX-001", "pg-orders-prod-01", "--rules", "rules", "--no-bundled-rules",
                    "examples/estate.json")
    assert explained.code == 0 and "verdict: fail" in explained.out
    stray = cli("scan", "examples/estate.json", "--rule", "PG-FLEX-001", "more.json", "--nope")
    assert stray.code == 2 and "unrecognized arguments: more.json --nope" in stray.err
