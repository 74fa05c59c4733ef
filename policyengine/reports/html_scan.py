"""The HTML report's account of the scan itself: the header an auditor files (scope, tool and
rules version, when, failures by severity); what it could not judge (input errors, and data
the rules needed and the input lacked); and its status and inputs — what was read, what was
not evaluated, the waivers and the notes. What a reader needs to trust, or not, the numbers
between them.

Every function returns markup in which each piece of text has gone through
:func:`~policyengine.reports.html_sections.esc`.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from policyengine import __version__, ir
from policyengine.errors import UsageError
from policyengine.findings import Verdict
from policyengine.reports import ReportContext, Summary
from policyengine.reports.html_sections import esc, exit_text, plural
from policyengine.status import ScanStatus, sorted_problems

#: The variable reproducible builds set to the time a build stands for, in seconds since the
#: epoch (https://reproducible-builds.org/specs/source-date-epoch/).
SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
#: Inputs and subscriptions the header names before it says how many more there are.
_NAMED = 5

_SOURCES = {
    "export": "Resource Graph export", "snapshot": "snapshot of live Azure",
    "live": "live Azure (Resource Graph and ARM)",
    "pre-deployment": "templates and plans (pre-deployment)",
    "mixed": "several kinds of input (exports, snapshots, templates or plans)",
}


def source_date_epoch(environ: Mapping[str, str]) -> int | None:
    """``SOURCE_DATE_EPOCH`` in seconds, or None when it is unset or empty (how CI unsets a
    variable). Anything but decimal digits, or a time no date can hold, is a
    :class:`UsageError`: the specification has a build fail rather than guess, since a report
    dated by the clock would silently break the byte-for-byte reproducibility asked for."""
    text = environ.get(SOURCE_DATE_EPOCH, "")
    if text == "":
        return None
    if not (text.isascii() and text.isdigit()):
        raise UsageError(f"{SOURCE_DATE_EPOCH} must be a whole number of seconds since 1970-01-01 UTC "
                         f"(as `date +%s` prints it), found {text!r}")
    try:
        datetime.datetime.fromtimestamp(int(text), datetime.UTC)
    except (OverflowError, ValueError, OSError):
        raise UsageError(f"{SOURCE_DATE_EPOCH}={text} is past any date a report can show") from None
    return int(text)


@dataclasses.dataclass(frozen=True)
class Provenance:
    """When the report was written, and whether that is the build's time
    (``SOURCE_DATE_EPOCH``) rather than the clock's."""

    generated: datetime.datetime
    reproducible: bool

    @classmethod
    def at(cls, epoch: int | None) -> Provenance:
        if epoch is None:
            return cls(datetime.datetime.now(datetime.UTC).replace(microsecond=0), False)
        return cls(datetime.datetime.fromtimestamp(epoch, datetime.UTC), True)


def rules_digest(rules: Iterable[ir.Rule]) -> str:
    """The rule set's version: the SHA-256 of what the rules judge and say (conditions,
    related resources, metadata), in id order. Where each rule was read from and its inline
    tests are left out, so the same rules give the same digest wherever they are installed;
    any change to a condition, a severity or a remediation gives another."""
    canonical = [_ir_value(rule) for rule in sorted(rules, key=lambda r: r.id)]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _ir_value(value: object) -> object:
    """An IR value as plain JSON: each dataclass by its compared fields (spans are not)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = (f for f in dataclasses.fields(value) if f.compare)
        return {"": type(value).__name__, **{f.name: _ir_value(getattr(value, f.name)) for f in fields
                                            if not (isinstance(value, ir.Rule) and f.name == "tests")}}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_ir_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _ir_value(v) for k, v in value.items()}
    return value


def failures_by_severity(summary: Summary) -> dict[ir.Severity, int]:
    """Failing findings (verdict fail, waived ones not) by their rule's severity, most severe
    first, every severity present."""
    counts = dict.fromkeys(reversed(ir.Severity), 0)
    for rule in summary.rules:
        counts[rule.metadata.severity] += summary.count(rule.id, Verdict.FAIL)
    return counts


def _some(names: Sequence[str], more: str) -> str:
    """The first names, each in monospace, and how many more there are."""
    shown = ", ".join(f'<span class="mono">{esc(n)}</span>' for n in names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more ({more})" if len(names) > _NAMED else "")


def header(summary: Summary, context: ReportContext, *, subscriptions: Sequence[str], declared_files: int,
           provenance: Provenance, sections: Sequence[tuple[str, str]]) -> str:
    """The page's header: what an auditor files with it. The scope (source, inputs,
    subscriptions, templates and plans, resources), the tool and rule set, when, the result
    and the failures by severity; then the sections.

    ``subscriptions`` are those the findings name: GUIDs, and for templates and plans the
    expression that chooses one at deployment (``[subscription().subscriptionId]``)."""
    scan, stats = context.scan, context.stats
    source = esc(_SOURCES.get(scan.source, scan.source))
    if scan.tenant_id:
        source += f' in tenant <span class="mono">{esc(scan.tenant_id)}</span>'
    named = sorted(s for s in subscriptions if not s.startswith("["))
    chosen = sorted(s for s in subscriptions if s.startswith("["))
    subs = f"{len(named)}: {_some(named, 'the chart By subscription names each')}" if named else "none named"
    if chosen:
        subs += "; chosen at deployment: " + ", ".join(f'<span class="mono">{esc(c)}</span>' for c in chosen)
    inputs = _some(sorted(context.inputs), "listed under Scan status and inputs")
    by_type = sorted(stats.resources.items(), key=lambda kv: (-kv[1], kv[0]))
    resources = f"{sum(stats.resources.values())} evaluated" + (" (" + ", ".join(
        f"{esc(t.rsplit('/', 1)[-1])} {n}" for t, n in by_type if n) + ")" if by_type else "")
    facts = [("Source", source),
             ("Inputs", f"{len(context.inputs)}{': ' + inputs if context.inputs else ''}"),
             ("Subscriptions", subs)]
    if declared_files or scan.source in ("pre-deployment", "mixed"):
        facts.append(("Templates and plans",
                      f"{plural(declared_files, 'file')} declaring resources the rules judged"))
    digest = rules_digest(summary.rules)
    when = provenance.generated
    facts += [
        ("Resources", resources),
        ("Tool", f"policyengine {esc(__version__)}"),
        ("Rules", f'{plural(len(summary.rules), "rule")}; rule set <span class="mono" id="rules-digest" '
                  f'title="SHA-256 of the rules\' conditions and metadata: the same rules give the same '
                  f'digest">sha256:{digest[:16]}</span>'),
        ("Generated", f'<time id="generated" datetime="{when.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
                      f'{when.strftime("%Y-%m-%d %H:%M:%S")} UTC</time>'
                      + (f" (<code>{SOURCE_DATE_EPOCH}</code>)" if provenance.reproducible else "")),
        ("Result", f"{summary.failing} failing at or above severity {esc(summary.fail_on.label)}; "
                   + (f"{summary.outside_gate} more from posture rules, which do not set the exit code; "
                      if summary.outside_gate else "")
                   + f"{exit_text(summary, context)}; the scan is "
                   + ("complete" if context.complete else '<strong>incomplete</strong>')),
    ]
    severities = "".join(f'<li class="sev-{s.label}"><span class="count" data-severity="{s.label}">{n}</span>'
                         f"{s.label}</li>" for s, n in failures_by_severity(summary).items())
    facts.append(("Failures by severity",
                  f'<ul class="severities" id="severity-breakdown">{severities}</ul>'))
    links = "".join(f'<li><a href="#{anchor}">{text}</a></li>' for anchor, text in sections)
    return ("<header>\n<h1>Azure Database for PostgreSQL compliance report</h1>\n"
            '<dl class="facts" id="about">'
            + "".join(f"<dt>{esc(term)}</dt><dd>{value}</dd>" for term, value in facts)
            + f'</dl>\n<nav aria-label="Sections"><ul>{links}</ul></nav>\n</header>\n')


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
    unread, others = split_ignored(summary.rules, stats.ignored)
    source = scan.source
    read = "declared resources" if source == "pre-deployment" else "rows"
    errors = plural(len(scan.input_errors), "input error")
    facts = [
        ("Source", esc(_SOURCES.get(source, source))),
        ("Status", "complete" if context.complete else "<strong>incomplete</strong>"),
        ("Input errors", f'<a href="#input-errors"><strong>{errors}</strong></a>: not judged, exit code 2'
                         if scan.input_errors else errors),
        ("Read", f"{stats.rows} {read}; {sum(stats.resources.values())} resources evaluated, "
                 f"{sum(unread.values())} of types no rule reads"
                 + (f", {sum(others.values())} of types the rules read but not ones they need (such as "
                    "other server parameters)" if others else "")),
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
    if unread:
        out.append(_count_table("ignored-by-type", "not read by any rule", unread))
    if others:
        out.append(_others_table(summary.rules, others))
    if context.waivers:
        out.append(_waivers(context.waivers))
    out.append("<h3>Notes</h3>" + _list(stats.notes, "none"))
    out.append("</section>")
    return "\n".join(out)


def read_by_rules(rules: Iterable[ir.Rule]) -> dict[str, set[str]]:
    """Each lower-case type the rules read, with the names they read of it: a target type
    (every resource of it: no names) and each related child or subscription-scope resource
    (only the named ones: ``require_secure_transport`` of a server's 350 parameters)."""
    read: dict[str, set[str]] = {}
    for rule in rules:
        read.setdefault(rule.resource_type.lower(), set())
        for related in rule.related:
            read.setdefault(related.type.lower(), set()).add(related.resource_name)
    return read


def split_ignored(rules: Iterable[ir.Rule],
                  ignored: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """The rows the scan set aside, by type, in two: types no rule reads, and types a rule
    reads of which these rows are others than the ones it needs (another server parameter,
    another Defender plan). The scan counts both as ignored; only the first are unread."""
    read = read_by_rules(rules)
    unread = {t: n for t, n in ignored.items() if t not in read}
    return unread, {t: n for t, n in ignored.items() if t in read}


def _others_table(rules: Iterable[ir.Rule], others: Mapping[str, int]) -> str:
    read = read_by_rules(rules)
    rows = "".join(f'<tr><td class="mono">{esc(t)}</td><td class="num">{n}</td>'
                   f'<td class="mono">{esc(", ".join(sorted(read[t])))}</td></tr>'
                   for t, n in sorted(others.items()))
    return ('<p class="muted">Types the rules read, whose other rows they do not need (the rules read one '
            "or two of a server's parameters, one Defender plan of a subscription's):</p>"
            '<table id="other-rows-by-type" class="compact"><thead><tr><th>read by the rules</th>'
            '<th class="num">other rows</th><th>the rows the rules read</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


_WAIVER_COLUMNS = ("Rule", "Resource", "Status", "Matched", "Owner", "Expires", "Justification",
                   "Declared at")


def _waivers(waivers: Sequence[Mapping[str, Any]]) -> str:
    # class "stack": below 1000 px each row is a block, each cell labelled by its heading
    # (data-label), as eight columns do not fit.
    heads = "".join('<th class="num">Matched</th>' if h == "Matched" else f"<th>{h}</th>"
                    for h in _WAIVER_COLUMNS)
    out = [f'<h3>Waivers</h3><table id="waivers" class="stack"><thead><tr>{heads}</tr></thead><tbody>']
    for item in sorted(waivers, key=_canonical):
        waiver = item.get("waiver", {})
        cells = ((' class="nowrap"', waiver.get("rule", "")), (' class="mono"', waiver.get("resource", "")),
                 ("", item.get("status", "")), (' class="num"', item.get("matched", 0)),
                 ("", waiver.get("owner", "")), (' class="nowrap"', waiver.get("expires", "")),
                 ("", waiver.get("justification", "")), (' class="mono"', waiver.get("source", "")))
        labelled = zip(_WAIVER_COLUMNS, cells, strict=True)
        out.append("<tr>" + "".join(f'<td{cls} data-label="{head}">{esc(value)}</td>'
                                    for head, (cls, value) in labelled) + "</tr>")
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
            # A break may come after each slash of a type: flexibleServers/<wbr>configurations.
            what = esc(missing.what).replace("/", "/<wbr>")
            out.append(f"<tr><td>{what}</td><td class=\"num\">{missing.resources}</td>"
                       f'<td><ul class="flat">{rules}</ul></td>'
                       f"<td><pre><code>{esc(missing.command)}</code></pre></td></tr>")
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out)
