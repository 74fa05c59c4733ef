"""Run a rule's inline tests: each test becomes a record and meets the real evaluator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policyengine import ir
from policyengine.evaluator.evaluate import evaluate
from policyengine.findings import Finding
from policyengine.records.model import SUBSCRIPTION_TYPE, ChildKey, Origin, Record, element_name, listed_key

TEST_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class TestOutcome:
    rule: ir.Rule
    test: ir.RuleTest
    finding: Finding

    @property
    def ok(self) -> bool:
        return self.finding.verdict.value == self.test.expect


def test_record(rule: ir.Rule, test: ir.RuleTest) -> Record:
    """The record a test describes: its resource, with each ``related`` entry attached where
    the rule looks for it (under the resource, or in its subscription). A related name left
    out was not observed; one given as null was read and does not exist. A related entry
    that stands for every resource of its type is given as an array (``[]``: listed, none)."""
    span = test.span
    origin = Origin(span.file if span else "<test>", span.line if span else 0, test.source)
    data: dict[str, Any] = dict(test.resource)
    is_subscription = rule.resource_type.lower() == SUBSCRIPTION_TYPE
    default_id = (f"/subscriptions/{TEST_SUBSCRIPTION}" if is_subscription else
                  f"/subscriptions/{TEST_SUBSCRIPTION}/resourceGroups/tests/providers/"
                  f"{rule.resource_type}/test")
    data.setdefault("id", default_id)
    data.setdefault("type", rule.resource_type)
    children: dict[ChildKey, Any] = {}
    sub_children: dict[ChildKey, Any] = {}
    for name, value in test.related.items():
        rel = rule.related_named(name)
        assert rel is not None, "the loader checks related names"
        target = children if rel.scope is ir.Scope.CHILD or is_subscription else sub_children
        if rel.is_list and isinstance(value, list):
            target[listed_key(rel.key[0])] = {}  # listed in full, even when empty
            for i, item in enumerate(value):
                target[(rel.key[0], (element_name(item) or f"item{i}").lower())] = item
        else:
            target[rel.key] = value
    sid = str(data["id"]).split("/")[2] if str(data["id"]).count("/") >= 2 else TEST_SUBSCRIPTION
    subscription = Record(f"/subscriptions/{sid}", "Microsoft.Resources/subscriptions",
                          {"id": f"/subscriptions/{sid}", "subscriptionId": sid}, origin, sub_children)
    return Record(str(data["id"]), str(data["type"]), data, origin, children, {},
                  None if is_subscription else subscription)


def run_tests(rules: tuple[ir.Rule, ...]) -> list[TestOutcome]:
    return [TestOutcome(rule, test, evaluate(rule, test_record(rule, test)))
            for rule in rules for test in rule.tests]
