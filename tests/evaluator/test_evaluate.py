"""The Python evaluator: operators, three-valued logic, onMissing, related data by source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine import ir
from policyengine.evaluator import evaluate
from policyengine.findings import Verdict
from policyengine.loading.rules import load_rules
from policyengine.paths import parse_path
from policyengine.records.model import Origin, Record
from tests.cases import ABSENT, OPERATOR_CASES, Case
from tests.conftest import rule_text

FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"
SERVER_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"


@pytest.fixture
def make_rule(tmp_path: Path) -> Callable[[str], ir.Rule]:
    count = iter(range(10_000))

    def build(spec: str) -> ir.Rule:
        path = tmp_path / f"r{next(count)}.yaml"
        path.write_text(rule_text(spec), encoding="utf-8")
        (rule,) = load_rules([path], include_bundled=False)
        return rule

    return build


def record(properties: dict[str, Any] | None = None, *, children: dict[tuple[str, str], Any] | None = None,
           kind: ir.SourceKind = ir.SourceKind.OBSERVED, subscription: Record | None = None) -> Record:
    data = {"id": SERVER_ID, "type": FLEX, "name": "pg1", "properties": properties or {}}
    return Record(SERVER_ID, FLEX, data, Origin("t.json", 1, kind), children or {}, {}, subscription)


def rule_for(case: Case) -> ir.Rule:
    value = tuple(case.expected) if isinstance(case.expected, list) else case.expected
    compare = ir.Compare(parse_path("properties.x"), case.op, value, case.case_sensitive)
    meta = ir.Metadata("T", "t", ir.Severity.LOW, "d", ir.Remediation("r"))
    return ir.Rule(meta, FLEX, compare)


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=lambda c: c.id)
def test_operator_case(case: Case) -> None:
    props = {} if case.actual is ABSENT else {"x": case.actual}
    finding = evaluate(rule_for(case), record(props))
    assert finding.verdict.value == case.verdict, finding.message


def test_every_operator_has_cases() -> None:
    from policyengine.operators import OPERATORS

    covered = {c.op for c in OPERATOR_CASES} | {"count"}
    assert covered == set(OPERATORS)


K3 = {"p": "{field: properties.a, equals: x}", "f": "{field: properties.a, equals: y}",
      "u": "{field: properties.missing, equals: x}"}


@pytest.mark.parametrize(
    ("logic", "expected"),
    [
        ("allOf: [p, p]", "pass"), ("allOf: [p, f]", "fail"), ("allOf: [p, u]", "unknown"),
        ("allOf: [f, u]", "fail"), ("anyOf: [f, f]", "fail"), ("anyOf: [p, u]", "pass"),
        ("anyOf: [f, u]", "unknown"), ("anyOf: [u, u]", "unknown"), ("not: u", "unknown"),
        ("not: f", "pass"), ("not: p", "fail"),
    ],
)
def test_kleene_logic(make_rule: Callable[[str], ir.Rule], logic: str, expected: str) -> None:
    key, _, items = logic.partition(": ")
    if key == "not":
        cond = f"{{not: {K3[items]}}}"
    else:
        cond = f"{{{key}: [{', '.join(K3[i] for i in items.strip('[]').split(', '))}]}}"
    rule = make_rule(f"resource: {FLEX}\ncondition: {cond}")
    assert evaluate(rule, record({"a": "x"})).verdict.value == expected


@pytest.mark.parametrize(("on_missing", "expected"), [("fail", "fail"), ("pass", "pass"), ("unknown", "unknown")])
def test_on_missing_rule_level(make_rule: Callable[[str], ir.Rule], on_missing: str, expected: str) -> None:
    rule = make_rule(f"resource: {FLEX}\nonMissing: {on_missing}\ncondition: {{field: properties.x, equals: a}}")
    finding = evaluate(rule, record())
    assert finding.verdict.value == expected
    assert finding.evidence[0].note == f"absent, so onMissing: {on_missing}"


def test_on_missing_leaf_overrides_rule(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\nonMissing: pass\n"
                     "condition: {field: properties.x, equals: a, onMissing: fail}")
    assert evaluate(rule, record()).verdict is Verdict.FAIL


REL = f"""
resource: {FLEX}
related:
  tls:
    type: {FLEX}/configurations
    name: ssl_min_protocol_version
    default: {{properties: {{value: TLSv1.2}}}}
  plan:
    type: Microsoft.Security/pricings
    name: OpenSourceRelationalDatabases
    scope: subscription
"""
TLS_KEY = ("microsoft.dbforpostgresql/flexibleservers/configurations", "ssl_min_protocol_version")
PLAN_KEY = ("microsoft.security/pricings", "opensourcerelationaldatabases")


def test_related_observed_found_absent_and_unread(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(REL + "condition: {field: related.tls.properties.value, in: [TLSv1.2, TLSv1.3]}")
    found = record(children={TLS_KEY: {"properties": {"value": "TLSv1.3"}}})
    assert evaluate(rule, found).verdict is Verdict.PASS
    not_read = evaluate(rule, record())
    assert not_read.verdict is Verdict.UNKNOWN
    assert ("(not read: the resource's flexibleServers/configurations 'ssl_min_protocol_version' is not in the "
            "input, though Azure always has one)") in not_read.message
    unread = Record(SERVER_ID, FLEX, {"id": SERVER_ID}, Origin("live"), {},
                    {TLS_KEY[0]: "ARM GET .../configurations returned 403 Forbidden"})
    assert "403 Forbidden" in evaluate(rule, unread).message
    known_absent = record(children={TLS_KEY: None})
    assert evaluate(rule, known_absent).verdict is Verdict.UNKNOWN  # onMissing: unknown
    assert evaluate(rule, known_absent).evidence[0].note == "absent, so onMissing: unknown"


def test_related_declared_takes_the_default(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(REL + "condition: {field: related.tls.properties.value, in: [TLSv1.2, TLSv1.3]}")
    finding = evaluate(rule, record(kind=ir.SourceKind.DECLARED))
    assert finding.verdict is Verdict.PASS
    assert "the platform default was assumed" in (finding.evidence[0].note or "")
    declared = record(kind=ir.SourceKind.DECLARED, children={TLS_KEY: {"properties": {"value": "TLSv1.1"}}})
    assert evaluate(rule, declared).verdict is Verdict.FAIL


def test_template_does_not_own_its_subscription(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(REL + "onMissing: fail\ncondition: {field: related.plan.properties.pricingTier, equals: Standard}")
    sub = Record("/subscriptions/s1", "Microsoft.Resources/subscriptions", {}, Origin("t", 0, ir.SourceKind.DECLARED))
    finding = evaluate(rule, record(kind=ir.SourceKind.DECLARED, subscription=sub))
    assert finding.verdict is Verdict.UNKNOWN


def test_undecided_any_of_shows_its_failing_items(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\ncondition: {{anyOf: [{{field: properties.a, equals: x}}, "
                     "{field: properties.b, equals: x}]}")
    finding = evaluate(rule, record({"a": "y"}))
    assert finding.verdict is Verdict.UNKNOWN
    assert [(e.path, e.outcome.value) for e in finding.evidence] == [("properties.a", "fail"), ("properties.b", "unknown")]


def test_subscription_scope_and_kleene_across_sources(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(REL.replace("  tls:", "  atp:").replace("/configurations", "/advancedThreatProtectionSettings")
                     .replace("ssl_min_protocol_version", "Default")
                     + "condition:\n  anyOf:\n    - {field: related.atp.properties.state, equals: Enabled}\n"
                     "    - {field: related.plan.properties.pricingTier, equals: Standard}\n")
    atp_key = ("microsoft.dbforpostgresql/flexibleservers/advancedthreatprotectionsettings", "default")
    standard = Record("/subscriptions/s1", "Microsoft.Resources/subscriptions", {}, Origin("x"),
                      {PLAN_KEY: {"properties": {"pricingTier": "Standard"}}})
    free = Record("/subscriptions/s1", "Microsoft.Resources/subscriptions", {}, Origin("x"),
                  {PLAN_KEY: {"properties": {"pricingTier": "Free"}}})
    unseen = Record("/subscriptions/s1", "Microsoft.Resources/subscriptions", {}, Origin("x"), {})
    atp_off = {atp_key: {"properties": {"state": "Disabled"}}}
    atp_on = {atp_key: {"properties": {"state": "Enabled"}}}
    assert evaluate(rule, record(children=atp_off, subscription=standard)).verdict is Verdict.PASS
    assert evaluate(rule, record(children=atp_off, subscription=free)).verdict is Verdict.FAIL
    assert evaluate(rule, record(children=atp_on, subscription=unseen)).verdict is Verdict.PASS
    assert evaluate(rule, record(children=atp_off, subscription=unseen)).verdict is Verdict.UNKNOWN
    assert evaluate(rule, record(subscription=unseen)).verdict is Verdict.UNKNOWN


COUNT = f"resource: {FLEX}\ncondition: {{field: properties.alerts, count: {{where: {{field: '@', notEquals: ''}}, equals: 0}}}}"


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [([""], "pass"), ([], "pass"), (ABSENT, "pass"), (["Sql_Injection"], "fail"),
     (["", "Access_Anomaly"], "fail"), ("Sql_Injection", "error"), ([5], "error")],
)
def test_count_with_where(make_rule: Callable[[str], ir.Rule], alerts: Any, expected: str) -> None:
    props = {} if alerts is ABSENT else {"alerts": alerts}
    assert evaluate(make_rule(COUNT), record(props)).verdict.value == expected


def test_element_without_the_value_does_not_match(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\nonMissing: pass\n"
                     "condition: {field: properties.alerts, count: {where: {field: '@', notEquals: ''}, equals: 0}}")
    assert evaluate(rule, record({"alerts": [None, ""]})).verdict is Verdict.PASS


def test_count_with_undecided_elements_is_a_range(make_rule: Callable[[str], ir.Rule]) -> None:
    spec = (f"resource: {FLEX}\ncondition: {{field: properties.rules, count: "
            "{where: {field: '@.port', equals: 22, onMissing: unknown}, greater: 0}}")
    rule = make_rule(spec)
    assert evaluate(rule, record({"rules": [{"port": 22}, {}]})).verdict is Verdict.PASS
    assert evaluate(rule, record({"rules": [{"port": 80}, {}]})).verdict is Verdict.UNKNOWN
    assert evaluate(rule, record({"rules": [{"port": 80}]})).verdict is Verdict.FAIL


def test_where_gives_not_applicable(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\nwhere: {{field: properties.state, notEquals: Dropping, onMissing: pass}}\n"
                     "condition: {field: properties.x, equals: a}")
    dropping = evaluate(rule, record({"state": "DROPPING", "x": "b"}))
    assert dropping.verdict is Verdict.NOT_APPLICABLE
    assert dropping.message.startswith("not applicable: properties.state is \"DROPPING\"")
    assert evaluate(rule, record({"x": "b"})).verdict is Verdict.FAIL
    assert evaluate(rule, record({"state": "Ready", "x": "a"})).verdict is Verdict.PASS


def test_type_error_anywhere_is_an_error_verdict(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\ncondition: {{anyOf: [{{field: properties.a, equals: x}}, "
                     "{field: properties.n, greater: 3}]}")
    finding = evaluate(rule, record({"a": "x", "n": "many"}))
    assert finding.verdict is Verdict.ERROR
    assert finding.message == ('the rule could not be evaluated: properties.n: expected a number, '
                               'found string "many"')


def test_key_lookup_is_case_insensitive(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\ncondition: {{field: properties.sslEnforcement, equals: Enabled}}")
    assert evaluate(rule, record({"SslEnforcement": "Enabled"})).verdict is Verdict.PASS


def test_evidence_and_fingerprint(make_rule: Callable[[str], ir.Rule]) -> None:
    rule = make_rule(f"resource: {FLEX}\ncondition: {{field: properties.x, in: [a, b]}}")
    finding = evaluate(rule, record({"x": "c"}))
    assert finding.verdict is Verdict.FAIL
    (evidence,) = finding.evidence
    assert evidence.to_json() == {"path": "properties.x", "expected": 'is one of ["a", "b"]',
                                  "actual": "c", "present": True, "outcome": "fail"}
    assert finding.message == 'A test rule — not met: properties.x is "c"; expected: is one of ["a", "b"]'
    same = Record(SERVER_ID.upper(), FLEX, {"properties": {"x": "a"}}, Origin("other"))
    assert evaluate(rule, same).fingerprint == finding.fingerprint
    assert len(finding.fingerprint) == 32
