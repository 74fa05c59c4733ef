"""The JSON report (``schemas/report.schema.json``), streamed: findings are written as they
come, one per line, and everything else after them. Keys are sorted, and ``findings`` sorts
first, so the document is deterministic and still written in a single pass."""

from __future__ import annotations

import json
from typing import IO, Any

from policyengine import __version__, ir
from policyengine.findings import VERDICT_ORDER, Finding
from policyengine.reports import ReportContext, Summary

SCHEMA_VERSION = "1.0"


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


class JsonReporter:
    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.first = True
        out.write('{"findings": [')

    def add(self, finding: Finding) -> None:
        self.out.write("\n" if self.first else ",\n")
        self.first = False
        self.out.write(json.dumps(finding.to_json(), sort_keys=True, ensure_ascii=False))

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
                "failing": summary.failing,
                "exitCode": summary.exit_code,
            },
            "tool": {"name": "policyengine", "version": __version__},
        }
        tail = json.dumps(rest, sort_keys=True, ensure_ascii=False)
        self.out.write(("" if self.first else "\n") + "], " + tail[1:] + "\n")
