"""The checker itself: it must reject what ARG rejects, or every other KQL test proves nothing."""

from __future__ import annotations

import pytest

from tests.kql.kqlcheck import KqlChecker, KqlResult

PRICING_JOIN = ("| join kind=leftouter (securityresources | where type =~ 'microsoft.security/pricings' "
                "| project subscriptionId, p = properties) on subscriptionId")
SUBSCRIPTION_JOIN = ("| join kind=leftouter (resourcecontainers | where type =~ 'microsoft.resources/subscriptions' "
                     "| project subscriptionId, s = name) on subscriptionId")

#: name -> (query, the codes of its error and warning diagnostics)
CASES: dict[str, tuple[str, list[str]]] = {
    "clean": ("Resources | where type =~ 'x' | project id, v = tostring(properties.v)", []),
    "pascal-and-lower-case-tables": ("SecurityResources | union resourcecontainers | project id", []),
    "syntax-error": ("resources | where (", ["KS006", "KS005"]),
    "unknown-column": ("resources | project nosuch", ["KS142"]),
    "unknown-function": ("resources | extend x = nosuchfn(name) | project id", ["KS211"]),
    "unknown-table": ("AzureActivity | project id", ["KS204"]),
    "operator-not-in-arg": ("resources | project-rename n = name", ["ARG-OPERATOR"]),
    "take-breaks-paging": ("resources | take 5", ["ARG-PAGING"]),
    "limit-breaks-paging": ("resources | limit 5", ["ARG-PAGING"]),
    "only-dynamic-columns-break-paging": ("resources | project properties", ["ARG-PAGING"]),
    "let-statement": ("let t = 1; resources | project id", ["ARG-STATEMENT"]),
    "join-kind": ("resources | join kind=leftanti (resources) on id | project id", ["ARG-JOIN-KIND"]),
    "join-hint": ("resources | join kind=inner hint.strategy=broadcast (resources) on id | project id",
                  ["ARG-JOIN-PARAMETER"]),
    "join-without-kind": ("resources | join (resources) on id | project id", ["KS508"]),
    "four-joins": ("resources" + " | join kind=inner (resources) on id" * 4 + " | project id", ["ARG-JOINS"]),
    "two-cross-table-joins": (f"resources {PRICING_JOIN} {SUBSCRIPTION_JOIN} | project id", ["ARG-CROSS-JOINS"]),
    "cross-table-joins-to-resourcecontainers": (
        f"resources {SUBSCRIPTION_JOIN} {SUBSCRIPTION_JOIN} {SUBSCRIPTION_JOIN} | project id", []),
    "four-mv-expands": ("resources" + " | mv-expand zones" * 4 + " | project id", ["ARG-MV-EXPANDS"]),
    "four-union-legs": ("resources | union resources, resources, resources | project id", ["ARG-UNION-LEGS"]),
}

SHAPE_PAIRS = {
    # Same structure, other literal values: same shape.
    "same": ('resources | where name == "a" | project id', 'resources | where name == "b\\"|c" | project id', True),
    # A value that ended its literal early changed the structure.
    "escaped": ('resources | where name == "a" | project id', 'resources | where name == "a" or "" == "" | project id', False),
    # A comment swallowed the rest of a line.
    "comment": ('resources | where name == "a"\n| project id', 'resources | where name == "a" // x\n| project id', False),
}


@pytest.fixture(scope="module")
def results(kql: KqlChecker) -> dict[str, KqlResult]:
    batch = {name: query for name, (query, _) in CASES.items()}
    for name, (left, right, _) in SHAPE_PAIRS.items():
        batch[f"{name} left"], batch[f"{name} right"] = left, right
    batch["literals"] = r"""resources | where name in ("a\"b", 'c\'d', @"e\f", "\u00e9\t\\") | project ["g h"] = id"""
    batch["numbers"] = "resources | where todouble(name) in (30, 1.5, 1e+20, 9223372036854775807) | project id"
    return kql.check(batch)


@pytest.mark.parametrize("name", CASES)
def test_diagnostic_codes(results: dict[str, KqlResult], name: str) -> None:
    result = results[name]
    assert sorted(d.code for d in result.problems()) == sorted(CASES[name][1]), result.report()


def test_diagnostics_say_where(results: dict[str, KqlResult]) -> None:
    (diagnostic,) = results["unknown-column"].diagnostics
    assert (diagnostic.source, diagnostic.severity, diagnostic.line, diagnostic.col) == ("semantic", "error", 1, 21)
    assert str(diagnostic).startswith("1:21: error KS142 [semantic] ")


@pytest.mark.parametrize("name", SHAPE_PAIRS)
def test_shape_ignores_values_only(results: dict[str, KqlResult], name: str) -> None:
    same = results[f"{name} left"].shape == results[f"{name} right"].shape
    assert same is SHAPE_PAIRS[name][2]


def test_literals_are_read_as_the_parser_reads_them(results: dict[str, KqlResult]) -> None:
    assert results["literals"].literals == ('a"b', "c'd", "e\\f", "é\t\\", "g h")


def test_numbers_are_read_as_the_parser_reads_them(results: dict[str, KqlResult]) -> None:
    assert results["numbers"].numbers == ("30", "1.5", "100000000000000000000", "9223372036854775807")
