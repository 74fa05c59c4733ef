"""The table report for people at a terminal, laid out to its width.

First what matters most: failures by severity. Then one row per rule, then every failing,
erroring and unknown resource with its evidence and the command that fixes it, then notes
about the input, its input errors and the data it lacked. ``--compact`` gives one line per
failing finding (to grep in a CI log); ``--quiet``, the summary alone.

Every piece of text from the input (and from a custom rule) goes through
:func:`~policyengine.reports.common.terminal` before it is written, so a resource id cannot
send an escape sequence (a colour, a cleared screen, an OSC 8 link) to the terminal.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import IO

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.frameworks import Control, ControlStatus
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import SHOWN_PROBLEMS, control_status, terminal
from policyengine.reports.fixes import fix_command
from policyengine.reports.layout import columns, natural_widths, row_lines, wrap, wrap_command
from policyengine.reports.template_fixes import template_fix
from policyengine.status import ScanStatus, sorted_problems

_SECTIONS = ((Verdict.FAIL, "Failing"), (Verdict.ERROR, "Could not evaluate"), (Verdict.UNKNOWN, "Unknown"),
             (Verdict.WAIVED, "Waived"))
_SHOWN = tuple(v for v, _ in _SECTIONS)
_COUNTED = (Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN, Verdict.WAIVED, Verdict.NOT_APPLICABLE,
            Verdict.ERROR)
_HEADERS = {Verdict.PASS: "pass", Verdict.FAIL: "fail", Verdict.UNKNOWN: "unknown", Verdict.WAIVED: "waived",
            Verdict.NOT_APPLICABLE: "n/a", Verdict.ERROR: "error"}
#: How a control's status is written in the table.
_CONTROL_STATUS = {ControlStatus.FAIL: "fail", ControlStatus.UNKNOWN: "unknown", ControlStatus.PASS: "pass",
                   ControlStatus.NOT_APPLICABLE: "n/a", ControlStatus.NOT_COVERED: "not covered"}
#: Below this many columns for the titles, each title goes on a line of its own under its rule.
_TITLE_COLUMN = 36
#: Where a finding's evidence and fix start, under its severity, rule and resource.
_INDENT = "    "
#: Findings of one rule shown in a section before the rest are counted: a large estate's
#: table stays something a person reads (``--compact`` and the other formats list them all).
SHOWN_PER_RULE = 20
#: Said where a fix's snippet has a line wider than the terminal.
_WIDE_SNIPPET = "its snippet is wider than {width} columns: -o fix.sh or --format json holds it"
#: ANSI colours by verdict, for a terminal (https://no-color.org: NO_COLOR turns them off).
_COLOURS = {Verdict.FAIL: "31", Verdict.ERROR: "35", Verdict.UNKNOWN: "33", Verdict.WAIVED: "36",
            Verdict.PASS: "32"}

Paint = Callable[[Verdict | None, str], str]


def _painter(out: IO[str]) -> Paint:
    """Colour for a terminal, plain text for anything else (a file, a pipe, NO_COLOR)."""
    isatty = getattr(out, "isatty", None)
    coloured = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")

    def paint(verdict: Verdict | None, text: str) -> str:
        code = _COLOURS.get(verdict) if verdict is not None else "1"
        if not coloured or code is None or not text.strip() or text.strip() == "0":
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


def _resource(finding: Finding) -> str:
    """The resource as a person finds it: its name, and for a template or plan where it is."""
    shown = terminal(short_resource(finding.resource_id), one_line=True)
    origin = finding.origin
    if origin.kind is not ir.SourceKind.DECLARED:
        return shown
    where = (Span(origin.file, origin.line, origin.column).prefix() if origin.line
             else origin.address or origin.file)
    return f"{shown} ({terminal(where, one_line=True)})"


def _detail(finding: Finding) -> str:
    """What the rule saw: its evidence (or why it could not judge), with the waiver or the
    baseline that accepts the failure."""
    if not finding.evidence:
        return finding.error or finding.message
    text = "; ".join(e.sentence() for e in finding.evidence)
    if finding.waiver is not None:
        w = finding.waiver
        text = f"waived until {w.expires.isoformat()} by {w.owner}: {w.justification} ({w.where}); {text}"
    if finding.baseline:
        text = f"[in the baseline] {text}"
    return text


def _order(finding: Finding) -> tuple[int, int, str, str]:
    return (_SHOWN.index(finding.verdict), -finding.rule.metadata.severity, finding.rule.id,
            finding.resource_id.lower())


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
        width = context.width
        self.shown.sort(key=_order)
        parts: list[list[str]] = [self._severities(summary)]
        if context.compact:
            parts.append(self._compact(width))
        elif not context.quiet:
            parts.append(self._rules(summary, width))
            if context.framework is not None:
                parts.append(self._framework(summary, context, width))
            for verdict, title in _SECTIONS:
                chosen = [f for f in self.shown if f.verdict is verdict]
                if chosen:
                    parts.append(self._section(verdict, title, chosen, width))
            if context.stats.notes:
                # Each starts with the file:line it is about, on its first line, to grep for.
                notes = [f"note: {terminal(note, one_line=True)}" for note in context.stats.notes]
                parts.append([line for note in notes for line in wrap(note, width, "", "      ")])
        parts.append(_input_errors(context.scan, self.paint, width))
        if not context.quiet:
            parts.append(_missing(context.scan, width))
        if not context.complete:
            parts.append([self.paint(Verdict.ERROR, "INCOMPLETE SCAN: what was not evaluated")]
                         + [line for gap in context.scan.gap_lines()
                            for line in wrap(terminal(gap), width, "  ", "    ")])
        parts.append(_totals(summary, context, width))
        self.out.write("\n\n".join("\n".join(part) for part in parts if part) + "\n")

    def _severities(self, summary: Summary) -> list[str]:
        """Failures, errors and unknowns by severity: what to look at first."""
        counted = (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN, Verdict.WAIVED, Verdict.PASS)
        by: dict[ir.Severity, Counter[Verdict]] = {}
        for rule in self.rules:
            counts = by.setdefault(rule.metadata.severity, Counter())
            for verdict in counted:
                counts[verdict] += summary.count(rule.id, verdict)
        rows = [[severity.label, *(str(by[severity][v]) for v in counted)]
                for severity in sorted(by, reverse=True) if any(by[severity].values())]
        if not rows:
            return ["No rule judged any resource."]
        headers = ["severity", *(_HEADERS[v] for v in counted)]

        def paint(row: int, col: int, text: str) -> str:
            return self.paint(counted[col - 1], text) if row >= 0 and col else text

        return columns(headers, rows, 200, flex=0, right=range(1, len(headers)), paint=paint)

    def _rules(self, summary: Summary, width: int) -> list[str]:
        """A row per rule with its counts; the title in a column when there is room for it,
        else on a line of its own under the rule."""
        shown = [v for v in _COUNTED if v in (Verdict.PASS, Verdict.FAIL) or summary.total(v)]
        rows = [[terminal(rule.id, one_line=True), rule.metadata.severity.label,
                 *(str(summary.count(rule.id, v)) for v in shown)] for rule in self.rules]
        titles = [terminal(rule.metadata.title, one_line=True) for rule in self.rules]
        headers = ["rule", "severity", *(_HEADERS[v] for v in shown)]
        right = range(2, len(headers))

        def paint(row: int, col: int, text: str) -> str:
            return self.paint(shown[col - 2], text) if row >= 0 and 2 <= col < 2 + len(shown) else text

        if rows:
            natural = sum(w + 2 for w in natural_widths(headers, rows))
            if width - natural >= _TITLE_COLUMN:
                return columns([*headers, "title"], [[*r, t] for r, t in zip(rows, titles, strict=True)],
                               width, flex=len(headers), right=right, paint=paint)
        table = columns(headers, rows, width, flex=0, right=right, paint=paint)
        out = table[:2]
        for line, title in zip(table[2:], titles, strict=True):
            out += [line, *wrap(title, width, "  ")]
        return out

    def _section(self, verdict: Verdict, title: str, chosen: list[Finding], width: int) -> list[str]:
        """Each finding: severity, rule and resource on a line; then what was seen and, for a
        failure, the command that fixes it, broken only where a shell joins it again."""
        out = [self.paint(verdict, f"{title} ({len(chosen)}):")]
        per_rule: Counter[str] = Counter(f.rule.id for f in chosen)
        shown: Counter[str] = Counter()
        for finding in chosen:
            rule_id = finding.rule.id
            shown[rule_id] += 1
            if shown[rule_id] > SHOWN_PER_RULE:
                if shown[rule_id] == SHOWN_PER_RULE + 1:
                    more = per_rule[rule_id] - SHOWN_PER_RULE
                    out += wrap(terminal(f"... and {more} more {rule_id} ({verdict.value}): --compact lists "
                                         "each on a line, and -o report.csv or .json holds them all",
                                         one_line=True), width, "", _INDENT)
                continue
            head = (f"{finding.rule.metadata.severity.label:<8}{terminal(finding.rule.id, one_line=True)}  "
                    f"{_resource(finding)}")
            out += wrap(head, width, "", _INDENT)
            out += wrap(terminal(_detail(finding)), width, _INDENT)
            if verdict is not Verdict.FAIL:
                continue
            if finding.origin.kind is ir.SourceKind.DECLARED:
                out += _template_fix(finding, width)
                continue
            fix = fix_command(finding)
            if fix:
                out += wrap_command(terminal(fix, one_line=True), width, f"{_INDENT}fix: ", _INDENT * 2)
        return out

    def _compact(self, width: int) -> list[str]:
        """One line per failing or erroring finding, whole (grep finds it): severity, rule,
        resource, then the fact."""
        chosen = [f for f in self.shown if f.verdict in (Verdict.FAIL, Verdict.ERROR)]
        if not chosen:
            return []
        rule_width = max(len(f.rule.id) for f in chosen)
        return [f"{f.rule.metadata.severity.label:<8}{terminal(f.rule.id, one_line=True):<{rule_width}}  "
                f"{_resource(f)}  {terminal(_detail(f), one_line=True)}" for f in chosen]

    @staticmethod
    def _framework(summary: Summary, context: ReportContext, width: int) -> list[str]:
        """Every control of the framework with its status and rules; its title (and, for one
        no rule covers, why) in a column when there is room, else on lines under it."""
        chosen = context.framework
        assert chosen is not None
        statuses = [control_status(control, summary) for control in chosen.controls]
        tallied = Counter(statuses)
        counts = ", ".join(f"{tallied[s]} {_CONTROL_STATUS[s]}" for s in ControlStatus if tallied[s])
        head = (f"{chosen.title} ({chosen.id}): {len(chosen.controls)} controls, {chosen.covered} "
                f"covered by the rules: {counts}.")
        if chosen.scope:
            head += f" Listed: {chosen.scope}."
        rows = [[terminal(control.id, one_line=True), _CONTROL_STATUS[status],
                 terminal(", ".join(r.id for r in control.rules) or "-", one_line=True)]
                for control, status in zip(chosen.controls, statuses, strict=True)]
        notes = [terminal(_control_note(control), one_line=True) for control in chosen.controls]
        headers = ["control", "status", "rules"]
        out = wrap(terminal(head, one_line=True), width)
        if not any(notes):
            return out + columns(headers, rows, width, flex=2)
        natural = sum(w + 2 for w in natural_widths(headers, rows))
        if width - natural >= _TITLE_COLUMN:
            return out + columns([*headers, "title"], [[*r, n] for r, n in zip(rows, notes, strict=True)],
                                 width, flex=3)
        table = columns(headers, rows, width, flex=2)
        out += table[:2]
        for lines, note in zip(row_lines(table), notes, strict=True):
            out += [*lines, *(wrap(note, width, "  ") if note else [])]
        return out


def _template_fix(finding: Finding, width: int) -> list[str]:
    """A template's or plan's fix: where and what, wrapped, then the snippet to write. A
    snippet is code, which cannot be cut where a line is too long for the terminal (a
    resource type in a JSON string, an HCL block's header): such a one is left to the
    formats that hold it whole."""
    out: list[str] = []
    for change in template_fix(finding):
        snippet = [f"{_INDENT * 2}{terminal(line, one_line=True)}" for line in change.snippet.splitlines()]
        fits = all(len(line) <= width for line in snippet)
        colon = ":" if snippet else ""  # a removal has nothing to write
        text = f"fix at {change.where}: {change.text}" + (colon if fits else
                                                          f" ({_WIDE_SNIPPET.format(width=width)})")
        out += wrap(terminal(text, one_line=True), width, _INDENT, _INDENT + "  ")
        out += snippet if fits else []
    return out


def _control_note(control: Control) -> str:
    """A control's title, and for one no rule covers, why."""
    if control.rules:
        return control.title
    why = f"(not covered: {control.reason})"
    return f"{control.title} {why}" if control.title else why


def _input_errors(scan: ScanStatus, paint: Paint, width: int) -> list[str]:
    """Each file, row or resource that could not be read, ``file:line:col: message``; past
    :data:`SHOWN_PROBLEMS`, how many more (every format but this and Markdown lists all)."""
    problems = sorted_problems(scan.input_errors)
    if not problems:
        return []
    out = [paint(Verdict.ERROR, f"INPUT ERRORS ({len(problems)}): not judged, everything else was")]
    for problem in problems[:SHOWN_PROBLEMS]:
        out += wrap(terminal(problem.text(), one_line=True), width, "  ", "    ")
    if len(problems) > SHOWN_PROBLEMS:
        more = len(problems) - SHOWN_PROBLEMS
        out += wrap(f"... and {more} more: --format json lists every one", width, "  ")
    return out


def _missing(scan: ScanStatus, width: int) -> list[str]:
    """What the rules needed and the input lacked, and the command (or commands) that collect it."""
    if not scan.missing:
        return []
    out = wrap(f"MISSING DATA ({len(scan.missing)}): verdicts are unknown where the input lacks what the "
               "rules read", width)
    for missing in scan.missing:
        rules = ", ".join(missing.rules)
        out += wrap(terminal(f"{missing.resources} resource(s) lack {missing.what}, so {rules} cannot "
                             "judge them.", one_line=True), width, "  ", "    ")
    commands = list(dict.fromkeys(missing.command for missing in scan.missing))
    out.append(f"  To collect {'it' if len(commands) == 1 else 'each'}:")
    for command in commands:
        out += wrap_command(terminal(command, one_line=True), width, "    ", "      ")
    return out


def _totals(summary: Summary, context: ReportContext, width: int) -> list[str]:
    ignored = sum(context.stats.ignored.values())
    what = "declared resources" if context.scan.source == "pre-deployment" else "rows"
    baselined = f" ({summary.baselined} more in the baseline)" if summary.baselined else ""
    advisory = (f" {summary.outside_gate} more from posture rules, which set the exit code only with "
                "--gate all." if summary.outside_gate else "")
    failing = f"{summary.failing} failing at or above '{summary.fail_on.label}'{baselined}."
    return wrap(f"{summary.total()} verdicts on {sum(context.stats.resources.values())} resources "
                f"from {context.stats.rows} {what} ({ignored} no rule needs). {failing}{advisory}", width)
