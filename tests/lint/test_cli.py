"""``policyengine lint`` through ``main([...])``: output formats, exit codes, the bundled rules,
and the code table in the module docstring."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import policyengine.lint
from policyengine.lint import CHECKS
from tests.conftest import Result, rule_text

Run = Callable[..., Result]
Write = Callable[[str, str], Path]

TESTS = """
tests:
  - {name: ready, resource: {properties: {state: Ready}}, expect: pass}
  - {name: stopped, resource: {properties: {state: Stopped}}, expect: fail}
"""
CLEAN = "resource: Microsoft.DBforPostgreSQL/flexibleServers\ncondition: {field: properties.state, equals: Ready}\n"
#: Only a warning (PE101): the path is not in the catalog (its tests use it, so they pass and fail).
WARNING_ONLY = """resource: Microsoft.DBforPostgreSQL/flexibleServers
condition: {field: properties.stat, equals: Ready}
tests:
  - {name: ready, resource: {properties: {stat: Ready}}, expect: pass}
  - {name: stopped, resource: {properties: {stat: Stopped}}, expect: fail}
"""
#: An error (PE103) and a warning (PE105).
ERROR_AND_WARNING = ("resource: Microsoft.DBforPostgreSQL/flexibleServers\n"
                     "condition: {field: properties.sslEnforcement, equals: Enabled}\n")


def test_bundled_rules_lint_clean_with_strict(cli: Run) -> None:
    result = cli("lint", "--strict")
    assert (result.code, result.out) == (0, "")
    assert "0 error(s), 0 warning(s)" in result.err


def test_clean_rule_exits_0(cli: Run, write: Write) -> None:
    path = write("r.yaml", rule_text(CLEAN + TESTS))
    assert (cli("lint", str(path)).code, cli("lint", "--strict", str(path)).code) == (0, 0)


def test_warnings_exit_0_and_1_with_strict(cli: Run, write: Write) -> None:
    path = write("r.yaml", rule_text(WARNING_ONLY))
    plain = cli("lint", str(path))
    assert plain.code == 0
    assert re.fullmatch(rf"{re.escape(str(path))}:11:22: warning: PE101: properties\.stat .*\n", plain.out)
    assert cli("lint", "--strict", str(path)).code == 1


def test_errors_exit_1(cli: Run, write: Write) -> None:
    path = write("r.yaml", rule_text(ERROR_AND_WARNING))
    result = cli("lint", str(path))
    assert result.code == 1
    lines = result.out.splitlines()
    assert [line.split(": ")[1:3] for line in lines] == [["warning", "PE105"], ["error", "PE103"]]
    assert "1 error(s), 1 warning(s)" in result.err


def test_json_output(cli: Run, write: Write) -> None:
    path = write("r.yaml", rule_text(ERROR_AND_WARNING))
    result = cli("lint", "--format", "json", str(path))
    assert result.code == 1
    rows = json.loads(result.out)
    assert [(r["severity"], r["code"], r["line"], r["column"]) for r in rows] == [
        ("warning", "PE105", 4, 7), ("error", "PE103", 11, 22)]
    assert all(set(r) == {"file", "line", "column", "severity", "code", "message"} for r in rows)
    assert all(r["file"] == str(path) for r in rows)
    assert list(rows[0]) == sorted(rows[0])  # sorted keys: deterministic output
    assert json.loads(cli("lint", "--format", "json").out) == []


def test_only_the_paths_given_are_linted(cli: Run, write: Write, tmp_path: Path) -> None:
    write("rules/a.yaml", rule_text(CLEAN + TESTS, rule_id="T-A"))
    write("rules/b.yaml", rule_text(WARNING_ONLY, rule_id="T-B"))
    result = cli("lint", "--format", "json", str(tmp_path / "rules"))
    assert [(Path(r["file"]).name, r["code"]) for r in json.loads(result.out)] == [("b.yaml", "PE101")]


def test_user_catalog_option(cli: Run, write: Write) -> None:
    path = write("r.yaml", rule_text(WARNING_ONLY))
    extra = write("catalog.yaml", "version: 1\ntypes:\n  Microsoft.DBforPostgreSQL/flexibleServers:\n"
                  "    properties:\n      properties.stat: {type: string}\n")
    assert cli("lint", "--strict", "--catalog", str(extra), str(path)).code == 0


def test_a_bad_catalog_is_reported_located(cli: Run, write: Write) -> None:
    extra = write("catalog.yaml", "version: 2\n")
    result = cli("lint", "--catalog", str(extra))
    assert result.code == 1
    assert result.out.startswith(f"{extra}:1:10: error: PE002: version: 1 was expected")


def test_bad_usage_exits_2(cli: Run, tmp_path: Path) -> None:
    missing = cli("lint", str(tmp_path / "nope.yaml"))
    assert missing.code == 2 and "no such rule file or directory" in missing.err
    assert cli("lint", "--format", "xml").code == 2


def test_load_errors_are_pe001(cli: Run, write: Write) -> None:
    path = write("r.yaml", "apiVersion: policyengine/v1\nkind: Rule\nmetadata: [\n")
    result = cli("lint", str(path))
    assert result.code == 1 and ": error: PE001: invalid YAML" in result.out


def test_the_docstring_table_is_the_check_table() -> None:
    doc = policyengine.lint.__doc__ or ""
    rows = re.findall(r"^(PE\d{3})\s+(error|warning)\s+(.+?)\s*$", doc, re.MULTILINE)
    assert {code: (severity, summary) for code, severity, summary in rows} == {
        c.code: (c.severity, c.summary) for c in CHECKS.values()}


def test_a_pattern_re2_cannot_run_is_a_lint_error_at_its_line(cli: Run, write: Write) -> None:
    """The linter loads rules as a scan does, so the RE2 check at load is a PE001 at the pattern,
    beside the rest of the file's problems."""
    path = write("r.yaml", rule_text("resource: Microsoft.DBforPostgreSQL/flexibleServers\n"
                                     "condition: {field: name, match: 'pg-(?!prod)[a-z]+'}\n"))
    result = cli("lint", str(path))
    assert result.code == 1
    assert result.out == (f"{path}:11:35: error: PE001: spec.condition.match: bad regular expression "
                          "'pg-(?!prod)[a-z]+': RE2 syntax does not support lookahead ((?=...), (?!...))\n")
