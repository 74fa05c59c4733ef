"""Every query the compiler emits uses only KQL constructs with public evidence that Azure
Resource Graph accepts them (issue 12).

Microsoft's parser accepts full KQL; Resource Graph runs an undocumented subset of it.
``../shared/arg-dialect/evidence.json`` counts each construct in 2,689 Resource Graph queries
Microsoft publishes and runs. Here every compiled query — the live fetch queries with their
verdict and applies columns, and the ``--summary`` queries, for the bundled rules, for rules
using every operator of the language (both case flags, every value kind, the logic, ``count``,
``where``, joined subscription data), and as ``policyengine compile --summary`` prints them —
is cut into constructs: function calls (``name(``), the scalar operators the evidence counts
(``=~``, ``in~ (``, ``contains``, ``matches regex``, ``(?i)`` patterns, arithmetic...), the
tabular operators after ``|`` and the join kinds. Each must have uses in the evidence, in at
least two repositories. (Relational ``<``/``>`` and literals are not counted by the evidence
and not checked.)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine import ir
from policyengine.catalog import catalog
from policyengine.kql.constructs import constructs
from policyengine.kql.plan import Plan, build_plan
from policyengine.loading.rules import load_rules
from policyengine.operators import COUNT_COMPARISONS, OPERATORS
from tests.cases import OPERATOR_CASES
from tests.kql.build import ATP, FLEX, SUBSCRIPTIONS, compare, pricing, queries_of, rule
from tests.kql.kqlcheck import KqlChecker, KqlDiagnostic, KqlResult
from tests.kql.test_composite import JUSTIFIED, RULE_SETS

EVIDENCE = Path(__file__).resolve().parents[3] / "shared" / "arg-dialect" / "evidence.json"
#: A construct must appear in at least this many of the evidence's repositories.
MIN_REPOSITORIES = 2

#: Sample values per value kind of the operator table.
SAMPLES: dict[str, tuple[Any, ...]] = {
    "scalar": ("Enabled", 30, 1.5, True),
    "list": (("TLS1_2", "TLS1_3"), (1, 2), (True,), ("a", 1, False)),
    "bool": (True, False),
    "string": ("pg-", ""),
    "regex": ("pg-[a-z]+-[0-9]{2}", r"pg\d+", "[A-z]+"),
    "number": (7, -1.5),
}


def _evidence() -> dict[str, dict[str, Any]]:
    if not EVIDENCE.exists():
        pytest.skip(f"no evidence file at {EVIDENCE} (../shared/arg-dialect is outside the repository)")
    constructs: dict[str, dict[str, Any]] = json.loads(EVIDENCE.read_text("utf-8"))["constructs"]
    return constructs


def every_operator_rules() -> list[ir.Rule]:
    """A rule per operator, value kind and case flag; ``count`` with each comparison; the
    logic nested; a ``where``; subscription data joined (one type, and two in one table)."""
    rules: list[ir.Rule] = []
    for name, op in OPERATORS.items():
        if name == "count":
            continue
        for value in SAMPLES[op.value]:
            for cs in (False, True):
                rules.append(rule(compare("properties.x", name, value, case_sensitive=cs),
                                  rule_id=f"OP-{len(rules)}"))
    for name in COUNT_COMPARISONS:
        rules.append(rule(ir.Count(compare("properties.list", "exists", True).path, name, 2),
                          rule_id=f"OP-{len(rules)}"))
    rules.append(rule(ir.Count(compare("name", "exists", True).path, "greater", 0), rule_id=f"OP-{len(rules)}"))
    rules.append(rule(compare("name", "hasValue", True), rule_id=f"OP-{len(rules)}"))
    for case in OPERATOR_CASES:
        value = tuple(case.expected) if isinstance(case.expected, list) else case.expected
        rules.append(rule(compare("sku.tier", case.op, value, case_sensitive=case.case_sensitive),
                          rule_id=f"OP-{len(rules)}"))
    a, b, c = (compare(f"properties.{k}", "equals", "x") for k in "abc")
    nested = ir.AllOf((a, ir.AnyOf((b, ir.Not(c), ir.AllOf((a, ir.Not(ir.AnyOf((b, c)))))))))
    rules.append(rule(nested, rule_id="LOGIC-1", where=ir.AnyOf((a, ir.Not(b)))))
    rules.append(rule(nested, rule_id="LOGIC-2", resource_type=FLEX, where=ir.AllOf((a, b)),
                      related=(ir.Related("atp", ATP, "Default"),)))
    plan_rel = pricing()
    rules.append(rule(compare("related.plan.properties.pricingTier", "equals", "Standard"), rule_id="REL-1",
                      resource_type=SUBSCRIPTIONS, related=(plan_rel,)))
    return rules


#: A second type in securityresources (a user's catalog), so that one join gathers two types
#: and keys its bag by type and name.
ASSESSMENTS = """\
version: 1
types:
  Microsoft.Security/assessments:
    arg: {table: securityresources}
    scope: subscription
    arm: {get: "/subscriptions/{subscriptionId}/providers/Microsoft.Security/assessments/{name}", apiVersion: "2020-01-01"}
    properties:
      properties.status.code: {type: string}
"""


def two_types_plan(tmp_path: Path) -> Plan:
    path = tmp_path / "catalog.yaml"
    path.write_text(ASSESSMENTS, "utf-8")
    other = ir.Related("assessment", "Microsoft.Security/assessments", "x", ir.Scope.SUBSCRIPTION)
    two = rule(ir.AnyOf((compare("related.plan.properties.pricingTier", "equals", "Standard"),
                         compare("related.assessment.properties.status.code", "equals", "Healthy"))),
               rule_id="REL-2", related=(pricing(), other))
    plan = build_plan([two], catalog(path))
    assert plan.rules[0].server_verdict and "strcat(tolower(type)" in plan.queries[0].text
    return plan


def _plans() -> dict[str, Plan]:
    plans = {"bundled": build_plan(load_rules([])), "every operator": build_plan(every_operator_rules())}
    plans |= {f"composite {name}": build_plan(rules) for name, rules in RULE_SETS.items()}
    return plans


def _cli_summary(cli: Callable[..., Any]) -> dict[str, str]:
    """The queries ``policyengine compile --summary`` prints, one per block, without comments."""
    result = cli("compile", "--summary")
    blocks = result.out.strip().split("\n\n")
    return {f"compile --summary {i}": "\n".join(line for line in block.splitlines() if not line.startswith("//"))
            for i, block in enumerate(blocks)}


def test_the_tokenizer_finds_the_constructs_without_evidence() -> None:
    """The cutter sees what it must refuse: every risky construct the README of
    ../shared/arg-dialect lists, and not the text of literals or bracketed names."""
    query = ('resources | where name contains_cs "x" and name startswith_cs "y" or name endswith_cs "z"\n'
             '| summarize p = take_anyif(bag_pack("k", id), name =~ "contains_cs min_of(")\n'
             '| extend ["gettype(x)"] = min_of(1, 2), v = max_of(1, 2), t = gettype(p)\n'
             '| where name matches regex "(?i)^a$" and anyif(1) != 2 and "a" in~ (p)')
    found = set(constructs(query))
    assert {"contains_cs", "startswith_cs", "endswith_cs", "take_anyif()", "bag_pack()", "min_of()", "max_of()",
            "gettype()", 'matches regex "(?i)..."', "anyif()", "in~ (", "=~", "!=", " and ", " or ",
            "| where", "| summarize", "| extend"} <= found
    assert "matches regex" not in found  # the only pattern is case-insensitive


def corpus(cli: Callable[..., Any], tmp_path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for label, plan in {**_plans(), "two types in one join": two_types_plan(tmp_path)}.items():
        queries |= queries_of(plan, label)
    queries |= _cli_summary(cli)
    return queries


def test_the_corpus_passes_microsofts_parser(cli: Callable[..., Any], tmp_path: Path, kql: KqlChecker) -> None:
    results = kql.check(corpus(cli, tmp_path))

    def problems(name: str, result: KqlResult) -> list[KqlDiagnostic]:
        return result.problems(allowed=next((codes for label, codes in JUSTIFIED.items()
                                             if name.startswith(f"composite {label} ")), ()))

    failures = [r.report(problems(n, r)) for n, r in results.items() if problems(n, r)]
    assert not failures, "\n\n".join(failures)


def test_every_compiled_query_uses_only_constructs_with_evidence(cli: Callable[..., Any], tmp_path: Path) -> None:
    evidence = _evidence()
    queries = corpus(cli, tmp_path)
    used: Counter[str] = Counter()
    where: dict[str, str] = {}
    for name, text in queries.items():
        for construct in constructs(text):
            used[construct] += 1
            where.setdefault(construct, name)
    unsupported = {c: (evidence.get(c, {}).get("uses", 0), evidence.get(c, {}).get("repositories", 0), where[c])
                   for c in used
                   if evidence.get(c, {}).get("uses", 0) == 0
                   or evidence.get(c, {}).get("repositories", 0) < MIN_REPOSITORIES}
    assert not unsupported, f"constructs without evidence (uses, repositories, first query): {unsupported}"
    # The corpus really is compiled: every construct family shows up.
    assert len(queries) >= 30
    assert {"make_bag()", "pack()", "case()", "indexof()", "substring()", "strlen()", "tolower()",
            "matches regex", "join kind=leftouter", "| summarize", "countif()"} <= set(used)
