"""The table report for people at a terminal: a summary per rule, then every failing,
erroring and unknown resource with its evidence, then notes about the input."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO

from tabulate import tabulate

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import control_status

_SECTIONS = ((Verdict.FAIL, "Failing"), (Verdict.ERROR, "Could not evaluate"), (Verdict.UNKNOWN, "Unknown"),
             (Verdict.WAIVED, "Waived"))
_SHOWN = tuple(v for v, _ in _SECTIONS)
_COLUMNS = (Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN, Verdict.WAIVED, Verdict.NOT_APPLICABLE,
            Verdict.ERROR)
_WIDTH = 90
#: ANSI colours by verdict, for a terminal (https://no-color.org: NO_COLOR turns them off).
_COLOURS = {Verdict.FAIL: "31", Verdict.ERROR: "35", Verdict.UNKNOWN: "33", Verdict.WAIVED: "36",
            Verdict.PASS: "32"}


def _painter(out: IO[str]) -> Callable[[Verdict, object], str]:
    """Colour for a terminal, plain text for anything else (a file, a pipe, NO_COLOR)."""
    isatty = getattr(out, "isatty", None)
    coloured = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")

    def paint(verdict: Verdict, value: object) -> str:
        text = str(value)
        code = _COLOURS.get(verdict)
        if not coloured or code is None or text == "0":
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    return paint


def short_resource(resource_id: str) -> str:
    """``.../resourceGroups/rg-prod/providers/.../flexibleServers/pg-01`` -> ``rg-prod/pg-01``."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        group = parts[lowered.index("resourcegroups") + 1]
        return f"{group}/{parts[-1]}"
    return resource_id


def _wrap(text: str, width: int = _WIDTH) -> str:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "\n".join(lines)


def _resource(finding: Finding) -> str:
    """The resource as a person finds it: its name, and for a template or plan where it is."""
    shown = short_resource(finding.resource_id)
    origin = finding.origin
    if origin.kind is not ir.SourceKind.DECLARED:
        return shown
    if origin.line:
        return f"{shown}\n{Span(origin.file, origin.line, origin.column).prefix()}"
    return f"{shown}\n{origin.address or origin.file}"


class TableReporter:
    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.shown: list[Finding] = []
        self.paint = _painter(out)

    def add(self, finding: Finding) -> None:
        if finding.verdict in _SHOWN:
            self.shown.append(finding)

    def finish(self, summary: Summary, context: ReportContext) -> None:
        write, paint = self.out.write, self.paint
        if not context.quiet:
            rows = []
            for rule in self.rules:
                rows.append([rule.id, rule.metadata.severity.label, rule.metadata.title,
                             *(paint(v, summary.count(rule.id, v)) for v in _COLUMNS)])
            headers = ["rule", "severity", "title", "pass", "fail", "unknown", "waived", "n/a", "error"]
            write(tabulate(rows, headers, tablefmt="simple") + "\n")
            if context.framework is not None:
                write(self._framework(summary, context))
        order = {v: i for i, v in enumerate(_SHOWN)}
        self.shown.sort(key=lambda f: (order[f.verdict], -f.rule.metadata.severity,
                                       f.rule.id, f.resource_id.lower()))
        sections = _SECTIONS[:2] if context.quiet else _SECTIONS
        for verdict, title in sections:
            chosen = [f for f in self.shown if f.verdict is verdict]
            if not chosen:
                continue
            write("\n" + paint(verdict, f"{title} ({len(chosen)}):") + "\n")
            table = [[f.rule.id, f.rule.metadata.severity.label, _resource(f), _wrap(self._detail(f))]
                     for f in chosen]
            write(tabulate(table, ["rule", "severity", "resource", "evidence"], tablefmt="simple") + "\n")
        if not context.quiet:
            for note in context.stats.notes:
                write(f"\nnote: {note}")
            if context.stats.notes:
                write("\n")
        if context.scan.input_errors:
            errors = context.scan.input_errors
            title = f"INPUT ERRORS ({len(errors)}): not judged, everything else was"
            write("\n" + paint(Verdict.ERROR, title) + "\n")
            for problem in errors:
                write(f"  {problem.text()}\n")
        if not context.complete:
            write("\nINCOMPLETE SCAN: " + "; ".join(context.scan.gap_lines()) + "\n")
        ignored = sum(context.stats.ignored.values())
        what = "declared resources" if context.scan.source == "pre-deployment" else "rows"
        write(f"\n{summary.total()} verdicts on {sum(context.stats.resources.values())} resources "
              f"from {context.stats.rows} {what} ({ignored} of types no rule reads). ")
        baselined = f" ({summary.baselined} more in the baseline)" if summary.baselined else ""
        write(f"{summary.failing} failing at or above '{summary.fail_on.label}'{baselined}.\n")

    @staticmethod
    def _framework(summary: Summary, context: ReportContext) -> str:
        chosen = context.framework
        assert chosen is not None
        rows = []
        for control in chosen.controls:
            rows.append([control.id, control_status(control, summary).value,
                         ", ".join(r.id for r in control.rules)])
        return f"\n{chosen.title} ({chosen.id}):\n" + tabulate(rows, ["control", "status", "rules"],
                                                                 tablefmt="simple") + "\n"

    @staticmethod
    def _detail(finding: Finding) -> str:
        if not finding.evidence:
            return finding.message
        text = "; ".join(e.sentence() for e in finding.evidence)
        if finding.waiver is not None:
            w = finding.waiver
            text = f"waived until {w.expires.isoformat()} by {w.owner}: {w.justification} ({w.where}); {text}"
        if finding.baseline:
            text = f"[in the baseline] {text}"
        if finding.verdict is Verdict.FAIL and finding.rule.metadata.remediation.cli:
            text += f"\nfix: {finding.rule.metadata.remediation.cli}"
        return text
