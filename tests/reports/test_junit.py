"""The JUnit report: it parses back, follows the junit-10.xsd test tabs read, its counts
equal the summary, and hostile names survive."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from policyengine.findings import Finding, Verdict
from policyengine.reports.junit import JunitReporter
from tests.conftest import Result
from tests.reports.scans import HOSTILE, WAIVER, estate, first, hostile, render, summary_of, templates, waived

# junit-10.xsd (Jenkins' xUnit plugin), element by element: required attributes, allowed
# attributes, allowed children.
_RESULT: tuple[set[str], set[str], set[str]] = (set(), {"type", "message"}, set())
JUNIT_10: dict[str, tuple[set[str], set[str], set[str]]] = {
    "testsuites": (set(), {"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors"},
                  {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname",
                   "id", "package", "file", "log", "url"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name"}, {"name", "time", "classname", "group"},
                 {"skipped", "error", "failure", "system-out", "system-err"}),
    "failure": _RESULT,
    "error": _RESULT,
    "skipped": _RESULT,
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}


def conforms(element: ET.Element) -> list[str]:
    """What in ``element`` and below junit-10.xsd does not allow."""
    required, allowed, children = JUNIT_10[element.tag]
    problems = [f"{element.tag} lacks {a}" for a in sorted(required - element.attrib.keys())]
    problems += [f"{element.tag} has {a}" for a in sorted(element.attrib.keys() - allowed)]
    for child in element:
        problems += [f"{element.tag} holds {child.tag}"] if child.tag not in children else conforms(child)
    return problems


def junit(findings: tuple[Finding, ...] | list[Finding]) -> ET.Element:
    text = render(JunitReporter, findings)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    assert conforms(root) == []
    return root


def cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}


@pytest.mark.parametrize("source", [estate, templates], ids=["estate", "templates"])
def test_counts_add_up_and_equal_the_summary(source: Callable[[], tuple[Finding, ...]]) -> None:
    findings = [*source(), waived(first(source(), Verdict.FAIL))]
    root = junit(findings)
    summary = summary_of(findings)
    applicable = summary.total() - summary.total(Verdict.NOT_APPLICABLE)
    assert root.get("tests") == str(applicable) == str(len(list(root.iter("testcase"))))
    assert root.get("failures") == str(summary.total(Verdict.FAIL)) == str(len(list(root.iter("failure"))))
    assert root.get("errors") == str(summary.total(Verdict.ERROR)) == str(len(list(root.iter("error"))))
    suites = root.findall("testsuite")
    for key in ("tests", "failures", "errors"):
        assert sum(int(s.get(key, "")) for s in suites) == int(root.get(key, ""))
    skipped = summary.total(Verdict.UNKNOWN) + summary.total(Verdict.WAIVED)
    assert sum(int(s.get("skipped", "")) for s in suites) == skipped == len(list(root.iter("skipped")))
    not_applicable = [int(p.get("value", "")) for p in root.iter("property") if p.get("name") == "not_applicable"]
    assert sum(not_applicable) == summary.total(Verdict.NOT_APPLICABLE)


def test_a_suite_per_rule_named_by_id_and_title_with_its_severity() -> None:
    root = junit(estate())
    suite = root.findall("testsuite")[0]
    assert suite.get("name") == "PG-FLEX-001: Flexible servers accept only encrypted (TLS) connections"
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["severity"] == "high"
    assert all(c.get("classname") == "PG-FLEX-001" for c in suite.iter("testcase"))


def test_a_failure_carries_the_evidence_and_the_fix() -> None:
    finding = first(estate(), Verdict.FAIL)
    failure = cases(junit(estate()))[(finding.rule.id, finding.resource_id)].find("failure")
    assert failure is not None
    assert failure.get("message") == finding.message
    assert failure.get("type") == finding.rule.metadata.severity.label
    assert finding.evidence[0].sentence() in (failure.text or "")
    assert f"Fix: {finding.rule.metadata.remediation.text}" in (failure.text or "")


def test_an_error_verdict_is_an_error_element() -> None:
    finding = first(estate(), Verdict.ERROR)
    error = cases(junit(estate()))[(finding.rule.id, finding.resource_id)].find("error")
    assert error is not None and error.get("message") == finding.error


def test_a_failure_known_in_the_baseline_says_so() -> None:
    finding = dataclasses.replace(first(estate(), Verdict.FAIL), baseline=True)
    failure = cases(junit([finding]))[(finding.rule.id, finding.resource_id)].find("failure")
    assert failure is not None and failure.get("message") == f"[in the baseline] {finding.message}"


def test_unknown_and_waived_are_skipped_with_the_reason() -> None:
    unknown = first(estate(), Verdict.UNKNOWN)
    accepted = waived(first(estate(), Verdict.FAIL))
    found = cases(junit([unknown, accepted]))
    skipped = found[(unknown.rule.id, unknown.resource_id)].find("skipped")
    assert skipped is not None and skipped.get("message") == unknown.message
    skipped = found[(accepted.rule.id, accepted.resource_id)].find("skipped")
    assert skipped is not None and WAIVER.justification in skipped.get("message", "")


def test_a_passing_case_is_empty_and_a_not_applicable_one_is_left_out() -> None:
    passing = first(estate(), Verdict.PASS)
    not_applicable = first(estate(), Verdict.NOT_APPLICABLE)
    found = cases(junit([passing, not_applicable]))
    assert list(found) == [(passing.rule.id, passing.resource_id)]
    assert len(found[(passing.rule.id, passing.resource_id)]) == 0


def test_a_declared_case_is_named_by_where_it_is_written() -> None:
    found = cases(junit(templates()))
    assert ("PG-FLEX-001", "examples/templates/flexible-insecure.json:32:5 resources[0][0]") in found
    assert ("PG-FLEX-001", "examples/templates/terraform/plan.json azurerm_postgresql_flexible_server.reports") \
        in found


def test_hostile_names_round_trip_and_control_characters_are_written_visibly() -> None:
    finding = hostile(first(estate(), Verdict.FAIL))
    finding = dataclasses.replace(finding, resource_id=finding.resource_id + "\ud800")  # a lone surrogate
    (case,) = junit([finding]).iter("testcase")
    shown = HOSTILE.replace("\x01", "\\x01").replace("\x1b", "\\x1b") + "\\ud800"
    assert case.get("name") == finding.resource_id.replace(HOSTILE + "\ud800", shown)
    failure = case.find("failure")
    assert failure is not None
    # The evidence quotes the value as JSON; the resource line names it as it is.
    assert json.dumps(HOSTILE, ensure_ascii=False) in failure.get("message", "")
    assert f"Resource: {case.get('name')}" in (failure.text or "")


def test_the_cli_writes_junit(cli: Callable[..., Result]) -> None:
    result = cli("scan", "--format", "junit")
    assert result.code == 1
    root = ET.fromstring(result.out.encode("utf-8"))
    assert conforms(root) == [] and int(root.get("failures", "")) > 0
