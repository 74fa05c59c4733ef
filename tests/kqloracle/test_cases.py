"""The shared operator cases (``tests/cases.py``) through the compiled KQL: each case, as a
single-server rule's condition, gives in the query's verdict column the case's verdict and
the evaluator's; as a rule's ``where``, it gives the ``applies`` column the evaluator's
outcome. A case the planner cannot express has no verdict column at all."""

from __future__ import annotations

from typing import Any

import pytest

from policyengine import ir
from policyengine.paths import parse_path
from tests.cases import ABSENT, OPERATOR_CASES, Case
from tests.kqloracle import ALL_READINGS, Readings, execute
from tests.kqloracle.agreement import (
    APPLIES,
    SERVER_TYPE,
    agrees,
    column_everywhere,
    server,
    server_record,
    single_plan,
    tables_of,
    verdict,
    where_probe,
)

META = ir.Metadata("T", "t", ir.Severity.LOW, "d", ir.Remediation("r"))
ALERTS = ir.Related("alerts", "Microsoft.DBforPostgreSQL/servers/securityAlertPolicies", "Default")
ALERTS_ENABLED = ir.Compare(parse_path("related.alerts.properties.state"), "equals", "Enabled")
#: Cases the planner declines (a diagnostic, no verdict column): contains has no rendering
#: with public evidence in Resource Graph (on an array it needs in~ over a dynamic array).
NOT_EXPRESSIBLE = {case.id for case in OPERATOR_CASES if case.op in ("contains", "notContains")}
#: Type errors the query leaves to the evaluator (a number where a string is compared): the
#: column gives the comparison of the number's text, never ``error`` (agreement.agrees).
LEFT_TO_EVALUATOR = {"equals-string-vs-number", "in-type", "startsWith-type"}


def compare(case: Case) -> ir.Compare:
    value = tuple(case.expected) if isinstance(case.expected, list) else case.expected
    return ir.Compare(parse_path("properties.x"), case.op, value, case.case_sensitive)


def properties(actual: Any) -> dict[str, Any]:
    return {} if actual is ABSENT else {"x": actual}


MIXED_IN = (
    "contains on an array compiles to '\"5\" in~ (x)'; the KQL reference does not say how in~ "
    "compares a string with a long or bool element: if it converts the element "
    "(tostring(5) == \"5\") the query passes where the evaluator fails")
#: Disagreements the oracle found, by case and reading (None: every reading). Each is a strict
#: xfail: when the compiler is fixed the test passes, fails as XPASS, and the entry must go.
KNOWN: dict[tuple[str, str | None], str] = {}


def _known(case_id: str, mixed_in: str | None) -> str | None:
    return KNOWN.get((case_id, None)) or (KNOWN.get((case_id, mixed_in)) if mixed_in else None)


def _params(readings: tuple[Readings, ...]) -> list[Any]:
    out = []
    for case in OPERATOR_CASES:
        for reading in readings:
            reason = _known(case.id, reading.mixed_in)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(case, reading, id=f"{case.id}-{reading.mixed_in}", marks=marks))
    return out


@pytest.mark.parametrize(("case", "reading"), _params(ALL_READINGS[::2]))
def test_case_verdict_column(case: Case, reading: Readings) -> None:
    rule = ir.Rule(META, SERVER_TYPE, compare(case))
    query, plan = single_plan(rule)
    resource = server(properties(case.actual))
    rows = execute(query.text, tables_of([resource]), readings=reading)
    assert len(rows) == 1
    if plan.diagnostics:
        assert case.id in NOT_EXPRESSIBLE, plan.diagnostics
        assert not query.verdicts and not any(c.startswith("verdict") for c in rows[0])
        return
    assert case.id not in NOT_EXPRESSIBLE
    (_, column), = query.verdicts
    python = verdict(rule, server_record(resource))
    assert python == case.verdict
    if case.id in LEFT_TO_EVALUATOR:
        assert rows[0][column] != "error" and agrees(rows[0][column], python)
    else:
        assert rows[0][column] == case.verdict


def _where_params() -> list[Any]:
    out = []
    for case in OPERATOR_CASES:
        reason = _known(case.id, "convert")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _where_params())
def test_case_as_where_gives_the_applies_column(case: Case) -> None:
    """An ``arg+arm`` rule (its condition reads an alert policy, which only ARM has) whose
    ``where`` is the case: the query says whether the ``where`` holds, so a scan reads the
    policy only where the rule applies. Where the evaluator raises an operand error, the
    verdict is ``error`` whatever the ARM read gives, so the column may say anything."""
    rule = ir.Rule(META, SERVER_TYPE, ALERTS_ENABLED, where=compare(case), related=(ALERTS,))
    query, plan = single_plan(rule)
    assert plan.capability == "arg+arm"
    resource = server(properties(case.actual))
    if plan.diagnostics:
        assert not query.applies
        return
    (_, column), = query.applies
    outcome = verdict(where_probe(rule), server_record(resource))
    applies = column_everywhere(query, tables_of([resource]), column)[resource["id"]]
    if outcome == "error":
        assert applies in (0, 1, 2)
    else:
        assert applies == APPLIES[outcome], outcome


K3 = {"p": ("a", "x"), "f": ("a", "y"), "u": ("missing", "x")}


@pytest.mark.parametrize(
    ("logic", "expected"),
    [("allOf pp", "pass"), ("allOf pf", "fail"), ("allOf pu", "unknown"), ("allOf fu", "fail"),
     ("anyOf ff", "fail"), ("anyOf pu", "pass"), ("anyOf fu", "unknown"), ("anyOf uu", "unknown"),
     ("not u", "unknown"), ("not f", "pass"), ("not p", "fail"), ("anyOf p(not u)", "pass"),
     ("allOf (anyOf fu)(not f)", "unknown")],
)
def test_kleene_logic(logic: str, expected: str) -> None:
    def leaf(key: str) -> ir.Condition:
        prop, value = K3[key]
        return ir.Compare(parse_path(f"properties.{prop}"), "equals", value)

    def build(text: str) -> ir.Condition:
        text = text.strip()
        if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
            text = text[1:-1]
        head, _, rest = text.partition(" ")
        if head == "not":
            return ir.Not(build(rest))
        if head in ("allOf", "anyOf"):
            items, depth, current = [], 0, ""
            for char in rest:
                current += char
                depth += {"(": 1, ")": -1}.get(char, 0)
                if depth == 0:
                    items.append(build(current))
                    current = ""
            return (ir.AllOf if head == "allOf" else ir.AnyOf)(tuple(items))
        return leaf(text)

    rule = ir.Rule(META, SERVER_TYPE, build(logic))
    query, _ = single_plan(rule)
    resource = server({"a": "x"})
    (_, column), = query.verdicts
    got = column_everywhere(query, tables_of([resource]), column)[resource["id"]]
    assert (got, verdict(rule, server_record(resource))) == (expected, expected)


@pytest.mark.parametrize(
    ("where", "x", "expected"),
    [("pass", "Dropping", "not_applicable"), ("pass", "Ready", "fail"), ("pass", None, "fail"),
     ("unknown", None, "unknown"), ("fail", None, "not_applicable"), ("pass", [5], "error")],
)
def test_where_then_condition(where: str, x: Any, expected: str) -> None:
    """The verdict column's order of decisions is the evaluator's: an error in ``where``,
    then not applicable or unknown, then the condition."""
    rule = ir.Rule(META, SERVER_TYPE, ir.Compare(parse_path("properties.y"), "equals", "z"),
                   where=ir.Compare(parse_path("properties.x"), "notEquals", "Dropping",
                                    on_missing=ir.OnMissing(where)),
                   on_missing=ir.OnMissing.FAIL)
    query, _ = single_plan(rule)
    resource = server({} if x is None else {"x": x})
    (_, column), = query.verdicts
    got = column_everywhere(query, tables_of([resource]), column)[resource["id"]]
    assert (got, verdict(rule, server_record(resource))) == (expected, expected)
