"""The JSON report (``schemas/report.schema.json``), streamed: findings are written as they
come, one per line, and everything else after them. Keys are sorted, and ``findings`` sorts
first, so the document is deterministic and still written in a single pass.

A finding is assembled from JSON fragments that repeat across an estate — the rule's, the
resource's (shared by the findings of one resource), and the evidence and message (shared by
every resource with the same values) — which :func:`finding_json` caches. The result is the
same text as ``json_text(finding.to_json())`` (``reports.common``); a test holds them equal.
"""

from __future__ import annotations

import functools
from typing import IO, Any

from policyengine import __version__, ir
from policyengine.findings import VERDICT_ORDER, Evidence, Finding, Verdict, compose_message
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import control_status, json_text
from policyengine.reports.fixes import fix_command
from policyengine.reports.template_fixes import template_fix

SCHEMA_VERSION = "1.0"


def _dumps(value: Any) -> str:
    # Strict JSON that a UTF-8 file can hold: a lone surrogate or a control character from the
    # input is a \u escape, a non-finite number a string (common.json_text).
    return json_text(value)


def rule_json(rule: ir.Rule) -> dict[str, Any]:
    meta = rule.metadata
    remediation = {"text": meta.remediation.text}
    if meta.remediation.portal:
        remediation["portal"] = meta.remediation.portal
    if meta.remediation.cli:
        remediation["cli"] = meta.remediation.cli
    return {
        "id": rule.id,
        "title": meta.title,
        "severity": meta.severity.label,
        "description": meta.description,
        "resource": rule.resource_type,
        "remediation": remediation,
        "references": list(meta.references),
        "controls": {k: list(v) for k, v in meta.controls},
        "tags": list(meta.tags),
    }


def _body(title: str, verdict: Verdict, evidence: tuple[Evidence, ...]) -> tuple[str, str]:
    return (_dumps([e.to_json() for e in evidence]),
            _dumps(compose_message(title, verdict, evidence)))


_body_cached = functools.lru_cache(maxsize=8192)(_body)
#: Evidence texts a report keeps by the identity of the evidence (see :meth:`_Fragments.body`).
BODIES = 8192
#: Findings written at a time: one write call for each is a tenth of the report's cost.
BATCH = 256


class _Fragments:
    """The cached pieces of finding JSON for one report."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self.resource_key: tuple[str, str, int] | None = None
        self.resource = ""
        self.bodies: dict[int, tuple[tuple[Evidence, ...], str, Verdict, tuple[str, str]]] = {}

    def rule(self, rule: ir.Rule) -> str:
        text = self.rules.get(rule.id)
        if text is None:
            text = self.rules[rule.id] = _dumps({"id": rule.id, "severity": rule.metadata.severity.label})
        return text

    def body(self, finding: Finding) -> tuple[str, str]:
        """The evidence and message of ``finding`` as JSON. The evaluator gives the findings
        of equal values the same evidence tuple (evaluator.evaluate.CompiledRule), so it is
        looked up by identity first: hashing evidence hashes every field of every item."""
        evidence, title, verdict = finding.evidence, finding.rule.metadata.title, finding.verdict
        entry = self.bodies.get(id(evidence))
        if entry is not None and entry[0] is evidence and entry[1] is title and entry[2] is verdict:
            return entry[3]
        try:
            text = _body_cached(title, verdict, evidence)
        except TypeError:  # evidence holding an array is not hashable
            text = _body(title, verdict, evidence)
        if len(self.bodies) >= BODIES:
            self.bodies.clear()
        # The entry holds the evidence, so its id is not reused while the entry lives.
        self.bodies[id(evidence)] = (evidence, title, verdict, text)
        return text

    def resource_of(self, finding: Finding) -> str:
        origin = finding.origin
        key = (finding.resource_id, origin.file, origin.line)
        if key != self.resource_key:
            self.resource_key = key
            self.resource = _dumps(resource_json(finding))
        return self.resource


def resource_json(finding: Finding) -> dict[str, Any]:
    """The ``resource`` member of a finding's JSON, as :meth:`Finding.to_json` makes it (built
    here directly: the whole finding's JSON would be made and thrown away per resource)."""
    origin = finding.origin
    source: dict[str, Any] = {"file": origin.file, "kind": origin.kind.value}
    if origin.line:
        source["line"] = origin.line
    if origin.column:
        source["column"] = origin.column
    if origin.address:
        source["address"] = origin.address
    return {"id": finding.resource_id, "type": finding.resource_type,
            "subscriptionId": finding.subscription_id, "source": source}


def fix_json(finding: Finding) -> str | dict[str, Any] | None:
    """A failure's ``fix``: for a deployed resource, the command that fixes it; for a
    template's or plan's, the edits to make (``{"kind": "template", "changes": [...]}``);
    None when the rule gives neither."""
    if finding.verdict is not Verdict.FAIL:
        return None
    if finding.origin.kind is ir.SourceKind.DECLARED:
        changes = template_fix(finding)
        return {"kind": "template", "changes": [c.to_json() for c in changes]} if changes else None
    return fix_command(finding)


def finding_json(finding: Finding, fragments: _Fragments) -> str:
    """One finding as report JSON (sorted keys), from cached fragments."""
    fix = fix_json(finding)
    if finding.error is not None or finding.waiver is not None or finding.baseline:
        document = finding.to_json()
        if fix:
            document["fix"] = fix
        return _dumps(document)
    evidence, message = fragments.body(finding)
    fixed = f'"fix": {_dumps(fix)}, ' if fix else ""
    return (f'{{"evidence": {evidence}, "fingerprint": "{finding.fingerprint}", {fixed}'
            f'"message": {message}, "resource": {fragments.resource_of(finding)}, '
            f'"rule": {fragments.rule(finding.rule)}, "verdict": "{finding.verdict.value}"}}')


def framework_json(summary: Summary, context: ReportContext) -> dict[str, Any] | None:
    """With ``--framework``: each control with its title, its rules, their verdict counts and
    its status; a control no rule maps to is ``not_covered``, with the reason."""
    chosen = context.framework
    if chosen is None:
        return None
    controls = []
    for control in chosen.controls:
        counts = [dict(summary.counts.get(r.id, {})) for r in control.rules]
        totals = {v.value: sum(c.get(v, 0) for c in counts) for v in VERDICT_ORDER}
        entry: dict[str, Any] = {"id": control.id, "rules": [r.id for r in control.rules],
                                 "status": control_status(control, summary).value, "verdicts": totals}
        if control.title:
            entry["title"] = control.title
        if not control.rules:
            entry["reason"] = control.reason
        controls.append(entry)
    block: dict[str, Any] = {"id": chosen.id, "title": chosen.title, "controls": controls,
                             "covered": chosen.covered}
    if chosen.scope:
        block["scope"] = chosen.scope
        block["sources"] = list(chosen.sources)
    return block


class JsonReporter:
    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.separator = "\n"
        self.fragments = _Fragments()
        self.pending: list[str] = ['{"findings": [']

    def add(self, finding: Finding) -> None:
        pending = self.pending
        pending.append(self.separator)
        pending.append(finding_json(finding, self.fragments))
        self.separator = ",\n"
        if len(pending) >= BATCH:
            self.out.write("".join(pending))
            pending.clear()

    def finish(self, summary: Summary, context: ReportContext) -> None:
        stats = context.stats
        rest = {
            "inputs": {
                "files": list(context.inputs),
                "rows": stats.rows,
                "resources": dict(sorted(stats.resources.items())),
                "ignored": dict(sorted(stats.ignored.items())),
                "orphans": stats.orphans,
            },
            "notes": stats.notes,
            "rules": [rule_json(r) for r in self.rules],
            "scan": context.scan.to_json(),
            "waivers": list(context.waivers),
            "baseline": context.baseline,
            "framework": framework_json(summary, context),
            "schemaVersion": SCHEMA_VERSION,
            "summary": {
                "total": summary.total(),
                "verdicts": {v.value: summary.total(v) for v in VERDICT_ORDER},
                "rules": [
                    {"id": r.id, "severity": r.metadata.severity.label,
                     **{v.value: summary.count(r.id, v) for v in VERDICT_ORDER}}
                    for r in self.rules
                ],
                "failOn": summary.fail_on.label,
                "failOnUnknown": summary.fail_on_unknown,
                "failing": summary.failing,
                "baselined": summary.baselined,
                # 2 with input errors; else the findings' code (an incomplete scan's code also
                # depends on --allow-incomplete, which scan.complete lets a reader apply).
                "exitCode": 2 if context.scan.input_errors else summary.exit_code,
            },
            "tool": {"name": "policyengine", "version": __version__},
        }
        tail = _dumps(rest)
        self.out.write("".join(self.pending))
        self.pending.clear()
        self.out.write(("" if self.separator == "\n" else "\n") + "], " + tail[1:] + "\n")
