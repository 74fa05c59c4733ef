"""Plans of composite rules and rule sets: logic, ``where``, ``onMissing``, ``count``, related
subscription-scope data joined in beside verdicts computed in the query, several types."""

from __future__ import annotations

import pytest

from policyengine import ir
from policyengine.kql.plan import Plan, build_plan
from policyengine.operators import COUNT_COMPARISONS
from policyengine.paths import FieldPath, parse_path
from tests.kql.build import (
    ATP,
    FLEX,
    PRICINGS,
    SINGLE,
    SUBSCRIPTIONS,
    compare,
    pricing,
    promised_columns,
    promised_summary_columns,
    queries_of,
    rule,
)
from tests.kql.kqlcheck import KqlChecker, KqlResult

OnMissing = ir.OnMissing
SSL = compare("properties.sslEnforcement", "equals", "Enabled")
TLS = compare("properties.minimalTlsVersion", "in", ["TLS1_2", "TLS1_3"])
PLAN_STANDARD = compare("related.plan.properties.pricingTier", "equals", "Standard")
ALERTS = ir.Related("alerts", "Microsoft.DBforPostgreSQL/servers/securityAlertPolicies", "Default")
SUBSCRIPTION = ir.Related("sub", SUBSCRIPTIONS, "ignored", ir.Scope.SUBSCRIPTION)


RULE_SETS: dict[str, list[ir.Rule]] = {
    "allOf-anyOf-not": [rule(ir.AllOf((ir.AnyOf((SSL, ir.Not(TLS))), ir.Not(ir.AnyOf((SSL, TLS))),
                                      ir.Not(ir.Not(SSL)))))],
    "single-item-allOf": [rule(ir.AllOf((SSL,)))],
    "where": [rule(TLS, where=compare("sku.tier", "notEquals", "Basic"))],
    "where-with-logic": [rule(TLS, where=ir.AnyOf((compare("sku.tier", "in", ["GeneralPurpose", "MemoryOptimized"]),
                                                  ir.Not(compare("tags['env']", "equals", "dev")))))],
    "where-on-related-data": [rule(TLS, where=PLAN_STANDARD, related=(pricing(),))],
    "onMissing-rule-fail": [rule(SSL, on_missing=OnMissing.FAIL)],
    "onMissing-rule-pass": [rule(SSL, on_missing=OnMissing.PASS)],
    "onMissing-per-leaf": [rule(ir.AllOf((
        compare("properties.a", "equals", "x", on_missing=OnMissing.PASS),
        compare("properties.b", "equals", "x", on_missing=OnMissing.FAIL),
        compare("properties.c", "equals", "x", on_missing=OnMissing.UNKNOWN))), on_missing=OnMissing.FAIL)],
    "count-without-where": [rule(ir.Count(parse_path("properties.disabledAlerts"), op, 2), rule_id=f"C-{op}")
                            for op in COUNT_COMPARISONS],
    "count-real-and-zero": [rule(ir.AllOf((ir.Count(parse_path("properties.a"), "greater", 0),
                                          ir.Count(parse_path("properties.b"), "lessOrEquals", 1.5))))],
    "mixed-type-in": [rule(compare("properties.a", "in", ["on", 1, 2.5, True, False]))],
    "every-arg-column": [rule(ir.AllOf(tuple(
        compare(path, "exists", True) for path in (
            "name", "kind", "location", "managedBy", "tenantId", "tags['cost-center']", "sku.tier",
            "plan.name", "identity.type", "zones[0]", "extendedLocation.name", "properties.a[0].b",
            "Properties.CaseDiffers"))))],
    "keyword-and-odd-keys": [rule(ir.AllOf((
        compare(FieldPath("k", ("properties", "where")), "equals", "x"),
        compare(FieldPath("k", ("properties", "1day")), "equals", "x"),
        compare(FieldPath("k", ("properties", "a b", 0, "c-d")), "equals", "x"))))],
    # rules/subscription-defender-plan.yaml: a subscription with its pricing joined in.
    "subscription-pricing": [rule(PLAN_STANDARD, resource_type=SUBSCRIPTIONS, related=(pricing(),))],
    # The pricing join next to verdicts computed in the query, an ARM-read rule and two pricings.
    "pricing-join-with-server-verdicts": [
        rule(ir.AnyOf((PLAN_STANDARD, SSL)), rule_id="S-1", related=(pricing(),)),
        rule(TLS, rule_id="S-2"),
        rule(ir.AllOf((PLAN_STANDARD, compare("related.other.properties.pricingTier", "equals", "Standard"))),
             rule_id="S-3", related=(pricing(), pricing("VirtualMachines", "other"))),
        rule(compare("related.alerts.properties.state", "equals", "Enabled"), rule_id="S-4",
             where=compare("sku.tier", "notEquals", "Basic"), related=(ALERTS,)),
        rule(ir.AnyOf((compare("related.alerts.properties.state", "equals", "Enabled"), PLAN_STANDARD)),
             rule_id="S-5", related=(ALERTS, pricing())),
    ],
    "several-types": [
        rule(SSL, rule_id="T-1"),
        rule(compare("related.atp.properties.state", "equals", "Enabled"), rule_id="T-2", resource_type=FLEX,
             related=(ir.Related("atp", ATP, "Default"),), where=compare("properties.state", "notEquals", "Dropping")),
        rule(PLAN_STANDARD, rule_id="T-3", resource_type=SUBSCRIPTIONS, related=(pricing(),)),
    ],
}
PLANS: dict[str, Plan] = {name: build_plan(rules) for name, rules in RULE_SETS.items()}


@pytest.fixture(scope="module")
def results(kql: KqlChecker) -> dict[str, KqlResult]:
    batch: dict[str, str] = {}
    for name, plan in PLANS.items():
        batch |= queries_of(plan, name)
    batch |= queries_of(pricing_and_subscription_plan(), "pricing-and-subscription")
    batch |= queries_of(colliding_related_plan(), "colliding-related")
    return kql.check(batch)


#: Warnings that are right for these queries, by rule set.
JUSTIFIED = {
    # KS502 "Avoid using isnotnull on string arguments": `exists` on the string columns name,
    # kind, location, managedBy, tenantId. ARG returns "" (never null) for an unset string
    # column, and the evaluator then reads "" as present, so isnotnull() (always true there)
    # gives the evaluator's answer; isnotempty() would not.
    "every-arg-column": {"KS502"},
}


@pytest.mark.parametrize("name", RULE_SETS)
def test_composite_queries_are_valid_arg_kql(results: dict[str, KqlResult], name: str) -> None:
    checked = [r for key, r in results.items() if key.startswith(f"{name} ")]
    assert len(checked) == sum(1 + (q.summary is not None) for q in PLANS[name].queries)
    for result in checked:
        problems = result.problems(allowed=JUSTIFIED.get(name, ()))
        assert not problems, result.report(problems)


@pytest.mark.parametrize("name", RULE_SETS)
def test_composite_queries_return_the_columns_the_plan_promises(results: dict[str, KqlResult], name: str) -> None:
    for query in PLANS[name].queries:
        assert [c for c, _ in results[f"{name} {query.resource_type}"].columns] == promised_columns(query)
        if query.summary is not None:
            summary = results[f"{name} {query.resource_type} summary"].columns
            assert [c for c, _ in summary] == promised_summary_columns(query)


@pytest.mark.parametrize("name", RULE_SETS)
def test_composite_rules_are_planned_without_diagnostics(name: str) -> None:
    plan = PLANS[name]
    assert plan.diagnostics == ()
    for rule_plan in plan.rules:
        assert rule_plan.server_verdict is (rule_plan.capability == "arg"), rule_plan


def test_one_query_per_type_for_all_rules() -> None:
    plan = PLANS["several-types"]
    assert [q.resource_type for q in plan.queries] == [FLEX, SINGLE, SUBSCRIPTIONS]
    (single,) = PLANS["pricing-join-with-server-verdicts"].queries
    assert single.rules == ("S-1", "S-2", "S-3", "S-4", "S-5")


def test_pricing_is_joined_once_beside_server_verdicts() -> None:
    (query,) = PLANS["pricing-join-with-server-verdicts"].queries
    assert query.text.count("| join kind=leftouter (securityresources") == 1
    assert sorted((c.related_type, c.name) for c in query.related) == [
        (PRICINGS, "OpenSourceRelationalDatabases"), (PRICINGS, "VirtualMachines")]
    assert dict(query.verdicts) == {"S-1": "verdict S-1", "S-2": "verdict S-2", "S-3": "verdict S-3"}
    # S-4 needs an ARM read: the query says where it applies; S-5's where is absent.
    assert dict(query.applies) == {"S-4": "applies S-4"}
    # Every related column the evaluator needs for S-5 (ARM + pricing) is projected.
    assert all(c.column in query.text.split("| project")[-1] for c in query.related)


def pricing_and_subscription_plan() -> Plan:
    """Two subscription-scope related resources in two tables: two cross-table joins."""
    condition = ir.AllOf((PLAN_STANDARD, compare("related.sub.properties.state", "equals", "Enabled")))
    return build_plan([rule(condition, related=(pricing(), SUBSCRIPTION))])


def test_joins_of_two_tables_fit_arg_or_are_declined(results: dict[str, KqlResult]) -> None:
    """ARG allows one cross-table join per query, three only if all are between resources and
    resourcecontainers (query-language page, join row). The rule that would need a second
    cross-table join reads that resource from ARM instead (arg+arm), and the query stays legal."""
    name = "pricing-and-subscription " + SINGLE
    assert not results[name].problems(), results[name].report()
    assert results[name].query.count("| join") == 1
    plan = pricing_and_subscription_plan()
    needs_arm = [r for r in plan.rules if r.capability == "arg+arm"]
    assert needs_arm and all(r.arm_reads for r in needs_arm)


def colliding_related_plan() -> Plan:
    names = ("a_b_2", "a-b", "a.b")  # the third gets the second's fallback name
    related = tuple(pricing(n, f"p{i}") for i, n in enumerate(names))
    condition = ir.AllOf(tuple(compare(f"related.p{i}.properties.pricingTier", "equals", "Standard")
                               for i in range(len(names))))
    return build_plan([rule(condition, related=related)])


def test_related_columns_are_distinct(results: dict[str, KqlResult]) -> None:
    """GENERATOR BUG: _TypePlanner.related_column names a clash `{base}_{len(related)}`
    without checking that this name is free; here the third column reuses the first's."""
    (query,) = colliding_related_plan().queries
    columns = [c.column for c in query.related]
    assert len(set(columns)) == len(columns), columns
    assert not results["colliding-related " + SINGLE].problems()


def test_every_path_gets_its_own_column() -> None:
    """GENERATOR BUG: a path column is named by joining the segments with '.', so
    properties['a.b'] and properties.a.b share the column 'properties.a.b' and the second path
    is never projected: the evaluator then reads it as absent (ARM-read rules)."""
    rules = [rule(compare(FieldPath("properties['a.b']", ("properties", "a.b")), "equals", "x"), rule_id="P-1",
                  related=(ALERTS,)),
             rule(compare("properties.a.b", "equals", "y"), rule_id="P-2", related=(ALERTS,))]
    (query,) = build_plan(rules).queries
    assert sorted(path for _, path in query.paths) == [("properties", "a", "b"), ("properties", "a.b")]
    assert len({column for column, _ in query.paths}) == 2
