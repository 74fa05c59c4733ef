"""The table report for people at a terminal: a summary per rule, then every failing,
erroring and unknown resource with its evidence, then notes about the input."""

from __future__ import annotations

from typing import IO

from tabulate import tabulate

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.reports import ReportContext, Summary

_SHOWN = (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN)
_WIDTH = 90


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

    def add(self, finding: Finding) -> None:
        if finding.verdict in _SHOWN:
            self.shown.append(finding)

    def finish(self, summary: Summary, context: ReportContext) -> None:
        write = self.out.write
        rows = []
        for rule in self.rules:
            rows.append([
                rule.id, rule.metadata.severity.label, rule.metadata.title,
                *(summary.count(rule.id, v) for v in (Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN,
                                                       Verdict.NOT_APPLICABLE, Verdict.ERROR)),
            ])
        headers = ["rule", "severity", "title", "pass", "fail", "unknown", "n/a", "error"]
        write(tabulate(rows, headers, tablefmt="simple") + "\n")
        order = {v: i for i, v in enumerate(_SHOWN)}
        self.shown.sort(key=lambda f: (order[f.verdict], -f.rule.metadata.severity,
                                       f.rule.id, f.resource_id.lower()))
        for verdict, title in ((Verdict.FAIL, "Failing"), (Verdict.ERROR, "Could not evaluate"),
                               (Verdict.UNKNOWN, "Unknown")):
            chosen = [f for f in self.shown if f.verdict is verdict]
            if not chosen:
                continue
            write(f"\n{title} ({len(chosen)}):\n")
            table = [[f.rule.id, f.rule.metadata.severity.label, _resource(f), _wrap(self._detail(f))]
                     for f in chosen]
            write(tabulate(table, ["rule", "severity", "resource", "evidence"], tablefmt="simple") + "\n")
        for note in context.stats.notes:
            write(f"\nnote: {note}")
        if context.stats.notes:
            write("\n")
        if not context.complete:
            scan = context.scan
            missed = [f"{n.get('resourceType')} in {len(n.get('subscriptions') or [])} subscription(s)"
                      f" or {n.get('managementGroup') or '-'}: {n.get('reason')}"
                      for n in scan.get("notEvaluated", [])]
            missed += [f"truncated: {t}" for t in scan.get("truncated", [])]
            write("\nINCOMPLETE SCAN: " + "; ".join(missed) + "\n")
        ignored = sum(context.stats.ignored.values())
        what = "declared resources" if context.scan.get("source") == "pre-deployment" else "rows"
        write(f"\n{summary.total()} verdicts on {sum(context.stats.resources.values())} resources "
              f"from {context.stats.rows} {what} ({ignored} of types no rule reads). ")
        write(f"{summary.failing} failing at or above '{summary.fail_on.label}'.\n")

    @staticmethod
    def _detail(finding: Finding) -> str:
        if not finding.evidence:
            return finding.message
        text = "; ".join(e.sentence() for e in finding.evidence)
        if finding.verdict is Verdict.FAIL and finding.rule.metadata.remediation.cli:
            text += f"\nfix: {finding.rule.metadata.remediation.cli}"
        return text
