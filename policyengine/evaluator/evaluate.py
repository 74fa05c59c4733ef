"""The Python back end: rule × record → finding, in Kleene's three-valued logic.

* ``allOf`` fails if any item fails, else is unknown if any item is unknown, else passes.
* ``anyOf`` passes if any item passes, else is unknown if any is unknown, else fails.
* A comparison whose value is absent yields the rule's ``onMissing`` (``exists`` and
  ``hasValue`` are about presence and never do).
* Related data that an observed source (an export, a live scan) did not read yields
  ``unknown`` with the reason, whatever ``onMissing`` says: Azure always has every server
  parameter and ATP setting, so its absence from the input says nothing about the server.
  A declared source (a template, a plan) that does not set it gets the platform default.
* A type the operator cannot compare is an ``error`` verdict, never a pass or a fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policyengine import ir
from policyengine.findings import Evidence, Finding, Verdict
from policyengine.operators import OPERATORS, OperandError, presence_holds
from policyengine.paths import MISSING, FieldPath, lookup
from policyengine.records.model import SUBSCRIPTION_TYPE, Record

PASS, FAIL, UNKNOWN = Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN
_ON_MISSING = {ir.OnMissing.PASS: PASS, ir.OnMissing.FAIL: FAIL, ir.OnMissing.UNKNOWN: UNKNOWN}


class RuleError(Exception):
    """The rule cannot be evaluated on this record (an operand of the wrong type)."""


@dataclass(frozen=True)
class _Related:
    """Related data as resolved for one record: the data (or MISSING), whether it was
    observed at all, and a note for the evidence."""

    data: Any
    observed: bool
    note: str | None = None


def _holder(record: Record, rel: ir.Related) -> Record | None:
    if rel.scope is ir.Scope.CHILD:
        return record
    if record.type.lower() == SUBSCRIPTION_TYPE:
        return record
    return record.subscription


def resolve_related(record: Record, rel: ir.Related) -> _Related:
    holder = _holder(record, rel)
    if holder is None:
        return _Related(MISSING, False, f"{record.id} has no subscription to read {rel.type} from")
    children: Mapping[Any, Any] = holder.children
    if rel.key in children:
        child = children[rel.key]
        return _Related(MISSING if child is None else child, True)
    if holder.origin.kind is ir.SourceKind.DECLARED and rel.scope is ir.Scope.CHILD:
        # A template declares its resources' children; it does not own the subscription, so
        # a subscription-scope resource it does not contain stays not observed.
        if rel.default is not None:
            return _Related(rel.default, True, f"{rel.type} '{rel.resource_name}' is not "
                            "declared; the platform default was assumed")
        return _Related(MISSING, True)
    reason = holder.unread.get(rel.type.lower())
    if reason is None:
        owner = "the subscription's" if rel.scope is ir.Scope.SUBSCRIPTION else "the resource's"
        reason = (f"not read: {owner} {rel.type.split('/', 1)[1]} '{rel.resource_name}' is not in "
                  "the input, though Azure always has one")
    return _Related(MISSING, False, reason)


class _Evaluation:
    """One rule on one record. Related data is resolved once per rule and record."""

    __slots__ = ("record", "related", "rule")

    def __init__(self, rule: ir.Rule, record: Record) -> None:
        self.rule = rule
        self.record = record
        self.related: dict[str, _Related] = {}

    def value(self, path: FieldPath, element: Any) -> tuple[Any, bool, str | None]:
        """The value at ``path``, whether its source was observed, and a note."""
        if path.element:
            return lookup(element, path.segments), True, None
        if path.is_related:
            name = path.related_name
            rel = self.related.get(name)
            if rel is None:
                spec = self.rule.related_named(name)
                assert spec is not None, "the loader checks related names"
                rel = self.related[name] = resolve_related(self.record, spec)
            if not rel.observed:
                return MISSING, False, rel.note
            if rel.data is MISSING:
                return MISSING, True, rel.note
            return lookup(rel.data, path.segments[2:]), True, rel.note
        return lookup(self.record.data, path.segments), True, None

    def run(self, node: ir.Condition, element: Any = MISSING) -> tuple[Verdict, list[Evidence]]:
        if isinstance(node, ir.Compare):
            return self.compare(node, element)
        if isinstance(node, ir.Count):
            return self.count(node, element)
        if isinstance(node, ir.Not):
            verdict, evidence = self.run(node.item, element)
            return {PASS: FAIL, FAIL: PASS}.get(verdict, verdict), evidence
        results = [self.run(item, element) for item in node.items]
        decisive = FAIL if isinstance(node, ir.AllOf) else PASS
        for wanted in (decisive, UNKNOWN):
            if any(verdict is wanted for verdict, _ in results):
                # An undecided anyOf shows its failing items too: they are why it is no pass.
                keep = (UNKNOWN, FAIL) if wanted is UNKNOWN and decisive is PASS else (wanted,)
                return wanted, [ev for verdict, evs in results if verdict in keep for ev in evs]
        other = PASS if decisive is FAIL else FAIL
        return other, [ev for _, evs in results for ev in evs]

    def compare(self, node: ir.Compare, element: Any) -> tuple[Verdict, list[Evidence]]:
        value, observed, note = self.value(node.path, element)
        expected = node.expected_text
        if not observed:
            return UNKNOWN, [Evidence(node.path.text, expected, None, False, UNKNOWN, note)]
        present = value is not MISSING
        op = OPERATORS[node.op]
        if op.presence:
            verdict = PASS if presence_holds(node.op, value, present) == node.value else FAIL
        elif not present:
            # The rule's onMissing speaks of the resource's data. An array element compared in
            # count.where that lacks the value simply does not match, unless the leaf says so.
            default = ir.OnMissing.FAIL if node.path.element else self.rule.on_missing
            on_missing = node.on_missing or default
            verdict = _ON_MISSING[on_missing]
            note = f"absent, so onMissing: {on_missing.value}" + (f"; {note}" if note else "")
        else:
            try:
                holds = op.predicate(value, node.value, node.case_sensitive)
            except OperandError as exc:
                raise RuleError(f"{node.path.text}: {exc}") from None
            verdict = PASS if holds else FAIL
        actual = value if present else None
        return verdict, [Evidence(node.path.text, expected, actual, present, verdict, note)]

    def count(self, node: ir.Count, element: Any) -> tuple[Verdict, list[Evidence]]:
        value, observed, note = self.value(node.path, element)
        expected = node.expected_text
        if not observed:
            return UNKNOWN, [Evidence(node.path.text, expected, None, False, UNKNOWN, note)]
        if value is MISSING:
            items: list[Any] = []  # an absent array has no elements, as in Azure Policy
        elif isinstance(value, list):
            items = value
        else:
            raise RuleError(f"{node.path.text}: count needs an array, found {type(value).__name__}")
        matched = uncertain = 0
        for item in items:
            verdict = PASS if node.where is None else self.run(node.where, item)[0]
            matched += verdict is PASS
            uncertain += verdict is UNKNOWN
        predicate = OPERATORS[node.op].predicate
        low, high = predicate(matched, node.value, True), predicate(matched + uncertain, node.value, True)
        verdict = (PASS if low else FAIL) if low == high else UNKNOWN
        shown: Any = value if value is not MISSING else None
        counted = f"{matched} matching" + (f", {uncertain} undecided" if uncertain else "")
        return verdict, [Evidence(node.path.text, expected, shown, value is not MISSING, verdict,
                                  counted + (f"; {note}" if note else ""))]


def _message(rule: ir.Rule, verdict: Verdict, evidence: list[Evidence]) -> str:
    detail = "; ".join(e.sentence() for e in evidence[:3])
    if len(evidence) > 3:
        detail += f"; and {len(evidence) - 3} more"
    if verdict is Verdict.NOT_APPLICABLE:
        return f"not applicable: {detail}"
    if verdict is Verdict.UNKNOWN:
        return f"cannot tell: {detail}"
    if verdict is Verdict.FAIL:
        return f"{rule.metadata.title} — not met: {detail}"
    return f"{rule.metadata.title} — met: {detail}"


def evaluate(rule: ir.Rule, record: Record) -> Finding:
    """The verdict of ``rule`` on ``record``, with evidence and a message."""
    evaluation = _Evaluation(rule, record)
    try:
        verdict, evidence = PASS, list[Evidence]()
        if rule.where is not None:
            applies, evidence = evaluation.run(rule.where)
            if applies is FAIL:
                verdict = Verdict.NOT_APPLICABLE
            elif applies is UNKNOWN:
                verdict = UNKNOWN
        if verdict is PASS:
            verdict, evidence = evaluation.run(rule.condition)
        message = _message(rule, verdict, evidence)
    except RuleError as exc:
        verdict, evidence, message = Verdict.ERROR, [], f"the rule could not be evaluated: {exc}"
    return Finding(
        rule=rule,
        resource_id=record.id,
        resource_type=record.type,
        subscription_id=record.subscription_id,
        verdict=verdict,
        message=message,
        evidence=tuple(evidence),
        origin=record.origin,
    )
