"""Every operator case of ``tests/cases.py``, compiled both case-insensitively and
case-sensitively, gives a query Microsoft's parser accepts, with the rule's value in it as
written and the case flag in its operators."""

from __future__ import annotations

from collections import Counter

import pytest

from policyengine.kql.plan import Plan, build_plan
from policyengine.kql.typed import lowerable
from tests.cases import OPERATOR_CASES, Case
from tests.kql.build import compare, rule
from tests.kql.kqlcheck import KqlChecker, KqlResult

VARIANTS = {f"{case.id} cs={cs}": (case, cs) for case in OPERATOR_CASES for cs in (False, True)}
PLANS: dict[str, Plan] = {
    name: build_plan([rule(compare("properties.x", case.op, case.expected, case_sensitive=cs))])
    for name, (case, cs) in VARIANTS.items()
}

#: Syntax kinds (as Kusto.Language names them: ``in~`` is its "InCs") that the case flag
#: switches, per operator: (case-insensitive, case-sensitive).
CASE_KINDS: dict[str, tuple[set[str], set[str]]] = {
    "equals": ({"EqualTildeExpression", "EqualTildeToken"}, {"EqualExpression", "EqualEqualToken"}),
    "in": ({"InCsExpression", "InCsKeyword"}, {"InExpression", "InKeyword"}),
}
CASE_KINDS |= {"notEquals": CASE_KINDS["equals"], "notIn": CASE_KINDS["in"]}
#: Operators whose case-sensitive form is a function: ``startswith_cs`` and ``endswith_cs``
#: have no public evidence in Resource Graph (../shared/arg-dialect), ``indexof()`` and
#: ``substring()`` have. (case-insensitive kinds, case-sensitive function)
CASE_FUNCTIONS: dict[str, tuple[set[str], str]] = {
    "startsWith": ({"StartsWithExpression", "StartsWithKeyword"}, "indexof"),
    "endsWith": ({"EndsWithExpression", "EndsWithKeyword"}, "substring"),
}


PRESENCE = ("exists", "hasValue")


def expressible(case: Case, case_sensitive: bool = False) -> bool:
    """KQL has no rendering of ``contains`` with public evidence in Resource Graph (on an
    array it needs ``in~`` over a dynamic array); a case-insensitive ``match`` is compiled
    only for a pattern that lower-casing keeps."""
    if case.op in ("contains", "notContains"):
        return False
    if case.op == "match" and not case_sensitive:
        return lowerable(str(case.expected))
    return True


@pytest.fixture(scope="module")
def results(kql: KqlChecker) -> dict[str, KqlResult]:
    # The summary query only counts the verdict column: test_bundled and test_composite check
    # summaries; here the operator renderings are what varies.
    return kql.check({name: plan.queries[0].text for name, plan in PLANS.items()})


@pytest.mark.parametrize("name", VARIANTS)
def test_operator_query_is_valid_arg_kql(results: dict[str, KqlResult], name: str) -> None:
    result = results[name]
    assert not result.problems(), result.report()


@pytest.mark.parametrize("name", VARIANTS)
def test_operator_verdict_is_in_the_query_or_diagnosed(name: str) -> None:
    case, cs = VARIANTS[name]
    plan = PLANS[name]
    (rule_plan,) = plan.rules
    (query,) = plan.queries
    if expressible(case, cs):
        assert rule_plan.server_verdict and not rule_plan.diagnostics
        assert dict(query.verdicts) == {"T-001": "verdict T-001"}
    else:
        assert not rule_plan.server_verdict and query.verdicts == () and query.summary is None
        (diagnostic,) = plan.diagnostics
        assert diagnostic.rule_id == "T-001"
        assert diagnostic.construct.startswith(("contains", "case-insensitive match"))
    # Either way the evaluator gets the value the rule reads.
    assert dict(query.paths) == {"properties.x": ("properties", "x")}


@pytest.mark.parametrize("name", VARIANTS)
def test_operator_value_reaches_the_query_as_written(results: dict[str, KqlResult], name: str) -> None:
    case, cs = VARIANTS[name]
    if not expressible(case, cs) or case.op in PRESENCE:
        return  # presence operators: test_presence_operator_false_is_the_negation
    result = results[name]
    values = case.expected if isinstance(case.expected, list) else [case.expected]
    for value in values:
        if isinstance(value, bool):
            assert "BooleanLiteralExpression" in result.shape
        elif isinstance(value, int | float):
            assert value in [float(n) for n in result.numbers], result.report()
        elif case.op == "match":
            assert (f"^(?:{value})$" if cs else f"^(?:{value})$".lower()) in result.literals
        else:
            assert value in result.literals


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=lambda c: c.id)
def test_case_flag_switches_the_operator(results: dict[str, KqlResult], case: Case) -> None:
    """The parser sees a case-insensitive operator without ``caseSensitive`` and a
    case-sensitive one with it, and nothing else changes."""
    ci, cs = (results[f"{case.id} cs={flag}"] for flag in (False, True))
    only_ci, only_cs = Counter(ci.shape) - Counter(cs.shape), Counter(cs.shape) - Counter(ci.shape)
    if not isinstance(case.expected, str | list) or not expressible(case, False) or not expressible(case, True):
        if expressible(case, False) == expressible(case, True):
            assert not only_ci and not only_cs
        return
    if case.op == "match":
        # Case-insensitive: both sides lower-cased ("(?i)" has no public evidence).
        assert set(only_ci) == {"FunctionCallExpression", "NameReference", "IdentifierToken", "TokenName",
                                "OpenParenToken", "CloseParenToken", "ExpressionList", "List",
                                "SeparatedElement"} and not only_cs, (only_ci, only_cs)
        assert "tolower" in ci.names
    elif case.op in CASE_FUNCTIONS:
        kinds, function = CASE_FUNCTIONS[case.op]
        assert kinds <= set(only_ci) and not kinds & set(cs.shape)
        assert function in cs.names and function not in ci.names
    else:
        assert (set(only_ci), set(only_cs)) == CASE_KINDS[case.op]


@pytest.mark.parametrize(("true_case", "false_case"), [("exists-yes", "exists-false-absent"),
                                                       ("hasValue-yes", "hasValue-false-empty")])
def test_presence_operator_false_is_the_negation(results: dict[str, KqlResult], true_case: str,
                                                 false_case: str) -> None:
    """``exists: false`` passes where the value is absent (tests/cases.py: exists-false-absent),
    so its query cannot be the query of ``exists: true``. GENERATOR BUG: typed.exists and
    typed.has_value ignore the rule's boolean and always render "is present"."""
    shapes = [results[f"{name} cs=False"].shape for name in (true_case, false_case)]
    assert shapes[0] != shapes[1], "the query of `false` is the query of `true`: the rule is inverted"


def test_the_kql_back_end_has_its_own_renderer_for_every_operator_of_the_ir() -> None:
    # The IR names the operators once (operators.OPERATORS, Python semantics only); the KQL back
    # end keeps its own table by name, and neither imports the other's semantics.
    from policyengine import operators
    from policyengine.kql.typed import RENDERERS
    from policyengine.operators import OPERATORS

    assert set(RENDERERS) == set(OPERATORS)
    assert not any(name.startswith("kql") for name in vars(operators))
