"""A rule keeps its outcome keyed on the values it reads (evaluator.evaluate.CompiledRule): a
record reading the same values gets the same finding as a rule evaluated afresh, and values
that compare equal but read differently (1 and true, 0.0 and -0.0) are never confused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policyengine import ir
from policyengine.evaluator.evaluate import CompiledRule
from policyengine.findings import Finding, Verdict
from policyengine.loading.rules import load_rules
from policyengine.records.model import Origin, Record
from tests.conftest import rule_text

FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"


def make_rule(tmp_path: Path, condition: str) -> ir.Rule:
    path = tmp_path / "rule.yaml"
    path.write_text(rule_text(f"resource: {FLEX}\ncondition: {condition}"), encoding="utf-8")
    (rule,) = load_rules([path], include_bundled=False)
    return rule


def server(name: str, properties: dict[str, Any]) -> Record:
    rid = f"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}"
    data = {"id": rid, "type": FLEX, "name": name, "properties": properties}
    return Record(rid, FLEX, data, Origin("e.ndjson", 7), {}, {}, None)


def afresh(rule: ir.Rule, record: Record) -> Finding:
    return CompiledRule(rule).evaluate(record)


def test_equal_values_that_read_differently_get_their_own_outcome(tmp_path: Path) -> None:
    rule = make_rule(tmp_path, "{field: properties.x, in: [1, 0.0, a]}")
    compiled = CompiledRule(rule)
    values = [1, True, 1, 0.0, -0.0, "a", "a", None, [1], {"k": 1}, True]
    for index, value in enumerate(values):
        record = server(f"pg{index}", {"x": value})
        kept = compiled.evaluate(record)
        assert kept == afresh(rule, record)
        assert kept.message == afresh(rule, record).message
        assert kept.resource_id == record.id
    # True, 1 (twice) and "a" (twice): scalars whose type is part of the key; no float, list or
    # object is kept.
    assert len(compiled.outcomes) == 4


def test_an_outcome_is_shared_by_records_that_read_the_same_values(tmp_path: Path) -> None:
    rule = make_rule(tmp_path, "{field: properties.state, equals: Ready}")
    compiled = CompiledRule(rule)
    first = compiled.evaluate(server("pg1", {"state": "Ready", "other": 1}))
    second = compiled.evaluate(server("pg2", {"state": "Ready", "other": 2}))
    assert second.evidence is first.evidence and second.verdict is Verdict.PASS
    assert (first.resource_id, second.resource_id) == (server("pg1", {}).id, server("pg2", {}).id)
    assert compiled.evaluate(server("pg3", {"state": "Stopped"})).verdict is Verdict.FAIL


def test_an_error_outcome_is_kept_with_its_reason(tmp_path: Path) -> None:
    rule = make_rule(tmp_path, "{field: properties.n, greater: 3}")
    compiled = CompiledRule(rule)
    for name in ("pg1", "pg2"):
        finding = compiled.evaluate(server(name, {"n": "many"}))
        assert finding.verdict is Verdict.ERROR
        assert finding.error == afresh(rule, server(name, {"n": "many"})).error
        assert finding.error is not None and finding.error.startswith("the rule could not be evaluated")
