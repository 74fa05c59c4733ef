"""The CSV report: a row per finding of every verdict, read back with ``csv``, and no cell a
spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from policyengine.findings import Finding, Verdict
from policyengine.reports.csv_report import COLUMNS, CsvReporter, neutralise
from tests.conftest import Result
from tests.reports.scans import HOSTILE, WAIVER, estate, first, hostile, render, templates, waived


def rows(findings: tuple[Finding, ...] | list[Finding], **context: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(render(CsvReporter, findings, **context), newline="")))


@pytest.mark.parametrize("source", [estate, templates], ids=["estate", "templates"])
def test_a_row_per_finding_of_every_verdict(source: Callable[[], tuple[Finding, ...]]) -> None:
    findings = source()
    read = rows(findings)
    assert list(read[0]) == list(COLUMNS)
    assert len(read) == len(findings)
    assert Counter(r["verdict"] for r in read) == Counter(f.verdict.value for f in findings)
    assert {r["fingerprint"] for r in read} == {f.fingerprint for f in findings}


def test_a_template_row_says_where_the_resource_is_written() -> None:
    finding = first(templates(), Verdict.FAIL, address="resources[0][0]")
    (row,) = rows([finding])
    assert (row["source_file"], row["line"], row["column"], row["address"]) == (
        "examples/templates/flexible-insecure.json", "32", "5", "resources[0][0]")
    assert row["evidence"] == "\n".join(e.sentence() for e in finding.evidence)
    assert row["message"] == finding.message


def test_an_estate_row_names_the_resource_and_its_subscription() -> None:
    finding = first(estate(), Verdict.UNKNOWN)
    (row,) = rows([finding])
    assert row["resource_id"] == finding.resource_id
    assert row["subscription_id"] == finding.subscription_id
    assert (row["severity"], row["title"]) == (finding.rule.metadata.severity.label, finding.rule.metadata.title)
    assert (row["address"], row["column"], row["baseline"]) == ("", "", "false")


def test_waiver_and_baseline_columns() -> None:
    accepted = waived(first(estate(), Verdict.FAIL))
    known = dataclasses.replace(first(estate(), Verdict.ERROR), baseline=True)
    by_verdict = {r["verdict"]: r for r in rows([accepted, known])}
    row = by_verdict["waived"]
    assert (row["waiver_justification"], row["waiver_expires"]) == (WAIVER.justification, "2031-03-31")
    assert row["waiver_owner"] == "'@platform-team"  # guarded: a cell starting with @ is a formula
    assert by_verdict["error"]["baseline"] == "true"


def test_a_framework_adds_a_column_of_each_rules_controls() -> None:
    read = rows(estate(), framework="cis-azure-3.0.0")
    assert list(read[0])[-1] == "controls:cis-azure-3.0.0"
    controls = {r["rule_id"]: r["controls:cis-azure-3.0.0"] for r in read}
    assert controls["PG-FLEX-001"] == "5.2.1"
    assert controls["PG-FLEX-002"] == ""


@pytest.mark.parametrize(("cell", "written"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("/subscriptions/x", "/subscriptions/x"),
    ("a=b", "a=b"),
    ("", ""),
])
def test_cells_a_spreadsheet_would_evaluate_get_an_apostrophe(cell: str, written: str) -> None:
    assert neutralise(cell) == written


def test_hostile_values_are_quoted_and_guarded() -> None:
    finding = hostile(first(estate(), Verdict.FAIL))
    finding = dataclasses.replace(finding, resource_id="=cmd|'/C calc'!A0" + HOSTILE, subscription_id="-1")
    (row,) = rows([finding])
    shown = HOSTILE.replace("\x01", "\\x01").replace("\x1b", "\\x1b")  # control characters visibly
    assert row["resource_id"] == "'" + finding.resource_id.replace(HOSTILE, shown)
    assert row["subscription_id"] == "'-1"
    assert "\x1b" not in row["resource_id"]


def test_the_cli_writes_csv(cli: Callable[..., Result]) -> None:
    result = cli("scan", "--format", "csv")
    read = list(csv.DictReader(io.StringIO(result.out, newline="")))
    findings = [r for r in read if r["verdict"] not in ("input-error", "missing-data")]
    assert result.code == 1 and len(findings) == len(estate())
