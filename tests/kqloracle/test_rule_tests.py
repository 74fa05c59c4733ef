"""Every inline test of every bundled rule whose data is all in Resource Graph, run as a
query: the test's resource and its subscription-scope related data become ARG rows, and the
query's verdict column says what the test expects and what the evaluator says."""

from __future__ import annotations

from typing import Any

import pytest

from policyengine import ir
from policyengine.evaluator import testing
from policyengine.kql.plan import build_plan
from policyengine.loading.rules import load_rules
from policyengine.records.model import SUBSCRIPTION_TYPE, Origin, Record
from tests.kqloracle.agreement import agrees, column_everywhere, tables_of, verdict

RULES = load_rules([])
PLAN = build_plan(RULES)
#: The rules whose verdict the query computes (PG-SUB-002 counts the contacts of a joined bag,
#: which the client does: tests/kqloracle/test_estate.py rebuilds its records from the columns).
ARG_RULES = [r for r in RULES if next(p for p in PLAN.rules if p.rule_id == r.id).server_verdict]


def resources_of(rule: ir.Rule, test: ir.RuleTest) -> list[dict[str, Any]]:
    """The ARG rows a test stands for: its resource (with the id the evaluator's test record
    gets), and one ``securityresources`` row per subscription-scope related resource it
    gives. A related resource left out, or given as null, is no row: Resource Graph has no
    way to say "read, and not there"."""
    record = testing.test_record(rule, test)
    resource = dict(record.data)
    sid = testing.TEST_SUBSCRIPTION if rule.resource_type.lower() == SUBSCRIPTION_TYPE else \
        str(resource["id"]).split("/")[2]
    rows = [resource]
    for name, value in test.related.items():
        rel = rule.related_named(name)
        assert rel is not None and rel.scope is ir.Scope.SUBSCRIPTION, "an arg rule reads no ARM child"
        if value is None:
            continue
        rows.append({**value, "id": f"/subscriptions/{sid}/providers/{rel.type}/{rel.resource_name}",
                     "name": rel.resource_name, "type": rel.type, "subscriptionId": sid})
    return rows


def _tests() -> list[Any]:
    return [pytest.param(rule, test, id=f"{rule.id}: {test.name}") for rule in ARG_RULES for test in rule.tests]


def test_the_arg_rules_have_tests() -> None:
    assert {r.id for r in ARG_RULES} == {"PG-SINGLE-001", "PG-SINGLE-002", "PG-SUB-001",
                                         "PG-FLEX-012", "PG-FLEX-013", "PG-FLEX-014", "PG-FLEX-015"}
    assert len(_tests()) >= 20


@pytest.mark.parametrize(("rule", "test"), _tests())
def test_inline_test_through_the_query(rule: ir.Rule, test: ir.RuleTest) -> None:
    query = next(q for q in PLAN.queries if rule.id in q.rules)
    column = dict(query.verdicts)[rule.id]
    resources = resources_of(rule, test)
    got = column_everywhere(query, tables_of(resources), column)
    record = testing.test_record(rule, test)
    assert verdict(rule, record) == test.expect
    # A value of another scalar type ("a number instead of TLS1_2") is an error the query
    # leaves to the evaluator (agreement.agrees): the column compares its text instead.
    assert agrees(got[record.id], test.expect)


SUB = "11111111-2222-3333-4444-555555555555"
PRICING = "Microsoft.Security/pricings"
PLAN_KEY = ("microsoft.security/pricings", "opensourcerelationaldatabases")
ABSENT_ROW = object()


@pytest.mark.parametrize(
    "tier",
    ["Standard", "STANDARD", "standard ", "Standard\n", "Free", "", None, 5, True, ["Standard"], {"x": 1},
     "Ｓtandard", ABSENT_ROW],
    ids=repr,
)
def test_pricing_tier_values_through_the_join(tier: Any) -> None:
    """PG-SUB-001 reads the joined pricing bag: every kind of tier gives the query and the
    evaluator the same verdict (no pricing row: unknown, as the evaluator says of data not read)."""
    rule = next(r for r in RULES if r.id == "PG-SUB-001")
    query = next(q for q in PLAN.queries if rule.id in q.rules)
    subscription: dict[str, Any] = {"id": f"/subscriptions/{SUB}", "name": "s", "type": "Microsoft.Resources/subscriptions",
                    "subscriptionId": SUB}
    resources: list[dict[str, Any]] = [subscription]
    children: dict[tuple[str, str], Any] = {}
    if tier is not ABSENT_ROW:
        pricing = {"id": f"/subscriptions/{SUB}/providers/{PRICING}/OpenSourceRelationalDatabases",
                   "name": "OpenSourceRelationalDatabases", "type": PRICING, "subscriptionId": SUB,
                   "properties": {"pricingTier": tier}}
        resources.append(pricing)
        children[PLAN_KEY] = pricing
    record = Record(subscription["id"], subscription["type"], subscription, Origin("t"), children)
    got = column_everywhere(query, tables_of(resources), dict(query.verdicts)[rule.id])
    assert agrees(got[subscription["id"]], verdict(rule, record))
