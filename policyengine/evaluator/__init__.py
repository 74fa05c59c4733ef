"""The Python back end: evaluate rules on records (see :mod:`.evaluate`) and run rule tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from policyengine import ir
from policyengine.evaluator.evaluate import CompiledRule, evaluate
from policyengine.findings import Finding
from policyengine.paths import Projection, add_to_projection
from policyengine.records.model import Record
from policyengine.records.wanted import Keys, Wanted

__all__ = ["RuleIndex", "evaluate", "evaluate_records"]


class RuleIndex:
    """Rules grouped by the (lower-case) resource type they target, so each record meets
    only the rules written for its type."""

    def __init__(self, rules: Sequence[ir.Rule]) -> None:
        self.rules = tuple(rules)
        self._wanted: Wanted | None = None
        self.by_type: dict[str, list[CompiledRule]] = {}
        for rule in self.rules:
            self.by_type.setdefault(rule.resource_type.lower(), []).append(CompiledRule(rule))

    def wanted(self) -> Wanted:
        """What records must carry for these rules (see :class:`Wanted`); worked out once, as
        the rules never change (each source and each worker's run of templates asks)."""
        if self._wanted is None:
            self._wanted = self._work_out_wanted()
        return self._wanted

    def _work_out_wanted(self) -> Wanted:
        children = {r.key for rule in self.rules for r in rule.related if r.scope is ir.Scope.CHILD}
        by_type: dict[str, set[tuple[str, str]]] = {t: set() for t in self.by_type}
        for rule in self.rules:
            by_type[rule.resource_type.lower()] |= {
                r.key for r in rule.related if r.scope is ir.Scope.SUBSCRIPTION}
        subs = frozenset[tuple[str, str]]().union(*by_type.values())
        return Wanted(frozenset(self.by_type), Keys(children), Keys(subs), self.projections(),
                      {t: Keys(keys) for t, keys in by_type.items()})

    def projections(self) -> dict[str, Projection]:
        """For each resource type the rules read (targets and related), the parts they read."""
        out: dict[str, Projection] = {}
        # Every resource of a type (a count over them) is read through '@' paths: kept whole.
        whole = {r.type.lower() for rule in self.rules for r in rule.related if r.is_list}
        for rule in self.rules:
            own = out.setdefault(rule.resource_type.lower(), dict.fromkeys(ALWAYS_KEPT))
            for path in ir.condition_paths(rule):
                if path.is_related:
                    rel = rule.related_named(path.related_name)
                    assert rel is not None
                    tree = out.setdefault(rel.type.lower(), dict.fromkeys(ALWAYS_KEPT))
                    add_to_projection(tree, path.segments[2:])
                elif not path.element:
                    add_to_projection(own, path.segments)
        for ltype in whole:
            out.pop(ltype, None)
        return out

    def for_record(self, record: Record) -> list[CompiledRule]:
        return self.by_type.get(record.type.lower(), [])


#: Kept on every record whatever the rules read: what reports and attachment need.
ALWAYS_KEPT = ("id", "name", "type", "subscriptionid", "resourcegroup", "location")


def evaluate_records(index: RuleIndex, records: Iterable[Record]) -> Iterator[Finding]:
    """Every (rule, record) verdict: records in input order, rules by id within a record."""
    for record in records:
        for rule in index.for_record(record):
            yield rule.evaluate(record)
