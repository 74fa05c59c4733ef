"""Generated cases: random JSON values for ``properties.x`` (strings with odd case and
Unicode, numbers, numeric strings, booleans, arrays, objects, null, absent) against every
operator, the verdict the query computes equal to the evaluator's."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine import ir
from policyengine.kql.plan import Query
from policyengine.paths import parse_path
from tests.cases import ABSENT
from tests.kqloracle import ALL_READINGS, execute, parse
from tests.kqloracle import syntax as kql
from tests.kqloracle.agreement import (
    SERVER_TYPE,
    agrees,
    server,
    server_record,
    single_plan,
    tables_of,
    verdict,
)
from tests.kqloracle.values import ascii_fold, format_real

META = ir.Metadata("G", "g", ir.Severity.LOW, "d", ir.Remediation("r"))

_STRINGS = [("equals", "on"), ("notEquals", "Dropping"), ("in", ("TLSv1.2", "tlsv1.3")), ("notIn", ("off",)),
            ("contains", "a"), ("contains", "5"), ("contains", "true"), ("notContains", "pg"),
            ("startsWith", "pg-"), ("endsWith", "-PROD"), ("match", "pg-[a-z]+"),
            ("match", "[0-9]+([.][0-9]+)?"), ("equals", "été"), ("equals", ""), ("startsWith", "")]
_OTHERS = [("equals", 30), ("equals", 1.5), ("notEquals", 0), ("greater", 7), ("greaterOrEquals", 30),
           ("less", 1.5), ("lessOrEquals", -1), ("in", (30, "30", True)), ("in", (1.5, 2)), ("notIn", (0,)),
           ("equals", True), ("notEquals", False), ("in", (True,)), ("contains", 22),
           ("exists", True), ("exists", False), ("hasValue", True), ("hasValue", False)]
_COUNTS = [("greater", 0), ("equals", 2), ("lessOrEquals", 1)]
CONDITIONS: list[tuple[str, Any, bool]] = (
    [(op, value, cs) for op, value in _STRINGS for cs in (False, True)]
    + [(op, value, False) for op, value in _OTHERS]
    + [(f"count:{op}", value, True) for op, value in _COUNTS])

_WORDS = ["on", "ON", "On", "off", "Dropping", "DROPPING", "TLSv1.2", "TLSV1.2", "tlsv1.3", "pg-a", "PG-prod",
          "pg-PROD", "a-prod", "été", "ÉTÉ", "Été", "straße", "STRASSE", "ſ", "K", "İ", "30", " 30", "30 ", "+30",
          "-1", "1e3", "1E-2", "1.5", ".5", "5.", "1e999", "0x1A", "1_000", "inf", "NaN", "٣", "true", "TRUE",
          "False", "yes", "", "5", "a", "A", "Standard", "pg-ab\n"]
TEXT = st.one_of(st.sampled_from(_WORDS), st.text(alphabet="aAgGpP-_05.eE+ éÉßİıK\n", max_size=6))
NUMERIC_TEXT = st.from_regex(r"[-+]?[0-9]{1,4}(\.[0-9]{1,3})?([eE][-+]?[0-9]{1,2})?", fullmatch=True)
NUMBERS = st.one_of(st.integers(-(2**53), 2**53),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, 30, 1.5, -1, 7, 2]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, NUMERIC_TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=6)
#: Scalars as often as containers (a plain recursive strategy is mostly containers).
ACTUAL = st.one_of(st.just(ABSENT), st.none(), st.booleans(), NUMBERS, TEXT, NUMERIC_TEXT,
                   st.lists(JSON, max_size=3), st.dictionaries(TEXT, JSON, max_size=2))


def _variants(value: Any) -> list[Any]:
    """Values close to what a condition expects, where the back ends are most likely to
    part: other casings (ASCII and not), affixes, numbers as text, booleans as text, the
    value inside an array."""
    if isinstance(value, tuple):
        return [v for item in value for v in _variants(item)]
    if isinstance(value, bool):
        word = "true" if value else "false"
        return [value, not value, word, word.upper(), word.title(), int(value), [value], [word]]
    if isinstance(value, (int, float)):
        return [value, -value, value + 1, str(value), f" {value}", f"+{value}", f"{float(value)}", f"{value}e0",
                format_real(float(value)), [value], [str(value)], True]
    text = str(value)
    return [text, text.upper(), text.lower(), text.swapcase(), text.title(), f"x{text}", f"{text}x",
            text[1:], text.upper().replace("S", "ſ"), [text.upper()], [[text]], [5, text], {"x": text}]


@st.composite
def examples(draw: st.DrawFn) -> tuple[tuple[str, Any, bool], Any]:
    condition = draw(st.sampled_from(CONDITIONS))
    actual = draw(st.one_of(ACTUAL, st.sampled_from(_variants(condition[1]))))
    return condition, actual


@functools.cache
def compiled(op: str, value: Any, cs: bool) -> tuple[ir.Rule, Query, kql.Query | None]:
    path = parse_path("properties.x")
    node: ir.Condition
    if op.startswith("count:"):
        node = ir.Count(path, op.split(":")[1], value)
    else:
        node = ir.Compare(path, op, value, cs)
    rule = ir.Rule(META, SERVER_TYPE, node)
    query, plan = single_plan(rule)
    return rule, query, None if plan.diagnostics else parse(query.text)


def _mixed_in_hazard(op: str, value: Any, actual: Any) -> bool:
    """The known disagreement of ``contains`` on an array under the "convert" reading (see
    test_cases.KNOWN): a non-string element whose text equals the needle."""
    if op not in ("contains", "notContains") or not isinstance(actual, list) or not isinstance(value, str):
        return False

    def texts(item: Any) -> list[str]:
        if isinstance(item, list):
            return [t for i in item for t in texts(i)]
        if isinstance(item, bool):
            return ["true" if item else "false"]
        if isinstance(item, int):
            return [str(item)]
        if isinstance(item, float):
            return [format_real(item)]
        return []

    return ascii_fold(value) in {ascii_fold(t) for t in texts(actual)}


GENERIC: list[Any] = [ABSENT, None, "", " ", "ON", "été", "ÉTÉ", "٣", "1e3", ".5", "30\n", "pg-ab\n", "true", 0, 1, -1.5,
                      2**53, True,
                      False, [], [""], [None], ["a", ["A"]], [1, "x"], {}, {"x": 1}]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: f"{c[0]}={c[1]!r}{'-cs' if c[2] else ''}")
def test_condition_against_close_values(condition: tuple[str, Any, bool]) -> None:
    """Every condition against values near its own and a fixed set of awkward ones."""
    for actual in _variants(condition[1]) + GENERIC:
        check(condition, actual)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(example=examples())
def test_generated_values_agree(example: tuple[tuple[str, Any, bool], Any]) -> None:
    check(*example)


def check(condition: tuple[str, Any, bool], actual: Any) -> None:
    op, value, cs = condition
    rule, query, tree = compiled(op, value, cs)
    resource = server({} if actual is ABSENT else {"x": actual})
    python = verdict(rule, server_record(resource))
    tables = tables_of([resource])
    if tree is None:  # not expressible: the evaluator decides from the projected column
        assert not query.verdicts
        (row,) = execute(query.text, tables)
        assert row["properties.x"] == (None if actual is ABSENT else actual)
        return
    (_, column), = query.verdicts
    for reading in ALL_READINGS:
        if reading.mixed_in == "convert" and _mixed_in_hazard(op, value, actual):
            continue
        (row,) = execute(tree, tables, readings=reading)
        assert agrees(row[column], python), (condition, actual, reading, row[column], python)
