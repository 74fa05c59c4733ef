"""The oracle itself: its parser refuses what is outside the subset, and its semantics are
the KQL reference's, checked against the examples the reference pages give."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.kql import quote
from tests.kqloracle import KqlSyntaxError, OracleError, Readings, execute, parse
from tests.kqloracle.values import DEFAULT_READINGS, Kind

ONE = {"t": [{"properties": {"s": "abc", "n": 1, "r": 123.45, "b": True, "o": {"abc": 1}, "a": [1, 2, 3],
                             "z": None, "e": "", "empty": [], "bag": {}, "mixed": [5, True, None, "x"],
                             "nested": [1, [2, [3]]], "kind": "Ready"},
              "name": "pg-1"}]}
SCHEMAS = {"t": {"name": Kind.STRING, "properties": Kind.DYNAMIC}}


def value(expr: str, tables: dict[str, Any] | None = None, readings: Readings = DEFAULT_READINGS) -> Any:
    (row,) = execute(f"t | project v = {expr}", tables or ONE, schemas=SCHEMAS, readings=readings)
    return row["v"]


@pytest.mark.parametrize(
    "text",
    ["t | take 5", "t | where name has \"pg\"", "t | project v = now()", "t | where x > 1d", "t | project v = @\"a\\\"",
     "t | project v = \"open", "t | project v = \"a\\qb\"", "t | project v = \"a\nb\"", "t | join kind=inner (t) on name",
     "t | project v = 1 / 2", "t | project v = !true", "t | where name !contains \"x\"", "t | order by name",
     "t | project v = 0x1F", "t | project v = dynamic([1])", "t | project v = 99999999999999999999",
     "t | summarize c = count() by name", "t | project v = name between (1 .. 2)", "let x = 1; t"],
)
def test_outside_the_subset_is_a_clear_error(text: str) -> None:
    with pytest.raises(OracleError) as info:
        execute(text, ONE, schemas=SCHEMAS)
    assert str(info.value)


def test_syntax_errors_say_where() -> None:
    with pytest.raises(KqlSyntaxError, match=r"^2:3: tabular operator 'take'"):
        parse("t\n| take 5")


@pytest.mark.parametrize(
    ("expr", "problem"),
    [("nope", "no column named 'nope'"), ("name.x", "property access on a string"),
     ("properties.s == \"abc\"", "between a dynamic and a string"), ("tolower(properties.s)", "does not take a dynamic"),
     ("iff(true, 1, \"a\")", "all its results must be of the same type"), ("foo(1)", "outside the oracle's subset")],
)
def test_what_kusto_would_reject_is_refused(expr: str, problem: str) -> None:
    with pytest.raises(OracleError, match=problem):
        value(expr)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text())
def test_every_string_reads_back_through_the_quoting_helper(text: str) -> None:
    assert value(quote.string(text)) == text


@pytest.mark.parametrize(
    ("expr", "expected"),
    [  # https://learn.microsoft.com/kusto/query/gettype-function, and the dynamic page
        ('gettype("a")', "string"), ("gettype(111)", "long"), ("gettype(1 == 1)", "bool"), ("gettype(123.45)", "real"),
        ("gettype(properties.n)", "int"), ("gettype(properties.s)", "string"), ("gettype(properties.o)", "dictionary"),
        ("gettype(properties.a)", "array"), ("gettype(properties.r)", "real"), ("gettype(properties.z)", "null"),
        ("gettype(properties.missing)", "null"), ("gettype(properties.b)", "bool"), ("gettype(name)", "string"),
    ],
)
def test_gettype(expr: str, expected: str) -> None:
    assert value(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("tostring(properties.s)", "abc"), ("tostring(properties.missing)", ""), ("tostring(properties.o)", '{"abc":1}'),
        ("tostring(properties.b)", "true"), ("tostring(properties.n)", "1"), ("tostring(123)", "123"),
        ("todouble(\"123.4\")", 123.4), ("todouble(\"1e3\")", 1000.0), ("todouble(\"abc\")", None),
        ("todouble(\" 5 \")", 5.0), ("todouble(\"inf\")", None), ("todouble(\"1_0\")", None),
        ("tobool(\"true\")", True), ("tobool(\"false\")", False), ("tobool(1)", True), ("tobool(123)", True),
        ("tobool(\"yes\")", None), ('tolower("Hello")', "hello"), ('tolower("ÉTÉ İ")', "été i"),
        ("strlen(\"été\")", 3), ("array_length(properties.a)", 3), ("array_length(properties.s)", None),
        ("bag_keys(properties.o)", ["abc"]), ("bag_keys(properties.bag)", []), ("bag_keys(properties.s)", None),
        ("bag_keys(properties.z)", None), ("bag_keys(properties.a)", None),
        ('bag_pack("k", name, "p", properties.n)', {"k": "pg-1", "p": 1}),
        ("properties.a[0]", 1), ("properties.a[-1]", 3), ("properties.a[3]", None), ("properties['o']['abc']", 1),
        ("properties.s.x", None), ("properties.o.ABC", None), ("properties.nested[1][1][0]", 3),
    ],
)
def test_conversions_and_access(expr: str, expected: Any) -> None:
    assert value(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [  # https://learn.microsoft.com/kusto/query/isnull-function: "" and [] and {} are not null
        ('isnull("")', False), ("isnull(properties.e)", False), ("isnull(properties.empty)", False),
        ("isnull(properties.bag)", False), ("isnull(properties.z)", True), ("isnull(properties.missing)", True),
        ("isnotnull(properties.missing)", False), ("isnull(todouble(properties.s))", True),
    ],
)
def test_isnull(expr: str, expected: bool) -> None:
    assert value(expr) is expected


NULL = "(todouble(properties.s) > 3)"  # a bool(null): todouble("abc") is null


@pytest.mark.parametrize(
    ("expr", "expected"),
    [  # https://learn.microsoft.com/kusto/query/scalar-data-types/null-values and .../logical-operators
        (NULL, None), (f"{NULL} and true", False), (f"{NULL} or true", True), (f"{NULL} or false", False),
        (f"not({NULL})", None), ("todouble(properties.s) == 3", False), ("todouble(properties.s) != 3", True),
        ("todouble(properties.s) == todouble(properties.s)", None), (f"iff({NULL}, 1, 2)", 2),
        (f"case({NULL}, 1, 1 == 1, 2, 3)", 2), ("case(1 == 2, 1, 3)", 3),
        ("min_of(10, 1, -3, 17)", -3), ("max_of(10, 1, -3, 17)", 17),
    ],
)
def test_null_logic(expr: str, expected: Any) -> None:
    assert value(expr) == expected


def test_min_of_ignores_nulls() -> None:
    """"Non-null values take precedence to null values" (min-of-function page example)."""
    nulls = {"t": [{"properties": {}, "name": ""}]}
    assert value("min_of(todouble(properties.a), 3.0)", nulls) == 3.0
    assert value("max_of(todouble(properties.a), todouble(properties.b))", nulls) is None


@pytest.mark.parametrize(
    ("expr", "expected"),
    [  # the tables of https://learn.microsoft.com/kusto/query/datatypes-string-operators
        ('"aBc" == "aBc"', True), ('"abc" != "ABC"', True), ('"abc" =~ "ABC"', True), ('"aBc" !~ "xyz"', True),
        ('"FabriKam" contains "BRik"', True), ('"FabriKam" contains_cs "Kam"', True),
        ('"Fabrikam" contains_cs "Kam"', False), ('"Fabrikam" startswith "fab"', True),
        ('"Fabrikam" startswith_cs "fab"', False), ('"Fabrikam" endswith "Kam"', True),
        ('"Fabrikam" endswith_cs "kam"', True), ('"Fabrikam" matches regex "b.*k"', True),
        ('"abc" in ("123", "345", "abc")', True), ('"bca" !in ("123", "345", "abc")', True),
        ('"Abc" in~ ("123", "345", "abc")', True), ('"bCa" !in~ ("123", "345", "ABC")', True),
        # "Case-insensitive operators are currently supported only for ASCII-text"
        ('"été" =~ "ÉTÉ"', False), ('"Été-ON" =~ "Été-on"', True), ('"straße" =~ "STRASSE"', False),
        ('"ÉTÉ" contains "té"', False), ('"été" in~ ("ÉTÉ")', False),
    ],
)
def test_string_operators(expr: str, expected: bool) -> None:
    assert value(expr) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [("^a$", "a\n", False), ("^a\\z", "a", True), ("\\d", "٣", False), ("\\w", "é", False), ("\\s", "\u00a0", False),
     ("\\bpg\\b", "a pg b", True), ("\\bpg\\b", "apgb", False), ("(?i)^É$", "é", True), ("[\\d.]+", "1.5", True),
     ("[]a]", "]", True), ("[^]a]", "b", True)],
)
def test_matches_regex_is_re2(pattern: str, text: str, expected: bool) -> None:
    assert value(f"{quote.string(text)} matches regex {quote.string(pattern)}") is expected


@pytest.mark.parametrize("pattern", ["\\p{Greek}", "[[:alpha:]]", "(?m)^a$", "\\Qa\\E", "[\\D]"])
def test_regex_syntax_outside_the_subset(pattern: str) -> None:
    with pytest.raises(OracleError):
        value(f'"a" matches regex {quote.string(pattern)}')


def test_in_flattens_and_reads_mixed_types_both_ways() -> None:
    """"Nested arrays are flattened into a single list of values"
    (https://learn.microsoft.com/kusto/query/in-operator); the types of the elements are a
    reading."""
    assert value("2 in (properties.nested)") is True
    assert value("3.0 in (properties.nested)") is True
    assert value('"X" in~ (properties.mixed)') is True
    assert value('"X" in (properties.mixed)') is False
    assert value('"5" in~ (properties.mixed)') is False
    assert value('"5" in~ (properties.mixed)', readings=Readings(mixed_in="convert")) is True
    assert value('"true" in (properties.mixed)', readings=Readings(mixed_in="convert")) is True
    assert value('"x" in~ (properties.missing)') is False
    assert value('"x" !in~ (properties.missing)') is True
    assert value('"abc" in (properties.s)') is True  # a dynamic scalar is one value


def test_leftouter_join_as_the_reference_shows_it() -> None:
    """The example of https://learn.microsoft.com/kusto/query/join-leftouter: every left row,
    matching right rows, ``Key1`` for the right key, empty columns where nothing matched."""
    schemas = {"X": {"Key": Kind.STRING, "Value1": Kind.DYNAMIC}, "Y": {"Key": Kind.STRING, "Value2": Kind.DYNAMIC}}
    tables = {"X": [{"Key": k, "Value1": v} for k, v in [("a", 1), ("b", 2), ("b", 3), ("c", 4)]],
              "Y": [{"Key": k, "Value2": v} for k, v in [("b", 10), ("c", 20), ("c", 30), ("d", 40)]]}
    rows = execute("X | join kind=leftouter (Y) on Key", tables, schemas=schemas)
    assert [tuple(r.values()) for r in rows] == [
        ("a", 1, "", None), ("b", 2, "b", 10), ("b", 3, "b", 10), ("c", 4, "c", 20), ("c", 4, "c", 30)]
    assert list(rows[0]) == ["Key", "Value1", "Key1", "Value2"]


def test_summarize_take_anyif_and_countif() -> None:
    schemas = {"T": {"g": Kind.STRING, "k": Kind.STRING, "v": Kind.DYNAMIC}}
    tables = {"T": [{"g": "a", "k": "x", "v": 1}, {"g": "a", "k": "y", "v": 2}, {"g": "a", "k": "y", "v": 3},
                    {"g": "b", "k": "z", "v": 4}]}
    query = 'T | summarize p = take_anyif(v, k == "y"), n = countif(k == "y") by g'
    first = execute(query, tables, schemas=schemas)
    last = execute(query, tables, schemas=schemas, readings=Readings(take_any="last"))
    assert first == [{"g": "a", "p": 2, "n": 2}, {"g": "b", "p": None, "n": 0}]
    assert last[0]["p"] == 3
    assert execute('T | where k == "none" | summarize n = countif(true) by g', tables, schemas=schemas) == []


def test_extend_sees_earlier_columns_and_project_renames() -> None:
    rows = execute('t | extend a = 1, b = a + 1 | extend c = 2 - b | project name, ["x y"] = c * 3',
                   ONE, schemas=SCHEMAS)
    assert rows == [{"name": "pg-1", "x y": 0}]


def test_where_drops_null_predicates() -> None:
    assert execute(f"t | where {NULL}", ONE, schemas=SCHEMAS) == []
    assert len(execute(f"t | where not({NULL}) or true", ONE, schemas=SCHEMAS)) == 1
