"""The Markdown report, for a pull-request comment or ``$GITHUB_STEP_SUMMARY``: the overall
result, a table per rule, the failing findings grouped by rule with the fix, then the
unknown and waived ones folded away in ``<details>``.

Input errors (files, rows or resources that could not be read) and the data the rules
lacked come right after the headline: they decide how far the rest can be trusted.

Every value from the scan (resource names, evidence, justifications) goes through
:func:`~policyengine.reports.common.md_text`, so a ``|`` cannot end a table cell, a ``<``
cannot open a tag and an ``@team`` cannot notify anyone. GitHub refuses a comment over
65,536 characters, so the report stops before that, at a whole row, and says how many
findings it left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.frameworks import ControlStatus, Framework
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import (
    ATTENTION,
    SHOWN_PROBLEMS,
    control_status,
    declared_at,
    evidence_lines,
    finding_order,
    incomplete_lines,
    is_path,
    md_code_block,
    md_text,
)
from policyengine.reports.fixes import fix_command
from policyengine.reports.table import short_resource
from policyengine.reports.template_fixes import template_fix
from policyengine.status import ScanStatus, sorted_problems
from policyengine.waivers import waiver_warnings

#: GitHub's limit on a comment's body.
LIMIT = 65_536
_NOTE_ROOM = 400  # kept free for the note that says what was left out
#: Fix commands listed per rule (one per failing resource) before the rest are counted.
_SHOWN_FIXES = 20

_STATUS = {
    ControlStatus.FAIL: "❌ failing",
    ControlStatus.UNKNOWN: "❔ unknown",
    ControlStatus.PASS: "✅ passing",
    ControlStatus.NOT_APPLICABLE: "not applicable",
    ControlStatus.NOT_COVERED: "➖ not covered",
}
_COUNTED = (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN, Verdict.WAIVED, Verdict.PASS,
            Verdict.NOT_APPLICABLE)


class MarkdownReporter:
    """Writes a Markdown summary of the scan; ``limit`` caps its length in characters."""

    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...], *, limit: int = LIMIT) -> None:
        self.out = out
        self.rules = rules
        self.limit = limit
        self.shown: list[Finding] = []

    def add(self, finding: Finding) -> None:
        if finding.verdict in ATTENTION:
            self.shown.append(finding)

    def finish(self, summary: Summary, context: ReportContext) -> None:
        doc = _Document(self.limit)
        doc.add(_heading(summary, context))
        _input_errors(doc, context.scan)
        _missing(doc, context.scan)
        doc.table(["Rule", "Severity", "Title", "Fail", "Error", "Unknown", "Waived", "Pass", "N/A"],
                  [_rule_row(rule, summary) for rule in self.rules])
        if context.framework is not None:
            _controls(doc, context.framework, summary)
        self.shown.sort(key=finding_order)
        _failing(doc, [f for f in self.shown if f.verdict in (Verdict.FAIL, Verdict.ERROR)])
        warnings = waiver_warnings(context.waivers)
        if warnings:
            items = "".join(f"- {md_text(line)}\n" for _, line in warnings)
            doc.add(f"\n### Waivers needing attention\n\n{items}")
        if not context.quiet:
            _folded(doc, "Waived", ["Rule", "Resource", "Justification", "Owner", "Expires"],
                    [_waived_row(f) for f in self.shown if f.verdict is Verdict.WAIVED])
            _folded(doc, "Unknown: could not be judged", ["Rule", "Resource", "Location", "Why"],
                    [_unknown_row(f) for f in self.shown if f.verdict is Verdict.UNKNOWN])
            _folded(doc, "Notes", ["Note"], [[md_text(note)] for note in context.stats.notes], findings=False)
        self.out.write(doc.text())


class _Document:
    """Markdown written piece by piece until the next piece would not fit; from then on
    nothing more is written, and the findings left out are counted."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.room = limit - _NOTE_ROOM
        self.full = False
        self.left_out = 0

    def add(self, text: str, *, findings: int = 0, closing: str = "") -> bool:
        """Append ``text`` if it fits with ``closing`` (what must still be written after it)."""
        size = _length(text)
        if not self.full and size + _length(closing) <= self.room:
            self.parts.append(text)
            self.room -= size
            return True
        self.full = True
        self.left_out += findings
        return False

    def close(self, text: str) -> None:
        """Write what an earlier :meth:`add` kept room for."""
        self.parts.append(text)
        self.room -= _length(text)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], *, lead: str = "",
              findings: bool = False, closing: str = "") -> bool:
        """A table whose cells are already Markdown (each row one finding if ``findings``),
        after ``lead``; whether it was begun. The lead and the header go with the first row,
        so a heading is never left without a row under it."""
        head = "\n| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
        lines = ["| " + " | ".join(row) + " |\n" for row in rows]
        if not self.add(lead + head + (lines[0] if lines else ""), findings=len(rows) if findings else 0,
                        closing=closing):
            return False
        for i, line in enumerate(lines[1:], start=1):
            if not self.add(line, closing=closing):
                self.left_out += len(rows) - i if findings else 0
                break
        return True

    def text(self) -> str:
        body = "".join(self.parts)
        if self.full:
            body += (f"\n> **Truncated**: {self.left_out} more finding(s), and what follows them, are not "
                     f"shown here: a GitHub comment holds at most {LIMIT:,} characters. The JSON, SARIF "
                     "or CSV report has every finding.\n")
        return body


def _length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _heading(summary: Summary, context: ReportContext) -> str:
    threshold = f"at or above `{summary.fail_on.label}`"
    state = f"{summary.failing} failing {threshold}" if summary.failing else f"nothing failing {threshold}"
    errors = len(context.scan.input_errors)
    troubles = ([f"{errors} input error{'s' if errors != 1 else ''}"] if errors else []) + \
        ([] if context.complete else ["incomplete scan"])
    if troubles:
        title = f"⚠️ policyengine: {', '.join(troubles)}; {state}"
    else:
        title = f"{'❌' if summary.failing else '✅'} policyengine: {state}"
    counts = ", ".join(f"{summary.total(v)} {v.value.replace('_', ' ')}" for v in _COUNTED)
    resources = sum(context.stats.resources.values())
    lines = [f"## {title}", ""]
    if errors:
        lines.append(f"Exit status **2**: the input errors below were not judged; everything else was. "
                     f"{summary.total()} verdicts on {resources} resources: {counts}.")
    elif context.complete:
        lines.append(f"Exit status **{summary.exit_code}**. {summary.total()} verdicts on {resources} "
                     f"resources: {counts}.")
    else:
        lines.append(f"{summary.total()} verdicts on {resources} resources: {counts}.")
    if not context.complete:
        exits = "" if errors else ", so it exits with 3 unless `--allow-incomplete` is given"
        lines += ["", f"The scan did not see everything{exits}:", "",
                  *(f"- {md_text(line)}" for line in incomplete_lines(context.scan))]
    if context.baseline is not None:
        lines += ["", f"{summary.baselined} failing finding(s) already in the baseline "
                      f"{md_text(context.baseline)} are reported but not counted."]
    return "\n".join(lines) + "\n"


def _input_errors(doc: _Document, scan: ScanStatus) -> None:
    """Each file, row or resource that could not be read: where, what it took out, why."""
    problems = sorted_problems(scan.input_errors)
    if not problems:
        return
    rows = [[md_text(p.span.prefix()), p.unit.value, md_text(p.resource or ""), md_text(p.message)]
            for p in problems[:SHOWN_PROBLEMS]]
    lead = f"\n### Input errors ({len(problems)}): not judged, everything else was\n"
    begun = doc.table(["Location", "Unit", "Resource", "Error"], rows, lead=lead)
    if begun and len(problems) > SHOWN_PROBLEMS:
        doc.add(f"\n…and {len(problems) - SHOWN_PROBLEMS} more; the JSON and SARIF reports list every one.\n")


def _missing(doc: _Document, scan: ScanStatus) -> None:
    """What the rules needed and the input lacked, each with the command that collects it."""
    if not scan.missing:
        return
    parts = ["\n### Missing data: verdicts unknown where the input lacks what the rules read\n"]
    for missing in scan.missing:
        parts.append(f"\n{missing.resources} resource(s) lack {md_text(missing.what)}, so "
                     f"{md_text(', '.join(missing.rules))} cannot judge them. To collect it:\n\n"
                     + md_code_block(missing.command, "sh") + "\n")
    doc.add("".join(parts))


def _rule_row(rule: ir.Rule, summary: Summary) -> list[str]:
    counts = [summary.count(rule.id, v) for v in _COUNTED]
    fail, error, unknown = counts[:3]
    mark = "❌ " if fail or error else "❔ " if unknown else ""
    return [f"{mark}{md_text(rule.id)}", rule.metadata.severity.label, md_text(rule.metadata.title),
            *(str(c) for c in counts)]


def _controls(doc: _Document, framework: Framework, summary: Summary) -> None:
    """Every control of the framework: its status, its rules and its title; for one no rule
    covers, why."""
    rows = []
    for control in framework.controls:
        title = md_text(control.title)
        if not control.rules:
            why = f"*Not covered: {md_text(control.reason)}*"
            title = f"{title}<br>{why}" if title else why
        rows.append([md_text(control.id), _STATUS[control_status(control, summary)],
                     md_text(", ".join(r.id for r in control.rules)) or "—", title])
    lead = (f"\n### Controls: {md_text(framework.title)}\n\n{framework.covered} of {len(framework.controls)} "
            "controls are covered by the rules.")
    if framework.scope:
        lead += f" Listed: {md_text(framework.scope)}."
    doc.table(["Control", "Status", "Rules", "Title"], rows, lead=lead + "\n")


def _failing(doc: _Document, failing: list[Finding]) -> None:
    by_rule: dict[str, list[Finding]] = {}
    for finding in failing:
        by_rule.setdefault(finding.rule.id, []).append(finding)
    groups = sorted(by_rule.values(), key=lambda group: (-group[0].rule.metadata.severity, group[0].rule.id))
    lead = f"\n### Failing ({len(failing)})\n"
    for group in groups:
        rule = group[0].rule
        remediation = rule.metadata.remediation
        lead += (f"\n#### {md_text(rule.id)}: {md_text(rule.metadata.title)} ({rule.metadata.severity.label})"
                 f"\n\n**Fix.** {md_text(remediation.text)}\n")
        commands = _fix_commands(group)
        if commands:
            lead += "\n" + md_code_block("\n".join(commands), "sh") + "\n"
        lead += _template_fixes(group)
        doc.table(["Resource", "Location", "Evidence"], [_failing_row(f) for f in group], lead=lead,
                  findings=True)
        lead = ""

def _fix_commands(group: list[Finding]) -> list[str]:
    """The commands that fix a rule's failures, one per resource (the same command once), up
    to :data:`_SHOWN_FIXES`; the JSON report has every finding's."""
    observed = [f for f in group if f.origin.kind is not ir.SourceKind.DECLARED]
    if not observed:
        return []  # templates and plans are fixed in the file (_template_fixes)
    commands = list(dict.fromkeys(c for f in observed if f.verdict is Verdict.FAIL and (c := fix_command(f))))
    if not commands and group[0].rule.metadata.remediation.cli:  # errors only: the rule's general command
        commands = [" ".join(group[0].rule.metadata.remediation.cli.split())]
    if len(commands) > _SHOWN_FIXES:
        more = len(commands) - _SHOWN_FIXES
        commands = [*commands[:_SHOWN_FIXES], f"# ... and {more} more: each finding's is in the JSON report"]
    return commands


def _template_fixes(group: list[Finding]) -> str:
    """The edits that fix a rule's template and plan failures, each once, up to
    :data:`_SHOWN_FIXES`: where, what, and the snippet to write."""
    changes = list(dict.fromkeys(c for f in group for c in template_fix(f)))
    if not changes:
        return ""
    parts = ["\n**In the template or plan:**\n"]
    for change in changes[:_SHOWN_FIXES]:
        if not change.snippet:  # a removal: nothing to write
            parts.append(f"\n- {md_text(change.where)}: {md_text(change.text)}\n")
            continue
        block = md_code_block(change.snippet, change.language)
        parts.append(f"\n- {md_text(change.where)}: {md_text(change.text)}\n\n"
                     + "\n".join(f"  {line}" for line in block.splitlines()) + "\n")
    if len(changes) > _SHOWN_FIXES:
        parts.append(f"\n…and {len(changes) - _SHOWN_FIXES} more: each finding's is in the JSON report.\n")
    return "".join(parts)


def _failing_row(finding: Finding) -> list[str]:
    resource = md_text(short_resource(finding.resource_id))
    if finding.baseline:
        resource += " (in the baseline)"
    evidence = "<br>".join(md_text(line) for line in evidence_lines(finding))
    return [resource, md_text(_location(finding)), evidence]


def _location(finding: Finding) -> str:
    """A template's ``file:line:col`` and address, an export's ``file:line``; a live resource
    has no place but its id."""
    origin = finding.origin
    if origin.kind is ir.SourceKind.DECLARED:
        return f"{declared_at(finding)} {origin.address}" if origin.address else declared_at(finding)
    return Span(origin.file, origin.line).prefix() if is_path(origin.file) else finding.resource_id


def _folded(doc: _Document, title: str, header: list[str], rows: list[list[str]], *,
            findings: bool = True) -> None:
    """A table inside ``<details>``, closed even if the rows run out of room."""
    if not rows:
        return
    end = "\n</details>\n"
    lead = f"\n<details><summary>{title} ({len(rows)})</summary>\n"
    if doc.table(header, rows, lead=lead, findings=findings, closing=end):
        doc.close(end)

def _waived_row(finding: Finding) -> list[str]:
    waiver = finding.waiver
    row = [md_text(finding.rule.id), md_text(short_resource(finding.resource_id))]
    if waiver is None:
        return [*row, "", "", ""]
    return [*row, md_text(waiver.justification), md_text(waiver.owner), waiver.expires.isoformat()]


def _unknown_row(finding: Finding) -> list[str]:
    why = "<br>".join(md_text(line) for line in evidence_lines(finding)) or md_text(finding.message)
    return [md_text(finding.rule.id), md_text(short_resource(finding.resource_id)),
            md_text(_location(finding)), why]
