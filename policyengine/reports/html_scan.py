"""The HTML report's account of the scan itself: what it could not judge (input errors, and
data the rules needed and the input lacked), and its status and inputs — what was read, what
was not evaluated, the waivers and the notes. What a reader needs to trust, or not, the
numbers above them.

Every function returns markup in which each piece of text has gone through
:func:`~policyengine.reports.html_sections.esc`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from policyengine.reports import ReportContext, Summary
from policyengine.reports.html_sections import esc, exit_text, plural
from policyengine.status import ScanStatus, sorted_problems

_SOURCES = {
    "export": "Resource Graph export", "snapshot": "snapshot of live Azure",
    "live": "live Azure (Resource Graph and ARM)",
    "pre-deployment": "templates and plans (pre-deployment)",
    "mixed": "several kinds of input (exports, snapshots, templates or plans)",
}


def _definitions(items: Iterable[tuple[str, str]]) -> str:
    """A ``<dl>`` of already-escaped values."""
    return "<dl>" + "".join(f"<dt>{esc(term)}</dt><dd>{value}</dd>" for term, value in items) + "</dl>"


def _list(items: Iterable[str], empty: str) -> str:
    texts = sorted(items)
    if not texts:
        return f'<p class="muted">{esc(empty)}</p>'
    return '<ul class="flat">' + "".join(f"<li>{esc(t)}</li>" for t in texts) + "</ul>"


def _count_table(table_id: str, heading: str, counts: Mapping[str, int]) -> str:
    rows = "".join(f'<tr><td class="mono">{esc(k)}</td><td class="num">{n}</td></tr>'
                   for k, n in sorted(counts.items()))
    return (f'<table id="{table_id}" class="compact"><thead><tr><th>{esc(heading)}</th>'
            f'<th class="num">count</th></tr></thead><tbody>{rows}</tbody></table>')


def scan_section(summary: Summary, context: ReportContext) -> str:
    """What was read, what was not, the waivers and the notes: what a reader needs to trust
    (or not) the numbers above."""
    scan = context.scan
    stats = context.stats
    source = scan.source
    read = "declared resources" if source == "pre-deployment" else "rows"
    errors = plural(len(scan.input_errors), "input error")
    facts = [
        ("Source", esc(_SOURCES.get(source, source))),
        ("Status", "complete" if context.complete else "<strong>incomplete</strong>"),
        ("Input errors", f'<a href="#input-errors"><strong>{errors}</strong></a>: not judged, exit code 2'
                         if scan.input_errors else errors),
        ("Read", f"{stats.rows} {read}; {sum(stats.resources.values())} resources evaluated, "
                 f"{sum(stats.ignored.values())} of types no rule reads"),
        ("Fail on", f"severity {esc(summary.fail_on.label)} and above: {summary.failing} failing, "
                    + exit_text(summary, context)),
    ]
    if scan.missing:
        lacking = sum(m.resources for m in scan.missing)
        facts.append(("Missing data", f'<a href="#missing-data">{len(scan.missing)} kind(s)</a>: '
                                      f"{lacking} resource(s) not fully judged"))
    if stats.orphans:
        facts.append(("Orphans", f"{stats.orphans} child rows whose parent was not in the input"))
    if context.baseline is not None:
        facts.append(("Baseline", f'<span class="mono">{esc(context.baseline)}</span>: '
                                  f"{summary.baselined} failing findings already there, not counted"))
    if scan.unread_children:
        facts.append(("Unread children",
                      f"{esc(scan.unread_children)} related resources could not be read"))
    out = ['<section id="scan" aria-labelledby="h-scan">', '<h2 id="h-scan">Scan status and inputs</h2>',
           _definitions(facts)]
    missed = sorted(scan.not_evaluated, key=lambda gap: _canonical(gap.to_json()))
    if missed:
        out.append('<h3>Not evaluated</h3><table id="not-evaluated"><thead><tr><th>Resource type</th>'
                   "<th>Scope</th><th>Reason</th></tr></thead><tbody>")
        for gap in missed:
            scope = ", ".join(sorted(gap.subscriptions))
            if gap.management_group:
                scope = f"management group {gap.management_group}" + (f"; {scope}" if scope else "")
            out.append(f'<tr><td class="mono">{esc(gap.resource_type or "-")}</td>'
                       f'<td class="mono">{esc(scope or "-")}</td>'
                       f'<td>{esc(gap.reason)}</td></tr>')
        out.append("</tbody></table>")
    if scan.truncated:
        out.append("<h3>Truncated queries</h3>" + _list(scan.truncated, ""))
    if scan.denied:  # each with the role that would allow it (docs/architecture.md, "Scan status")
        out.append("<h3>Denied reads</h3>" + _list((d.text() for d in scan.denied), ""))
    out.append("<h3>Inputs</h3>" + _list(context.inputs, "none"))
    out.append("<h3>Resources by type</h3>" + _count_table("resources-by-type", "evaluated", stats.resources))
    if stats.ignored:
        out.append(_count_table("ignored-by-type", "not read by any rule", stats.ignored))
    if context.waivers:
        out.append(_waivers(context.waivers))
    out.append("<h3>Notes</h3>" + _list(stats.notes, "none"))
    out.append("</section>")
    return "\n".join(out)


def _waivers(waivers: Sequence[Mapping[str, Any]]) -> str:
    out = ['<h3>Waivers</h3><table id="waivers"><thead><tr><th>Rule</th><th>Resource</th><th>Status</th>'
           '<th class="num">Matched</th><th>Owner</th><th>Expires</th><th>Justification</th>'
           "<th>Declared at</th></tr></thead><tbody>"]
    for item in sorted(waivers, key=_canonical):
        waiver = item.get("waiver", {})
        out.append("<tr>" + "".join(f"<td{cls}>{esc(value)}</td>" for cls, value in (
            (' class="nowrap"', waiver.get("rule", "")), (' class="mono"', waiver.get("resource", "")),
            ("", item.get("status", "")), (' class="num"', item.get("matched", 0)),
            ("", waiver.get("owner", "")), (' class="nowrap"', waiver.get("expires", "")),
            ("", waiver.get("justification", "")), (' class="mono"', waiver.get("source", "")))) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _canonical(value: object) -> str:
    """A sort key for JSON-shaped values: their canonical text."""
    return json.dumps(value, sort_keys=True, default=str)


def not_judged_section(scan: ScanStatus) -> str:
    """The files, rows and resources that could not be read, each where it is and why; and
    the data the rules needed and the input lacked, with the command that collects it. Empty
    when the scan judged everything it was given."""
    if not scan.input_errors and not scan.missing:
        return ""
    out = ['<section id="not-judged" aria-labelledby="h-not-judged">',
           '<h2 id="h-not-judged">Not judged: input errors and missing data</h2>']
    problems = sorted_problems(scan.input_errors)
    if problems:
        out.append(f"<h3>{esc(plural(len(problems), 'input error'))}</h3>"
                   '<p>Each could not be read, so no rule judged it; everything else was judged, and the '
                   "scan exits with 2.</p>"
                   '<table id="input-errors"><thead><tr><th>Location</th><th>Unit</th><th>Resource</th>'
                   "<th>Error</th></tr></thead><tbody>")
        for problem in problems:
            out.append(f'<tr data-unit="{esc(problem.unit.value)}"><td class="mono">'
                       f"{esc(problem.span.prefix())}</td><td>{esc(problem.unit.value)}</td>"
                       f'<td class="mono">{esc(problem.resource or "")}</td>'
                       f"<td>{esc(problem.message)}</td></tr>")
        out.append("</tbody></table>")
    if scan.missing:
        out.append("<h3>Missing data</h3><p>The rules read data the input did not hold, so their verdicts "
                   "on these resources are unknown. The command collects it.</p>"
                   '<table id="missing-data"><thead><tr><th>Missing</th><th class="num">Resources</th>'
                   "<th>Rules</th><th>To collect it</th></tr></thead><tbody>")
        for missing in scan.missing:
            rules = "".join(f'<li class="nowrap"><a href="#rule-{esc(r)}">{esc(r)}</a></li>'
                            for r in missing.rules)
            out.append(f"<tr><td>{esc(missing.what)}</td><td class=\"num\">{missing.resources}</td>"
                       f'<td><ul class="flat">{rules}</ul></td>'
                       f"<td><pre><code>{esc(missing.command)}</code></pre></td></tr>")
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out)
