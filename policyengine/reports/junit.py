"""The JUnit XML report, for a CI system's test tab (Azure Pipelines' PublishTestResults,
GitHub test-report actions, Jenkins): a rule is a test suite, a resource a test case.

Verdicts map onto what test tabs know:

- fail: ``<failure>``; error (the rule could not be evaluated): ``<error>``. Azure Pipelines
  shows both as failed, with the ``message`` attribute as the error message and the element's
  text (evidence and remediation) as the stack trace.
- unknown: ``<skipped message=reason>``, which Azure Pipelines shows as "not executed" with
  the reason; waived: ``<skipped>`` too, with the justification, owner and expiry.
- pass: a test case with no child.
- not applicable: left out. A rule that does not apply to a resource has not tested it, and
  hundreds of "not executed" rows would bury the unknowns that do need a look; each suite
  keeps their number as its ``not_applicable`` property.

An input error (a file, row or resource that could not be read) is a test case of a suite of
its own, ``input errors``, with an ``<error>`` whose message is the error's text and whose
type is what it took out of the scan (``file``, ``row``, ``resource``): the CI run shows it
failed, as the scan's exit code 2 says. Data the rules needed and the input lacked is said on
each suite of those rules: a ``missing_data`` property, and the same text with the command
that collects it as the suite's ``<system-err>``.

The document follows the junit-10.xsd that Jenkins' xUnit plugin validates against
(https://github.com/jenkinsci/xunit-plugin/blob/master/src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd),
which is also what Azure Pipelines reads
(https://github.com/microsoft/azure-pipelines-agent/blob/master/src/Agent.Worker/TestResults/JunitResultReader.cs):
that schema allows ``skipped`` on ``<testsuite>`` but not on ``<testsuites>``, so the root
carries tests, failures and errors only. It is built with ElementTree, never pasted together;
characters XML 1.0 forbids are written visibly (``\\x01``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import IO

from policyengine import ir
from policyengine.findings import Finding, Verdict
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import (
    declared_at,
    evidence_lines,
    finding_order,
    place,
    remediation_lines,
    visible,
)
from policyengine.reports.template_fixes import fix_lines, template_fix
from policyengine.status import ScanStatus, sorted_problems

#: The name of the suite that holds the input errors.
INPUT_ERRORS = "input errors"

#: A suite's count attribute for each verdict a test case can have (pass counts in ``tests`` only).
_COUNTED = {Verdict.FAIL: "failures", Verdict.ERROR: "errors",
            Verdict.UNKNOWN: "skipped", Verdict.WAIVED: "skipped"}


class JunitReporter:
    """Writes ``<testsuites>``: a ``<testsuite>`` per rule, a ``<testcase>`` per resource it applies to."""

    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.by_rule: dict[str, list[Finding]] = {}

    def add(self, finding: Finding) -> None:
        if finding.verdict is not Verdict.NOT_APPLICABLE:
            self.by_rule.setdefault(finding.rule.id, []).append(finding)

    def finish(self, summary: Summary, context: ReportContext) -> None:
        root = ET.Element("testsuites", name="policyengine")
        totals: Counter[str] = Counter()
        missing = _missing_by_rule(context.scan)
        for rule in self.rules:
            findings = sorted(self.by_rule.get(rule.id, []), key=finding_order)
            counts = Counter(_COUNTED[f.verdict] for f in findings if f.verdict in _COUNTED)
            counts["tests"] = len(findings)
            totals.update(counts)
            suite = _suite(root, f"{rule.id}: {rule.metadata.title}", counts)
            properties = ET.SubElement(suite, "properties")
            for name, value in (("severity", rule.metadata.severity.label),
                                ("not_applicable", str(summary.count(rule.id, Verdict.NOT_APPLICABLE))),
                                *(("missing_data", text) for text in missing.get(rule.id, ()))):
                ET.SubElement(properties, "property", name=name, value=visible(value))
            for finding in findings:
                _testcase(suite, finding)
            if rule.id in missing:
                ET.SubElement(suite, "system-err").text = visible("\n".join(missing[rule.id]))
        totals.update(_input_errors(root, context.scan))
        root.attrib.update({key: str(totals[key]) for key in ("tests", "failures", "errors")})
        root.set("time", "0")
        ET.indent(root)
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self.out.write(ET.tostring(root, encoding="unicode"))
        self.out.write("\n")


def _suite(root: ET.Element, name: str, counts: Counter[str]) -> ET.Element:
    return ET.SubElement(root, "testsuite", {
        "name": visible(name),
        **{key: str(counts[key]) for key in ("tests", "failures", "errors", "skipped")},
        "time": "0",
    })


def _missing_by_rule(scan: ScanStatus) -> dict[str, list[str]]:
    """What each rule lacked, as sentences that end with the command that collects it."""
    by_rule: dict[str, list[str]] = {}
    for missing in scan.missing:
        for rule_id in missing.rules:
            by_rule.setdefault(rule_id, []).append(missing.text())
    return by_rule


def _input_errors(root: ET.Element, scan: ScanStatus) -> Counter[str]:
    """The suite of input errors, a test case each; what it adds to the totals."""
    problems = sorted_problems(scan.input_errors)
    if not problems:
        return Counter()
    counts = Counter(tests=len(problems), errors=len(problems))
    suite = _suite(root, INPUT_ERRORS, counts)
    for problem in problems:
        case = ET.SubElement(suite, "testcase", name=visible(problem.span.prefix()),
                             classname=INPUT_ERRORS, time="0")
        error = ET.SubElement(case, "error", message=visible(problem.text()), type=problem.unit.value)
        lines = [problem.text(), f"Not judged: this {problem.unit.value}; everything else was."]
        if problem.resource is not None:
            lines.insert(1, f"Resource: {problem.resource}")
        error.text = visible("\n".join(lines))
    return counts


def _testcase(suite: ET.Element, finding: Finding) -> None:
    rule = finding.rule
    case = ET.SubElement(suite, "testcase", name=visible(place(finding)), classname=visible(rule.id),
                         time="0")
    severity = rule.metadata.severity.label
    verdict = finding.verdict
    if verdict in (Verdict.FAIL, Verdict.ERROR):
        tag = "failure" if verdict is Verdict.FAIL else "error"
        message = f"[in the baseline] {finding.message}" if finding.baseline else finding.message
        element = ET.SubElement(case, tag, message=visible(message), type=severity)
        element.text = visible(_details(finding))
    elif verdict in (Verdict.UNKNOWN, Verdict.WAIVED):  # the message says why, or whose waiver
        ET.SubElement(case, "skipped", message=visible(finding.message))


def _details(finding: Finding) -> str:
    """The text of a failure: the evidence, where the resource is, and how to fix it."""
    lines = [f"- {line}" for line in evidence_lines(finding)]
    lines += ["", f"Resource: {finding.resource_id}"]
    if finding.origin.kind is ir.SourceKind.DECLARED:
        lines.append(f"Declared at: {declared_at(finding)}")
        changes = template_fix(finding) if finding.verdict is Verdict.FAIL else ()
        if changes:  # the edit of the file, which a template's resource needs rather than a command
            lines += ["", "Fix in the file:", *fix_lines(changes)]
    lines += ["", *remediation_lines(finding.rule)]
    return "\n".join(lines)
