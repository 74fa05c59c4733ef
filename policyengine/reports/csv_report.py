"""The CSV report, for auditors and spreadsheets: a header row, then one row per finding of
every verdict (passes and not-applicable ones too: an audit wants the whole picture), then
one row per input error and one per kind of missing data, so a filter on ``verdict`` finds
what the scan could not judge:

- ``verdict`` ``input-error``: a file, row or resource that could not be read, so no rule
  judged it. ``source_file``, ``line`` and ``column`` say where, ``resource_id`` names the
  resource where one is known, ``message`` says what is wrong and ``evidence`` what the error
  took out of the scan (``unit: file``, ``row`` or ``resource``); the rule columns are empty.
- ``verdict`` ``missing-data``: data the rules read that the input did not hold. ``rule_id``
  lists those rules (space-separated), ``message`` says what is missing for how many
  resources, and ``evidence`` is the command that would collect it.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, and resource names, tags and evidence come from the scanned estate, so
such a cell gets a leading apostrophe, as OWASP advises:
https://owasp.org/www-community/attacks/CSV_Injection. Control characters and lone
surrogates are written visibly (``\\x1b``, ``\\ud800``). Quoting is the ``csv`` module's.
"""

from __future__ import annotations

import csv
from typing import IO

from policyengine import ir
from policyengine.findings import Finding
from policyengine.frameworks import Framework
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import control_ids, evidence_lines, finding_order, visible
from policyengine.status import InputProblem, Missing, ScanStatus, sorted_problems

COLUMNS = (
    "rule_id", "severity", "title", "verdict", "resource_id", "resource_type", "subscription_id",
    "source_file", "line", "column", "address", "message", "evidence", "fingerprint",
    "waiver_justification", "waiver_owner", "waiver_expires", "baseline",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvReporter:
    """Writes a header and a row per finding; with ``--framework``, a column of each rule's
    controls in it (known only at the end, so rows are written then)."""

    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.findings: list[Finding] = []

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def finish(self, summary: Summary, context: ReportContext) -> None:
        framework = context.framework
        writer = csv.writer(self.out)
        header = list(COLUMNS)
        if framework is not None:
            header.append(f"controls:{framework.id}")
        writer.writerow(header)
        width = len(header)
        for finding in sorted(self.findings, key=finding_order):
            writer.writerow([neutralise(cell) for cell in row(finding, framework)])
        for cells in scan_rows(context.scan):
            writer.writerow([neutralise(cell) for cell in cells + [""] * (width - len(cells))])


def scan_rows(scan: ScanStatus) -> list[list[str]]:
    """The rows of the input errors, then of the missing data, in :data:`COLUMNS` order."""
    return ([_problem_row(p) for p in sorted_problems(scan.input_errors)]
            + [_missing_row(m) for m in scan.missing])


def _problem_row(problem: InputProblem) -> list[str]:
    span = problem.span
    return ["", "", "", "input-error", problem.resource or "", "", "", span.file,
            str(span.line) if span.line else "", str(span.col) if span.col else "", "",
            problem.message, f"unit: {problem.unit.value}", "", "", "", "", ""]


def _missing_row(missing: Missing) -> list[str]:
    return [" ".join(missing.rules), "", "", "missing-data", "", "", "", "", "", "", "",
            f"{missing.resources} resource(s) lack {missing.what}", missing.command, "", "", "", "", ""]


def row(finding: Finding, framework: Framework | None = None) -> list[str]:
    """The cells of one finding, in :data:`COLUMNS` order (and its controls, with a framework)."""
    origin = finding.origin
    waiver = finding.waiver
    cells = [
        finding.rule.id, finding.rule.metadata.severity.label, finding.rule.metadata.title,
        finding.verdict.value, finding.resource_id, finding.resource_type, finding.subscription_id or "",
        origin.file, str(origin.line) if origin.line else "", str(origin.column) if origin.column else "",
        origin.address or "", finding.message, "\n".join(evidence_lines(finding)), finding.fingerprint,
        waiver.justification if waiver else "", waiver.owner if waiver else "",
        waiver.expires.isoformat() if waiver else "", "true" if finding.baseline else "false",
    ]
    if framework is not None:
        cells.append(" ".join(control_ids(finding.rule, framework)))
    return cells


def neutralise(cell: str) -> str:
    """A cell a spreadsheet will show as text, never evaluate as a formula, with no control
    character or lone surrogate (:func:`~policyengine.reports.common.visible`)."""
    cell = visible(cell)
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
