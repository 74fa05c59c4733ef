"""The table report for people at a terminal: a summary per rule, then every failing,
erroring and unknown resource with its evidence, then notes about the input, its input
errors and the data it lacked.

Every piece of text from the input (and from a custom rule) goes through
:func:`~policyengine.reports.common.terminal` before it is written, so a resource id cannot
send an escape sequence (a colour, a cleared screen, an OSC 8 link) to the terminal.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from typing import IO

from tabulate import tabulate

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import SHOWN_PROBLEMS, control_status, terminal
from policyengine.status import ScanStatus, sorted_problems

_SECTIONS = ((Verdict.FAIL, "Failing"), (Verdict.ERROR, "Could not evaluate"), (Verdict.UNKNOWN, "Unknown"),
             (Verdict.WAIVED, "Waived"))
_SHOWN = tuple(v for v, _ in _SECTIONS)
_COLUMNS = (Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN, Verdict.WAIVED, Verdict.NOT_APPLICABLE,
            Verdict.ERROR)
#: How wide a line of evidence, or of the notes under the tables, may be.
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


def _lines(text: str, indent: str = "  ", hanging: str = "    ") -> str:
    """A paragraph under the tables, wrapped to :data:`_WIDTH` at spaces. A word longer than a
    line (a resource id, a path) stands whole on a line of its own: cut, it could no longer be
    copied or searched for."""
    return "\n".join(textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=hanging,
                                    break_long_words=False, break_on_hyphens=False)) + "\n"


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
    shown = terminal(short_resource(finding.resource_id), one_line=True)
    origin = finding.origin
    if origin.kind is not ir.SourceKind.DECLARED:
        return shown
    if origin.line:
        where = Span(origin.file, origin.line, origin.column).prefix()
    else:
        where = origin.address or origin.file
    return f"{shown}\n{terminal(where, one_line=True)}"


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
                rows.append([terminal(rule.id, one_line=True), rule.metadata.severity.label,
                             terminal(rule.metadata.title, one_line=True),
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
            table = [[terminal(f.rule.id, one_line=True), f.rule.metadata.severity.label, _resource(f),
                      _wrap(terminal(self._detail(f)))] for f in chosen]
            write(tabulate(table, ["rule", "severity", "resource", "evidence"], tablefmt="simple") + "\n")
        if not context.quiet and context.stats.notes:
            # A note a line, unwrapped: each starts with the file:line it is about, to grep for.
            write("\n" + "".join(f"note: {terminal(note, one_line=True)}\n" for note in context.stats.notes))
        write(_input_errors(context.scan, paint))
        write(_missing(context.scan))
        if not context.complete:
            write("\nINCOMPLETE SCAN: what was not evaluated\n"
                  + "".join(_lines(terminal(line)) for line in context.scan.gap_lines()))
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
            rows.append([terminal(control.id, one_line=True), control_status(control, summary).value,
                         terminal(", ".join(r.id for r in control.rules), one_line=True)])
        title = terminal(f"{chosen.title} ({chosen.id})", one_line=True)
        return f"\n{title}:\n" + tabulate(rows, ["control", "status", "rules"], tablefmt="simple") + "\n"

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


def _input_errors(scan: ScanStatus, paint: Callable[[Verdict, object], str]) -> str:
    """Each file, row or resource that could not be read, ``file:line:col: message``; past
    :data:`SHOWN_PROBLEMS`, how many more (every format but this and Markdown lists all)."""
    problems = sorted_problems(scan.input_errors)
    if not problems:
        return ""
    title = f"INPUT ERRORS ({len(problems)}): not judged, everything else was"
    out = "\n" + paint(Verdict.ERROR, title) + "\n"
    out += "".join(_lines(terminal(p.text(), one_line=True)) for p in problems[:SHOWN_PROBLEMS])
    if len(problems) > SHOWN_PROBLEMS:
        out += _lines(f"... and {len(problems) - SHOWN_PROBLEMS} more: --format json lists every one")
    return out


def _missing(scan: ScanStatus) -> str:
    """What the rules needed and the input lacked, and the command that collects it."""
    if not scan.missing:
        return ""
    out = (f"\nMISSING DATA ({len(scan.missing)}): verdicts are unknown where the input lacks what the "
           "rules read\n")
    for missing in scan.missing:
        rules = ", ".join(missing.rules)
        out += _lines(terminal(f"{missing.resources} resource(s) lack {missing.what}, so {rules} cannot "
                               "judge them. To collect it:", one_line=True))
        # The command on one line, unwrapped: it is meant to be copied into a shell whole.
        out += f"    {terminal(missing.command, one_line=True)}\n"
    return out
