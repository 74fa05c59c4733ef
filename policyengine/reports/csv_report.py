"""The CSV report, for auditors and spreadsheets: a header row, then one row per finding of
every verdict (passes and not-applicable ones too: an audit wants the whole picture).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, and resource names, tags and evidence come from the scanned estate, so
such a cell gets a leading apostrophe, as OWASP advises:
https://owasp.org/www-community/attacks/CSV_Injection. Quoting is the ``csv`` module's.
"""

from __future__ import annotations

import csv
from typing import IO

from policyengine import ir
from policyengine.findings import Finding
from policyengine.frameworks import Framework
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import control_ids, evidence_lines, finding_order

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
        for finding in sorted(self.findings, key=finding_order):
            writer.writerow([neutralise(cell) for cell in row(finding, framework)])


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
    """A cell a spreadsheet will show as text, never evaluate as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
