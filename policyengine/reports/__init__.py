"""Reports: a summary that every format shares, and one module per format, chosen by name.

A reporter receives findings one at a time (``add``) and the summary at the end
(``finish``), so a format that can stream (JSON) never holds the findings in memory.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from policyengine import ir
from policyengine.findings import Finding, Verdict
from policyengine.frameworks import Framework
from policyengine.status import ScanStatus, Stats

#: Verdicts that count against ``--fail-on``: a failure, or a rule that could not be
#: evaluated (a resource that cannot be judged is not compliant).
FAILING = (Verdict.FAIL, Verdict.ERROR)
#: The tags of the rules that do not set the exit code unless ``--gate all``.
ADVISORY = frozenset({"posture"})


@dataclass
class Summary:
    rules: tuple[ir.Rule, ...]
    fail_on: ir.Severity
    counts: dict[str, Counter[Verdict]] = field(default_factory=dict)
    #: Findings at or above ``fail_on`` that decide the exit code.
    failing: int = 0
    #: ``--fail-on-unknown``: an unknown verdict counts as a failure.
    fail_on_unknown: bool = False
    #: Findings that would fail but are in the baseline (``--baseline``): reported, not counted.
    baselined: int = 0
    #: Rules with one of these tags are reported but do not set the exit code (``--gate``):
    #: by default the posture rules, so that the original SSL, TLS and threat-protection set
    #: (and every rule of the user's own) stays what fails a pipeline.
    advisory: frozenset[str] = ADVISORY
    #: Failures at or above the threshold of the advisory rules: reported, not counted.
    outside_gate: int = 0

    def add(self, finding: Finding) -> None:
        counts = self.counts.get(finding.rule.id)
        if counts is None:
            counts = self.counts[finding.rule.id] = Counter()
        counts[finding.verdict] += 1
        if self.fails(finding):
            if finding.baseline:
                self.baselined += 1
            elif self.advisory and not self.advisory.isdisjoint(finding.rule.metadata.tags):
                self.outside_gate += 1
            else:
                self.failing += 1

    def fails(self, finding: Finding) -> bool:
        """Whether the finding is a failure at or above the threshold (baseline or not)."""
        failing = finding.verdict in FAILING or (self.fail_on_unknown and finding.verdict is Verdict.UNKNOWN)
        return failing and finding.rule.metadata.severity >= self.fail_on

    def count(self, rule_id: str, verdict: Verdict) -> int:
        counts = self.counts.get(rule_id)
        return counts[verdict] if counts else 0

    def total(self, verdict: Verdict | None = None) -> int:
        return sum(c[verdict] if verdict else sum(c.values()) for c in self.counts.values())

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0


@dataclass(frozen=True)
class ReportContext:
    """What a report says besides findings: the inputs, what they held, and whether the scan
    saw everything (``scan``: source, complete, what was not evaluated or read)."""

    inputs: tuple[str, ...]
    stats: Stats
    scan: ScanStatus = field(default_factory=ScanStatus)
    #: ``--framework``: the framework whose controls the report groups results by.
    framework: Framework | None = None
    #: What became of each waiver: ``{"waiver": Waiver.to_json(), "status": applied|expired|unmatched,
    #: "matched": n}``.
    waivers: tuple[dict[str, Any], ...] = ()
    #: ``--baseline``: the baseline report's file name.
    baseline: str | None = None
    #: ``--quiet``: the table shows the summary only; Markdown, failures only.
    quiet: bool = False
    #: ``--compact``: the table shows one line per failing finding.
    compact: bool = False
    #: The width the table is laid out at (the terminal's: ``reports.layout.terminal_width``).
    width: int = 80

    @property
    def complete(self) -> bool:
        return self.scan.complete


class Reporter(Protocol):
    def add(self, finding: Finding) -> None: ...

    def finish(self, summary: Summary, context: ReportContext) -> None: ...


ReporterFactory = Callable[[IO[str], tuple[ir.Rule, ...]], Reporter]


#: Report formats by name: the module and class that write each.
_FORMATS = {
    "table": ("table", "TableReporter"),
    "json": ("json_report", "JsonReporter"),
    "sarif": ("sarif", "SarifReporter"),
    "junit": ("junit", "JunitReporter"),
    "csv": ("csv_report", "CsvReporter"),
    "markdown": ("markdown", "MarkdownReporter"),
    "html": ("html_report", "HtmlReporter"),
    "script": ("script", "ScriptReporter"),
}


def reporter_factory(name: str) -> ReporterFactory:
    """The reporter of one format, imported on demand: a scan loads only what it writes."""
    module, cls = _FORMATS[name]
    factory: ReporterFactory = getattr(importlib.import_module(f"policyengine.reports.{module}"), cls)
    return factory


def formats() -> dict[str, ReporterFactory]:
    """Every report format by name (imports them all)."""
    return {name: reporter_factory(name) for name in _FORMATS}


FORMAT_NAMES = tuple(_FORMATS)
