"""The Python back end: evaluate rules on records (see :mod:`.evaluate`) and run rule tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from policyengine import ir
from policyengine.evaluator.evaluate import CompiledRule, evaluate
from policyengine.findings import Finding
from policyengine.records.assemble import Wanted
from policyengine.records.model import Record

__all__ = ["RuleIndex", "evaluate", "evaluate_records"]


class RuleIndex:
    """Rules grouped by the (lower-case) resource type they target, so each record meets
    only the rules written for its type."""

    def __init__(self, rules: Sequence[ir.Rule]) -> None:
        self.rules = tuple(rules)
        self.by_type: dict[str, list[CompiledRule]] = {}
        for rule in self.rules:
            self.by_type.setdefault(rule.resource_type.lower(), []).append(CompiledRule(rule))

    def wanted(self) -> Wanted:
        """What records must carry for these rules (see :class:`Wanted`)."""
        children = {r.key for rule in self.rules for r in rule.related if r.scope is ir.Scope.CHILD}
        subs = {r.key for rule in self.rules for r in rule.related if r.scope is ir.Scope.SUBSCRIPTION}
        return Wanted(frozenset(self.by_type), frozenset(children), frozenset(subs))

    def for_record(self, record: Record) -> list[CompiledRule]:
        return self.by_type.get(record.type.lower(), [])


def evaluate_records(index: RuleIndex, records: Iterable[Record]) -> Iterator[Finding]:
    """Every (rule, record) verdict: records in input order, rules by id within a record."""
    for record in records:
        for rule in index.for_record(record):
            yield rule.evaluate(record)
