"""Why a rule gave a resource its verdict: the rule's condition tree, each branch with the
verdict it reached and each comparison with the value it read.

Every node is evaluated with the same compiled closures a scan uses (the evaluator has one
code path), so an explanation can never disagree with the scan's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policyengine import ir
from policyengine.errors import Span
from policyengine.evaluator.evaluate import Context, RuleError, compile_condition, evaluate, resolve_related
from policyengine.findings import Evidence, Finding, Verdict
from policyengine.paths import MISSING
from policyengine.records.model import Record


@dataclass(frozen=True)
class Step:
    """One node of the condition tree as evaluated: what it says, its verdict, what it read."""

    text: str
    verdict: Verdict
    span: Span | None = None
    evidence: tuple[Evidence, ...] = ()
    children: tuple[Step, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.text, "verdict": self.verdict.value}
        if self.span is not None:
            out["rule"] = self.span.prefix()
        if self.evidence:
            out["evidence"] = [e.to_json() for e in self.evidence]
        if self.children:
            out["items"] = [c.to_json() for c in self.children]
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class RelatedState:
    """How one ``related`` resource was resolved for the record."""

    name: str
    type: str
    resource_name: str
    state: str  # found | absent | default assumed | not read
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "type": self.type, "resourceName": self.resource_name, "state": self.state}
        return {**out, "note": self.note} if self.note else out


@dataclass(frozen=True)
class Explanation:
    finding: Finding
    where: Step | None
    condition: Step | None  # None when the where clause made the rule not applicable
    related: tuple[RelatedState, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "finding": self.finding.to_json(),
            "where": self.where.to_json() if self.where else None,
            "condition": self.condition.to_json() if self.condition else None,
            "related": [r.to_json() for r in self.related],
        }


def explain(rule: ir.Rule, record: Record) -> Explanation:
    """The verdict of ``rule`` on ``record``, branch by branch."""
    finding = evaluate(rule, record)
    ctx = Context(record)
    where = _step(rule.where, rule, ctx) if rule.where is not None else None
    applies = where is None or where.verdict is not Verdict.FAIL
    condition = _step(rule.condition, rule, ctx) if applies else None
    related = tuple(_related(record, rel) for rel in rule.related)
    return Explanation(finding, where, condition, related)


def _step(node: ir.Condition, rule: ir.Rule, ctx: Context) -> Step:
    check = compile_condition(node, rule)
    try:
        verdict, evidence = check(ctx, MISSING)
    except RuleError as exc:
        return Step(describe(node), Verdict.ERROR, node.span, error=str(exc))
    children: tuple[Step, ...] = ()
    if isinstance(node, (ir.AllOf, ir.AnyOf)):
        children = tuple(_step(item, rule, ctx) for item in node.items)
    elif isinstance(node, ir.Not):
        children = (_step(node.item, rule, ctx),)
    leaf = isinstance(node, (ir.Compare, ir.Count))
    return Step(describe(node), verdict, node.span, tuple(evidence) if leaf else (), children)


def describe(node: ir.Condition) -> str:
    """A node as a person reads it: ``anyOf``, ``related.atp.properties.state equals "Enabled"``."""
    if isinstance(node, ir.AllOf):
        return "allOf (every item must hold)"
    if isinstance(node, ir.AnyOf):
        return "anyOf (one item must hold)"
    if isinstance(node, ir.Not):
        return "not"
    suffix = ""
    if isinstance(node, ir.Compare) and node.on_missing is not None:
        suffix = f" (onMissing: {node.on_missing.value})"
    if isinstance(node, ir.Count) and node.where is not None:
        suffix = " of the elements matching its where"
    return f"{node.path.text} {node.expected_text}{suffix}"


def _related(record: Record, rel: ir.Related) -> RelatedState:
    resolved = resolve_related(record, rel)
    if not resolved.observed:
        state = "not read"
    elif resolved.note and "default was assumed" in resolved.note:
        state = "default assumed"
    elif resolved.data is MISSING:
        state = "absent"
    elif isinstance(resolved.data, list):
        state = f"{len(resolved.data)} found"
    else:
        state = "found"
    return RelatedState(rel.name, rel.type, rel.resource_name, state, resolved.note)


def render(explanation: Explanation) -> str:
    """The explanation as text for a terminal."""
    finding = explanation.finding
    origin = finding.origin
    where = Span(origin.file, origin.line, origin.column).prefix()
    lines = [f"{finding.rule.id} on {finding.resource_id}",
             f"  from {where}" + (f" ({origin.address})" if origin.address else ""),
             f"  verdict: {finding.verdict.value} — {finding.message}", ""]
    if explanation.where is not None:
        lines.append("where (does the rule apply?):")
        lines += _tree(explanation.where, "  ")
    if explanation.condition is not None:
        lines.append("condition:")
        lines += _tree(explanation.condition, "  ")
    else:
        lines.append("condition: not evaluated (the where clause is false: the rule does not apply)")
    if explanation.related:
        lines.append("related:")
        for rel in explanation.related:
            note = f" — {rel.note}" if rel.note else ""
            every = rel.resource_name == ir.EVERY
            what = f"every {rel.type}" if every else f"{rel.type} '{rel.resource_name}'"
            lines.append(f"  {rel.name}: {what}: {rel.state}{note}")
    return "\n".join(lines) + "\n"


def _tree(step: Step, indent: str) -> list[str]:
    at = f"   [{step.span.prefix()}]" if step.span else ""
    lines = [f"{indent}{step.text} → {step.verdict.value.upper()}{at}"]
    for ev in step.evidence:
        lines.append(f"{indent}    read: {ev.sentence()}")
    if step.error:
        lines.append(f"{indent}    error: {step.error}")
    for child in step.children:
        lines += _tree(child, indent + "  ")
    return lines
