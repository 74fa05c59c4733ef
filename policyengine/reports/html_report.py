"""The HTML report: one self-contained page a manager can read offline — the compliance
summary with charts per rule and per subscription, the framework's controls, a findings
table with filters, the rules' remediation, and the scan's status and inputs.

The page loads nothing: its style and script are inlined (``html/report.css``,
``html/report.js``), its charts are inline SVG drawn from the counts, and the findings reach
the script as a JSON data island. Everything is sorted and the only time it holds is when it
was generated, which ``SOURCE_DATE_EPOCH`` sets: with it, the same findings give a
byte-identical file (https://reproducible-builds.org/specs/source-date-epoch/).

The findings are a table on a wide screen and a card each below 1000 px (``report.css``);
printed, every finding that matches the filters is listed, whatever the page had shown.

Findings are held in memory until the end, because the page opens with the summary and the
table is sorted. Failing, erroring, unknown and waived findings are all kept: they are what
the page is for. Passing and not-applicable findings are kept only up to
:data:`QUIET_LIMIT` per verdict; past it the page lists none of that verdict and says so (a
partial list would read as a complete one), and its counts stay in the summary and charts.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from importlib import resources
from typing import IO, Any

from policyengine import __version__, ir
from policyengine.errors import Span
from policyengine.findings import VERDICT_ORDER, Finding, Verdict
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import json_text, visible_json
from policyengine.reports.fixes import fix_command
from policyengine.reports.html_scan import (
    Provenance,
    header,
    not_judged_section,
    scan_section,
    source_date_epoch,
)
from policyengine.reports.html_sections import LABELS, controls_section, esc, rules_section, summary_section
from policyengine.reports.json_report import rule_json
from policyengine.reports.table import short_resource
from policyengine.reports.template_fixes import fix_lines, template_fix

#: Passing or not-applicable findings listed at most, per verdict (each takes under 1 kB of page).
QUIET_LIMIT = 5000
_QUIET = (Verdict.PASS, Verdict.NOT_APPLICABLE)
#: Verdicts whose rows carry the command that fixes their resource (a passing one needs none).
_FIXABLE = frozenset({Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN, Verdict.WAIVED})
_ORDER = {v: i for i, v in enumerate(VERDICT_ORDER)}
NO_SUBSCRIPTION = "(no subscription)"


def _asset(name: str) -> str:
    return (resources.files("policyengine.reports") / "html" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(style: str, script: str) -> str:
    """The page's policy. ``default-src 'none'`` forbids every fetch — connections, images,
    fonts, frames — so the page can neither load anything nor send its findings anywhere.
    The inline style and script are allowed by their hashes rather than ``'unsafe-inline'``:
    should some text ever slip past escaping, a script it injected would not match a hash and
    would not run. ``base-uri`` and ``form-action`` do not fall back to ``default-src``."""
    return (f"default-src 'none'; style-src '{_sha256(style)}'; script-src '{_sha256(script)}'; "
            "base-uri 'none'; form-action 'none'")


def island_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<`` (so no ``</script>`` or
    ``<!--``), no ``>`` or ``&``, U+2028/U+2029 and lone surrogates escaped, no ``NaN``. Each is
    a JSON string escape, so ``JSON.parse`` reads the same value back."""
    text = json_text(value, separators=(",", ":"))  # U+2028, U+2029 and lone surrogates escaped there
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def subscription_label(finding: Finding) -> str:
    """The subscription a finding is grouped under: its GUID, or for a template or plan the
    text it declares (``[subscription().subscriptionId]``)."""
    return finding.subscription_id or NO_SUBSCRIPTION


def location(finding: Finding) -> str | None:
    """Where the resource is written down: ``file:line:col`` and the template resource or plan
    address for declared resources, the export's ``file:line`` for observed ones."""
    origin = finding.origin
    where = Span(origin.file, origin.line, origin.column).prefix() if origin.file else ""
    if origin.address:
        where = f"{where} · {origin.address}" if where else origin.address
    return where or None


def _sort_key(finding: Finding) -> tuple[Any, ...]:
    origin = finding.origin
    return (_ORDER[finding.verdict], -finding.rule.metadata.severity, finding.rule.id,
            finding.resource_id.lower(), finding.resource_id, origin.file, origin.line, origin.column,
            origin.address or "")


class HtmlReporter:
    """Collects findings and writes the page at :meth:`finish`."""

    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        # Read before the scan, so that a malformed value stops it before any work is done.
        self.epoch = source_date_epoch(os.environ)
        self.declared_files: set[str] = set()
        self.listed: list[Finding] = []
        self.quiet: dict[Verdict, list[Finding]] = {v: [] for v in _QUIET}
        self.quiet_seen: Counter[Verdict] = Counter()
        self.subscriptions: dict[str, Counter[Verdict]] = {}

    def add(self, finding: Finding) -> None:
        label = subscription_label(finding)
        counts = self.subscriptions.get(label)
        if counts is None:
            counts = self.subscriptions[label] = Counter()
        counts[finding.verdict] += 1
        if finding.origin.kind is ir.SourceKind.DECLARED:
            self.declared_files.add(finding.origin.file)
        if finding.verdict not in self.quiet:
            self.listed.append(finding)
            return
        self.quiet_seen[finding.verdict] += 1
        kept = self.quiet[finding.verdict]
        if self.quiet_seen[finding.verdict] <= QUIET_LIMIT:
            kept.append(finding)
        elif kept:
            kept.clear()  # past the limit: none of this verdict is listed

    def finish(self, summary: Summary, context: ReportContext) -> None:
        findings = sorted(self.listed + [f for v in _QUIET for f in self.quiet[v]], key=_sort_key)
        style, script = _asset("report.css"), _asset("report.js")
        policy = content_security_policy(style, script)
        write = self.out.write
        write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
              f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
              '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
              f'<meta name="generator" content="policyengine {esc(__version__)}">\n'
              "<title>Azure Database for PostgreSQL compliance report</title>\n"
              f"<style>{style}</style>\n</head>\n<body>\n")
        write(header(summary, context, subscriptions=tuple(self.subscriptions),
                     declared_files=len(self.declared_files), provenance=Provenance.at(self.epoch),
                     sections=self._sections(context)))
        write("<main>\n")
        write(summary_section(summary, context, self.subscriptions) + "\n")
        not_judged = not_judged_section(context.scan)
        if not_judged:
            write(not_judged + "\n")
        if context.framework is not None:
            write(controls_section(context.framework, summary) + "\n")
        write(self._findings_section(findings) + "\n")
        write(rules_section(self.rules, summary) + "\n")
        write(scan_section(summary, context) + "\n")
        write(f'<p class="muted">Written by policyengine {esc(__version__)}. With '
              "<code>SOURCE_DATE_EPOCH</code> set, the same findings give the same file.</p>\n</main>\n")
        # The islands' text is shown as the markup's is: control characters visibly.
        write('<script type="application/json" id="rules-data">'
              + island_json(visible_json([rule_json(r) for r in self.rules])) + "</script>\n")
        index = {r.id: i for i, r in enumerate(self.rules)}
        write('<script type="application/json" id="findings">[')
        for i, finding in enumerate(findings):
            write(("," if i else "") + "\n" + island_json(visible_json(self._row(finding, index))))
        write("\n]</script>\n")
        write(f"<script>{script}</script>\n</body>\n</html>\n")

    @staticmethod
    def _sections(context: ReportContext) -> list[tuple[str, str]]:
        sections = [("summary", "Summary")]
        if context.scan.input_errors or context.scan.missing:
            sections.append(("not-judged", "Not judged"))
        if context.framework is not None:
            sections.append(("controls", "Controls"))
        return [*sections, ("findings-section", "Findings"), ("rules", "Rules and remediation"),
                ("scan", "Scan status and inputs")]

    def _findings_section(self, findings: list[Finding]) -> str:
        subscriptions = sorted({subscription_label(f) for f in findings})
        verdicts = ['<option value="attention" selected>fail, error, unknown, waived</option>']
        for verdict in VERDICT_ORDER:
            seen = self.quiet_seen[verdict]
            if verdict in self.quiet and seen > QUIET_LIMIT:
                verdicts.append(f'<option value="{verdict.value}" disabled>{LABELS[verdict]} '
                                f"({seen}: too many to list)</option>")
            else:
                verdicts.append(f'<option value="{verdict.value}">{LABELS[verdict]}</option>')
        verdicts.append('<option value="all">every listed finding</option>')
        out = ['<section id="findings-section" aria-labelledby="h-findings">',
               '<h2 id="h-findings">Findings</h2>']
        omitted = [f"{self.quiet_seen[v]} {LABELS[v]}" for v in _QUIET if self.quiet_seen[v] > QUIET_LIMIT]
        if omitted:
            out.append(f'<p class="banner ok" id="omitted">Not listed here: {esc(", ".join(omitted))} '
                       f"findings (more than {QUIET_LIMIT} of a verdict; the summary counts them). "
                       "<code>--format json</code> lists every finding.</p>")
        out += ['<form id="filters" class="filters" role="search" aria-label="Filter findings">',
                _select("f-verdict", "Verdict", verdicts),
                _select("f-severity", "Severity", ['<option value="">any</option>'] + [
                    f'<option value="{s.label}">{s.label}</option>' for s in reversed(ir.Severity)]),
                _select("f-rule", "Rule", ['<option value="">any</option>'] + [
                    f'<option value="{esc(r)}">{esc(r)}</option>' for r in sorted(r.id for r in self.rules)]),
                _select("f-subscription", "Subscription", ['<option value="">any</option>'] + [
                    f'<option value="{esc(s)}">{esc(s)}</option>' for s in subscriptions]),
                '<label for="f-search">Search<input type="search" id="f-search" '
                'placeholder="resource, message, evidence…" autocomplete="off"></label>',
                '<button type="reset">Reset</button></form>',
                '<p id="findings-shown" aria-live="polite"></p>',
                "<noscript><p>The findings table needs JavaScript; the summary, the rules and the "
                "scan status do not.</p></noscript>",
                '<table id="findings-table"><colgroup>'
                + "".join(f'<col class="{c}">' for c in ("status", "rule", "resource", "detail"))
                + "</colgroup><thead><tr><th>Verdict</th><th>Rule</th>"
                "<th>Resource and location</th><th>What was found, and the fix</th>"
                '</tr></thead><tbody id="findings-body"></tbody></table>',
                '<button type="button" id="findings-more" hidden>Show more</button>',
                "</section>"]
        return "\n".join(out)

    @staticmethod
    def _row(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
        row: dict[str, Any] = {
            "rule": index[finding.rule.id],
            "verdict": finding.verdict.value,
            "resource": finding.resource_id,
            "name": short_resource(finding.resource_id),
            "subscription": subscription_label(finding),
            "location": location(finding),
            "message": _message(finding),
            "evidence": [{"outcome": e.outcome.value, "text": e.sentence()} for e in finding.evidence],
        }
        if finding.origin.kind is ir.SourceKind.DECLARED:
            # A template or plan is fixed in its file: the edit, where the rule gives one.
            changes = template_fix(finding)
            if changes:
                row["edit"] = "\n".join(fix_lines(changes))
        else:
            fix = fix_command(finding) if finding.verdict in _FIXABLE else None
            if fix is not None:
                row["fix"] = fix
        if finding.waiver is not None:
            row["waiver"] = finding.waiver.to_json()
        if finding.baseline:
            row["baseline"] = True
        return row


def _message(finding: Finding) -> str:
    """The finding's message without the rule title it opens with: the row shows the title
    beside it, and the message keeps its room for what was found."""
    title = finding.rule.metadata.title
    message = finding.message
    if message.startswith(f"{title} — "):
        return message[len(title) + 3:]
    return message.replace(f" — {title} — ", " — ", 1)  # a waiver's message: "waived until ... — title — ..."


def _select(control_id: str, label: str, options: list[str]) -> str:
    return f'<label for="{control_id}">{label}<select id="{control_id}">{"".join(options)}</select></label>'
