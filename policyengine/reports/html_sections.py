"""The server-rendered parts of the HTML report: the summary with its charts, the framework's
controls, and the rules and their remediation (the scan's status and inputs: ``html_scan``).

Every function returns markup in which each piece of text has gone through :func:`esc`; the
findings table is the only part the page's script draws (``html_report``).
"""

from __future__ import annotations

import html
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence

from policyengine import frameworks, ir
from policyengine.findings import VERDICT_ORDER, Verdict
from policyengine.frameworks import Framework
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import exit_code, visible

#: Short verdict names, as charts and badges show them.
LABELS = {
    Verdict.FAIL: "fail", Verdict.ERROR: "error", Verdict.UNKNOWN: "unknown",
    Verdict.WAIVED: "waived", Verdict.PASS: "pass", Verdict.NOT_APPLICABLE: "n/a",
}
#: How a control's status is written.
_CONTROL_LABELS = {
    frameworks.ControlStatus.FAIL: "fail", frameworks.ControlStatus.UNKNOWN: "unknown",
    frameworks.ControlStatus.PASS: "pass", frameworks.ControlStatus.NOT_APPLICABLE: "n/a",
    frameworks.ControlStatus.NOT_COVERED: "not covered",
}
#: What a summary card says under its number.
_CARD_TEXT = {
    Verdict.FAIL: "fail", Verdict.ERROR: "error (not evaluated)", Verdict.UNKNOWN: "unknown",
    Verdict.WAIVED: "waived", Verdict.PASS: "pass", Verdict.NOT_APPLICABLE: "not applicable",
}

# Chart geometry, in SVG user units. Text is drawn in a monospace font so that its width is
# known without measuring it. Each row is its caption (up to two lines; what is longer is cut
# and shown whole in a tooltip) above its bar, so a chart is as wide as a bar and its tally
# (about 650 units, which an 800 px window shows unscaled) however long the rule titles are.
_LINE_H = 15
_BAR_H = 16
_ROW_GAP = 12
_BAR_W = 360.0
_CHAR_W = 7.3
_CAPTION_LINES = 2
#: The widest a chart is drawn for its captions (an 800 px window's content is about 750 px).
_MAX_W = 720


def esc(text: object) -> str:
    """Text as HTML, quotes included, so it is safe in element content and attribute values;
    control characters and lone surrogates written visibly (``\\x1b``: common.visible)."""
    return html.escape(visible(str(text)), quote=True)


def plural(count: int, noun: str) -> str:
    """``1 input error``, ``2 input errors``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def exit_text(summary: Summary, context: ReportContext) -> str:
    """The exit code the scan ends with, as far as the report knows it."""
    code = exit_code(summary, context.scan)
    if code is not None:
        return f"exit code {code}"
    return f"exit code 3 ({summary.exit_code} with <code>--allow-incomplete</code>)"


def tally(counts: Mapping[Verdict, int]) -> str:
    """``3 fail · 4 pass``: the verdicts with findings, in summary order."""
    parts = [f"{counts[v]} {LABELS[v]}" for v in VERDICT_ORDER if counts.get(v)]
    return " · ".join(parts) or "no resources"


def _lines(text: str, chars: int) -> list[str]:
    """``text`` in lines of at most ``chars``, broken at spaces where it can be; past
    :data:`_CAPTION_LINES` lines the last is cut with an ellipsis."""
    lines = textwrap.wrap(text, chars, break_on_hyphens=False) or [""]
    if len(lines) > _CAPTION_LINES:
        last = " ".join(lines[_CAPTION_LINES - 1:])
        lines = [*lines[:_CAPTION_LINES - 1], last[:chars - 1] + "…"]
    return lines


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, str, Mapping[Verdict, int]]]) -> str:
    """A horizontal stacked bar per row, scaled to the row's total (the share of each verdict),
    with its caption above and the counts as text on the right. A row is ``(key, caption,
    counts)``: the key names the row (``data-label``), the caption is what a reader sees
    (a rule's id and title); a caption starts with its key, drawn bold.

    The ``<svg>`` is an image to assistive technology, named by its ``<title>`` and described by
    a ``<desc>`` that says every row's counts; each caption and segment has a tooltip of its own.
    """
    bars = round(_BAR_W + 16 + max((len(tally(c)) for _, _, c in rows), default=0) * _CHAR_W)
    captions = round(max((len(caption) for _, caption, _ in rows), default=0) * _CHAR_W)
    width = max(bars, min(captions, _MAX_W))
    chars = int(width / _CHAR_W)
    captions_lines = [_lines(caption, chars) for _, caption, _ in rows]
    height = sum(len(lines) * _LINE_H + _BAR_H + _ROW_GAP for lines in captions_lines) or _BAR_H
    desc = "; ".join(f"{caption}: {tally(counts)}" for _, caption, counts in rows) or "no findings"
    out = [f'<svg id="{chart_id}" class="chart" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-title {chart_id}-desc">',
           f'<title id="{chart_id}-title">{esc(title)}</title>',
           f'<desc id="{chart_id}-desc">{esc(desc)}</desc>']
    top = 0
    for (key, caption, counts), lines in zip(rows, captions_lines, strict=True):
        total = sum(counts.get(v, 0) for v in VERDICT_ORDER)
        out.append(f'<g class="bar" data-label="{esc(key)}" data-total="{total}">')
        spans = []
        for i, line in enumerate(lines):
            shown = (f'<tspan class="key">{esc(key)}</tspan>{esc(line[len(key):])}'
                     if i == 0 and key and line.startswith(key) else esc(line))
            spans.append(f'<tspan x="0" y="{top + (i + 1) * _LINE_H - 3}">{shown}</tspan>')
        out.append(f'<text class="label"><title>{esc(caption)}</title>{"".join(spans)}</text>')
        y = top + len(lines) * _LINE_H
        top = y + _BAR_H + _ROW_GAP
        if not total:
            out.append(f'<rect class="empty" x="0" y="{y}" width="{_BAR_W:.2f}" height="{_BAR_H}"/>')
        done = 0
        for verdict in VERDICT_ORDER:
            n = counts.get(verdict, 0)
            if not n:
                continue
            x0, x1 = _BAR_W * done / total, _BAR_W * (done + n) / total
            done += n
            out.append(f'<rect class="seg v-{verdict.value}" data-verdict="{verdict.value}" '
                       f'data-count="{n}" x="{x0:.2f}" y="{y}" width="{x1 - x0:.2f}" '
                       f'height="{_BAR_H}"><title>{esc(key)}: {n} {LABELS[verdict]} of {total}'
                       "</title></rect>")
        out.append(f'<text class="tally" x="{int(_BAR_W) + 8}" y="{y + 12}">'
                   f'{esc(tally(counts))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _legend() -> str:
    items = "".join(f'<li class="v-{v.value}"><span class="swatch"></span>{esc(_CARD_TEXT[v])}</li>'
                    for v in VERDICT_ORDER)
    return f'<ul class="legend" aria-hidden="true">{items}</ul>'


def summary_section(summary: Summary, context: ReportContext,
                    subscriptions: Mapping[str, Counter[Verdict]]) -> str:
    """The headline: whether the scan saw everything, the counts by verdict, and the charts."""
    out = ['<section id="summary" aria-labelledby="h-summary">',
           '<h2 id="h-summary">Compliance summary</h2>']
    if context.complete:
        out.append('<p class="banner ok" id="scan-state" data-complete="true">The scan is complete: '
                   'every resource type the rules read was evaluated.</p>')
    else:
        out.append('<p class="banner bad" id="scan-state" data-complete="false">The scan is '
                   'INCOMPLETE: some resources were not evaluated, so this report may miss failures. '
                   '<a href="#scan">What was not evaluated</a>.</p>')
    scan = context.scan
    if scan.input_errors:
        errors = esc(plural(len(scan.input_errors), "input error"))
        out.append(f'<p class="banner bad" id="input-errors-state">{errors}: files, rows or resources that '
                   "could not be read were not judged; everything else was. "
                   '<a href="#input-errors">Where, and why</a>.</p>')
    if scan.missing:
        lacking = sum(m.resources for m in scan.missing)
        out.append(f'<p class="banner warn" id="missing-state">Missing data: {plural(lacking, "resource")} '
                   f"lack{'s' if lacking == 1 else ''} data the rules read, so some verdicts are unknown. "
                   '<a href="#missing-data">What is missing, and the command that collects it</a>.</p>')
    threshold = esc(summary.fail_on.label)
    headline = (f"{summary.failing} failing finding{'s' if summary.failing != 1 else ''} at or above "
                f"severity <strong>{threshold}</strong>")
    if summary.fail_on_unknown:
        headline += " (unknown verdicts count as failures)"
    if summary.baselined:
        headline += f"; {summary.baselined} more already in the baseline, not counted"
    out.append(f'<p id="headline">{headline}; {exit_text(summary, context)}.</p>')
    out.append('<ul class="counts" id="verdict-counts">')
    for verdict in VERDICT_ORDER:
        out.append(f'<li class="v-{verdict.value}"><span class="count" data-verdict="{verdict.value}">'
                   f'{summary.total(verdict)}</span>{esc(_CARD_TEXT[verdict])}</li>')
    out.append(f'<li><span class="count" data-verdict="total">{summary.total()}</span>verdicts in all</li>')
    out.append("</ul>")
    out.append(_legend())
    out.append('<h3>By rule</h3>')
    out.append(bar_chart("chart-rules", "Verdicts by rule",
                         [(r.id, f"{r.id} — {r.metadata.title}", summary.counts.get(r.id, Counter()))
                          for r in summary.rules]))
    out.append('<h3>By subscription</h3>')
    out.append('<p class="muted">Templates and plans name their subscription by the expression that '
               'gives it at deployment; their findings are grouped under that text.</p>')
    out.append(bar_chart("chart-subscriptions", "Verdicts by subscription",
                         [(label, label, counts) for label, counts in sorted(subscriptions.items())]))
    out.append("</section>")
    return "\n".join(out)


def controls_section(framework: Framework, summary: Summary) -> str:
    """Every control of the framework with its status (the worst of its rules'), its rules and
    its title; for one no rule covers, why."""
    statuses = {c.id: frameworks.status([summary.counts.get(r.id, Counter()) for r in c.rules])
                for c in framework.controls}
    overall = Counter(statuses.values())
    counts = " · ".join(f"{overall[s]} {_CONTROL_LABELS[s]}" for s in frameworks.ControlStatus if overall[s])
    scope = f" Listed: {esc(framework.scope)}." if framework.scope else ""
    out = ['<section id="controls" aria-labelledby="h-controls">',
           f'<h2 id="h-controls">Controls: {esc(framework.title)} <span class="muted">'
           f'({esc(framework.id)})</span></h2>',
           f'<p>{len(framework.controls)} controls, {framework.covered} covered by the rules: {esc(counts)}. '
           "A control fails if any of its rules fails on any resource, and is unknown if any could not be "
           f"judged.{scope}</p>",
           '<table id="controls-table"><thead><tr><th>Control</th><th>Status</th><th>Rules</th>'
           "<th>Title</th></tr></thead><tbody>"]
    for control in framework.controls:
        status = statuses[control.id]
        rules = "".join(f'<li><a href="#rule-{esc(r.id)}">{esc(r.id)}</a> '
                        f'<span class="muted">{esc(tally(summary.counts.get(r.id, Counter())))}</span></li>'
                        for r in control.rules)
        title = esc(control.title)
        if not control.rules:
            title += f'<div class="muted">Not covered: {esc(control.reason)}</div>'
        out.append(f'<tr data-control="{esc(control.id)}" data-status="{status.value}">'
                   f'<td class="mono">{esc(control.id)}</td>'
                   f'<td><span class="badge v-{status.value}">{esc(_CONTROL_LABELS[status])}</span></td>'
                   f'<td><ul class="flat">{rules}</ul></td><td>{title}</td></tr>')
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _link(url: str) -> str:
    """A web reference as a link; anything else (a custom rule may say anything) as text."""
    if url.lower().startswith(("https://", "http://")):
        return f'<a class="url" href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>'
    return esc(url)


def rules_section(rules: Sequence[ir.Rule], summary: Summary) -> str:
    """Each rule: what it checks, how it fared, and how to fix a failure. Rules with failures
    or errors are open, so a reader sees first what needs doing."""
    out = ['<section id="rules" aria-labelledby="h-rules">', '<h2 id="h-rules">Rules and remediation</h2>']
    for rule in rules:
        meta = rule.metadata
        counts = summary.counts.get(rule.id, Counter())
        opened = " open" if counts.get(Verdict.FAIL) or counts.get(Verdict.ERROR) else ""
        out.append(f'<details class="rule" id="rule-{esc(rule.id)}"{opened}>'
                   f'<summary>{esc(rule.id)} — {esc(meta.title)} <span class="badge plain">'
                   f'{esc(meta.severity.label)}</span> <span class="muted">{esc(tally(counts))}</span>'
                   f'</summary>')
        out.append(f'<p class="prose">{esc(meta.description)}</p>')
        out.append(f'<p class="muted">Resource type: <span class="mono">{esc(rule.resource_type)}</span>'
                   + "".join(f"; {esc(fid)}: {esc(', '.join(cids))}" for fid, cids in meta.controls)
                   + "</p>")
        out.append(f'<h4>Remediation</h4><p class="prose">{esc(meta.remediation.text)}</p>')
        if meta.remediation.portal:
            out.append(f'<h4>In the Azure portal</h4><p class="prose">{esc(meta.remediation.portal)}</p>')
        if meta.remediation.cli:
            out.append(f"<h4>With the Azure CLI</h4><pre><code>{esc(meta.remediation.cli)}</code></pre>")
        if meta.references:
            links = "".join(f"<li>{_link(ref)}</li>" for ref in meta.references)
            out.append(f'<h4>References</h4><ul class="flat">{links}</ul>')
        out.append("</details>")
    out.append("</section>")
    return "\n".join(out)
