"""The queries of the bundled rules pass Microsoft's KQL parser, the binder against the ARG
tables, Kusto's analyzers and ARG's rules, with no error and no warning (docs/architecture.md, "Bars")."""

from __future__ import annotations

import re

import pytest

from policyengine.kql.plan import IDENTITY, Query, build_plan
from policyengine.loading.rules import load_rules
from tests.kql.build import promised_columns, promised_summary_columns, queries_of
from tests.kql.kqlcheck import KqlChecker, KqlResult

BUNDLED = build_plan(load_rules([]))
QUERIES = queries_of(BUNDLED, "bundled")


@pytest.fixture(scope="module")
def results(kql: KqlChecker) -> dict[str, KqlResult]:
    return kql.check(QUERIES)


@pytest.mark.parametrize("name", QUERIES)
def test_bundled_query_is_valid_arg_kql(results: dict[str, KqlResult], name: str) -> None:
    result = results[name]
    assert not result.problems(), result.report()


#: Rules whose data is all in Resource Graph but whose verdict the Python evaluator computes from
#: the query's columns: PG-SUB-002 counts, per subscription, the security contacts (with a
#: count inside) that Resource Graph gives as one bag (a per-element count would need
#: mv-expand of a joined bag; the client reads the bag instead).
EVALUATED_BY_THE_CLIENT = {"PG-SUB-002"}


def test_every_bundled_rule_is_planned_without_diagnostics() -> None:
    planned = {r.rule_id for r in BUNDLED.rules}
    assert planned == {r.id for r in load_rules([])}
    assert {d.rule_id for d in BUNDLED.diagnostics} == EVALUATED_BY_THE_CLIENT
    # Every other rule whose data is all in Resource Graph gets its verdict inside the query.
    assert all(r.server_verdict for r in BUNDLED.rules
               if r.capability == "arg" and r.rule_id not in EVALUATED_BY_THE_CLIENT)


@pytest.mark.parametrize("query", BUNDLED.queries, ids=lambda q: q.resource_type)
def test_query_returns_the_columns_the_plan_promises(results: dict[str, KqlResult], query: Query) -> None:
    """What the binder says each query returns is what plan.json tells the client to read:
    identity strings, one dynamic column per path and related resource, verdicts as strings,
    applicability as 0/1/2."""
    columns = dict(results[f"bundled {query.resource_type}"].columns)
    assert list(columns) == promised_columns(query)
    assert {c: columns[c] for c in IDENTITY} == dict.fromkeys(IDENTITY, "string")
    assert all(columns[c] == "dynamic" for c, _ in query.paths)
    assert all(columns[r.column] == "dynamic" for r in query.related)
    assert all(columns[c] == "string" for _, c in query.verdicts)
    assert all(columns[c] == "long" for _, c in query.applies)
    if query.summary is not None:
        summary = dict(results[f"bundled {query.resource_type} summary"].columns)
        assert list(summary) == promised_summary_columns(query)
        assert set(list(summary.values())[1:]) == {"long"}


#: "Identifiers may contain letters, digits, and underscores (_) ... spaces, dots (.), and
#: dashes (-) ... For example, semicolons and colons aren't supported"; 1 to 1024 characters;
#: names that begin or end with `__` are reserved (KQL "Entity names",
#: https://learn.microsoft.com/kusto/query/schema-entities/entity-names).
ENTITY_NAME = re.compile(r"(?!__)[\w .-]{1,1024}(?<!__)")


def test_result_column_names_follow_the_entity_name_rules(results: dict[str, KqlResult]) -> None:
    names = {c for result in results.values() for c, _ in result.columns}
    assert sorted(n for n in names if not ENTITY_NAME.fullmatch(n)) == []
