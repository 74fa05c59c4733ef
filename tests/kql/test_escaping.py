"""No value from a rule can change a query's structure (docs/architecture.md, "Bars").

Hostile strings — quotes, backslashes, ``|``, line breaks, comment openers, brackets, control
characters, U+2028, non-BMP characters, the empty string — are compiled (a) as comparison
values, (b) as a property name in a path and (c) as the name of a related resource. Microsoft's
parser must then read every such value back exactly, and the query must have the shape of the
same rules compiled with a plain value. Hypothesis generates the values; all of them go to
Node in one batch, so the property costs one parser start.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from policyengine import ir
from policyengine.kql import quote
from policyengine.kql.plan import Plan, build_plan
from policyengine.paths import FieldPath
from tests.kql.build import PRICINGS, compare, rule
from tests.kql.kqlcheck import KqlChecker, KqlResult

#: Pieces that mean something to a KQL lexer or to our quoting.
PIECES = (
    "'", '"', "\\", "|", "\n", "\r", "\r\n", "\t", "//", "/*", "*/", "]", "['", '["', "']", '"]',
    "[", "(", ")", ",", ";", ":", "$", "{", "}", "=~", "@", "@\"", "h'", "```", "~~~", "'''",
    "\\u0041", "\\x41", "\\101", "\\n", "\\\"", "\\'", "\\\\", "\x00", "\x01", "\x08", "\x0b",
    "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\ufeff", "\ufffd",
    "é", "ß", "İ", "😀", "\U0010ffff", " ", "| take 1", '" or "" == "', "' or '' == '",
    "where", "project", "and", "abc", "a.b", "0", "1day",
)
HOSTILE = st.lists(st.one_of(st.sampled_from(PIECES), st.characters(codec="utf-8")),
                   max_size=8).map("".join)
GENERATED = 50

#: Code points quote.string is tested on one by one: all of ASCII, and the others that end a
#: line or a literal somewhere (C1 controls, NEL, line/paragraph separators, BOM, non-BMP).
CODE_POINTS = [*range(0x80), 0x80, 0x85, 0x9F, 0xA0, 0xAD, 0x2028, 0x2029, 0x200B, 0xFEFF, 0xFFFD,
               0xFFFF, 0x10000, 0x1F600, 0x10FFFF]

NUMBERS: tuple[int | float, ...] = (0, 1, 30, 1.5, 0.1, 1e20, 1e-7, 5e-324, 1.7976931348623157e308,
                                    2**53, -(2**53), -1, -1.5)
#: Integers a query cannot compare exactly (through todouble) or even write (beyond 64 bits).
INEXACT: tuple[int, ...] = (2**53 + 1, 2**62, 2**63 - 1, 2**63, 10**30, -(2**63))


def hostile_values() -> list[str]:
    """Hypothesis-generated values, plus the explicit ones below; collected, not tested here."""
    seen: list[str] = []

    @settings(max_examples=GENERATED, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(HOSTILE)
    @example("")
    @example("abc")
    @example("'\"\\")
    @example('"] | take 1 //')
    @example("\"\n| project-rename x = id\n| where \"\" == \"")
    @example("line\nbreak\rreturn\ttab")
    @example("/* not a comment */ // nor this")
    @example("\u2028\u2029\x85\x00")
    @example("😀 \U0001f9ea")
    @example("\\")
    @example("\\\\1")
    @example("a\\u0022b")
    @example("```multi```")
    def collect(value: str) -> None:
        seen.append(value)

    collect()
    return list(dict.fromkeys(seen))


def comparisons(value: str) -> ir.Rule:
    """(a): the value compared with equals, in, startsWith and endsWith, both ways of case.
    ``endsWith`` gets it behind a ``~``, so that its literals are counted apart. (``contains``
    is never compiled: it has no rendering with evidence in Resource Graph.)"""
    # On sku.a, so that no key of (b), under properties, can share its column.
    items = [compare("sku.a", op, arg, case_sensitive=cs)
             for cs in (False, True)
             for op, arg in (("equals", value), ("in", [value, "other"]), ("startsWith", value),
                             ("endsWith", f"~{value}"))]
    return rule(ir.AllOf(tuple(items)), rule_id="A-1")


def matching(value: str) -> ir.Rule:
    """(a): the value, regex-escaped, as a case-sensitive ``match`` pattern. (A case-insensitive
    one is compiled only for a pattern without escapes, which lower-casing keeps: see
    tests/kql/test_operators.py.)"""
    return rule(compare("properties.a", "match", re.escape(value), case_sensitive=True), rule_id="M-1")


def property_name(value: str) -> ir.Rule:
    """(b): the value as a key in a path: ``properties['<value>']``."""
    path = FieldPath(f"properties[{value!r}]", ("properties", value))
    return rule(compare(path, "equals", "x"), rule_id="B-1")


def related_name(value: str) -> ir.Rule:
    """(c): the value as the name of a subscription-scope resource joined in."""
    plan = ir.Related("plan", PRICINGS, value, ir.Scope.SUBSCRIPTION)
    return rule(compare("related.plan.properties.pricingTier", "equals", "Standard"), rule_id="C-1",
                related=(plan,))


def plans(value: str) -> tuple[Plan, Plan]:
    """One plan of (a), (b) and (c) together, one of the regex (which may be declined)."""
    return (build_plan([comparisons(value), property_name(value), related_name(value)]),
            build_plan([matching(value)]))


BASELINES = {"plain": plans("abc"), "bracketed": plans("a-b")}


@dataclass(frozen=True)
class Hostile:
    values: list[str]
    plans: dict[int, tuple[Plan, Plan]]

    def failures(self, check: Callable[[int, str], str | None]) -> str:
        """``check`` applied to every value: one line per value it finds a problem with."""
        found = ((value, check(i, value)) for i, value in enumerate(self.values))
        return "\n".join(f"{value!r}: {problem}" for value, problem in found if problem)


@pytest.fixture(scope="module")
def hostile() -> Hostile:
    values = hostile_values()
    return Hostile(values, {i: plans(value) for i, value in enumerate(values)})


@pytest.fixture(scope="module")
def keywords(kql: KqlChecker) -> list[str]:
    """Kusto.Language's keywords that look like identifiers (``where``, ``title``, ``flags``)."""
    return [k for k in kql.keywords() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]


@pytest.fixture(scope="module")
def checked(kql: KqlChecker, keywords: list[str], hostile: Hostile) -> dict[str, KqlResult]:
    batch: dict[str, str] = {}
    for key, (main, regex) in [*BASELINES.items(), *hostile.plans.items()]:
        batch[f"{key} main"] = main.queries[0].text
        batch[f"{key} match"] = regex.queries[0].text
    for cp in CODE_POINTS:
        batch[f"U+{cp:04X}"] = f"resources | project id, v = {quote.string(chr(cp))}"
    batch["all ASCII"] = f"resources | project id, v = {quote.string(''.join(map(chr, range(0x80))))}"
    for word in keywords:
        # A key in a path and a column name, as the plan writes them.
        column = quote.name(word)
        batch[f"keyword {word}"] = (f"resources | extend {column} = tostring({quote.access('properties', [word])}) "
                                    f"| project subscriptionId, v = {column}")
    for number in NUMBERS:
        batch[f"number {number!r}"] = build_plan([rule(compare("properties.a", "greater", number))]).queries[0].text
    return kql.check(batch)


def test_hostile_values_are_compiled_server_side(hostile: Hostile) -> None:
    def check(i: int, _value: str) -> str | None:
        main, _ = hostile.plans[i]
        if main.diagnostics or not all(r.server_verdict for r in main.rules):
            return f"declined: {[d.message for d in main.diagnostics]}"
        return None

    failures = hostile.failures(check)
    assert not failures, failures


def test_hostile_queries_pass_the_parser(checked: dict[str, KqlResult]) -> None:
    failures = [checked[name].report(checked[name].problems())
                for name in checked if name.endswith((" main", " match")) and checked[name].problems()]
    assert not failures, "\n\n".join(failures)


def test_hostile_comparison_values_are_read_back_exactly(checked: dict[str, KqlResult], hostile: Hostile) -> None:
    def check(i: int, value: str) -> str | None:
        literals = checked[f"{i} main"].literals
        # equals, in, startsWith (and endsWith with "~" + value: once, and three times in
        # the case-sensitive form); both ways of case.
        if literals.count(value) < 6 or literals.count(f"~{value}") < 4:
            return f"read back {literals.count(value)} and {literals.count('~' + value)} times; literals: {literals}"
        return None

    failures = hostile.failures(check)
    assert not failures, failures


def test_hostile_regex_is_read_back_exactly_or_declined(checked: dict[str, KqlResult], hostile: Hostile) -> None:
    def check(i: int, value: str) -> str | None:
        _, regex = hostile.plans[i]
        if not regex.rules[0].server_verdict:
            # Declined: a diagnostic, no verdict column; never a weaker pattern.
            (diagnostic,) = regex.diagnostics
            return None if "RE2" in diagnostic.construct and not regex.queries[0].verdicts else "bad decline"
        literals = checked[f"{i} match"].literals
        wanted = [f"^(?:{re.escape(value)})$"]
        return None if all(w in literals for w in wanted) else f"literals: {literals}"

    failures = hostile.failures(check)
    assert not failures, failures


def test_hostile_property_names_are_read_back_exactly(checked: dict[str, KqlResult], hostile: Hostile) -> None:
    def check(i: int, value: str) -> str | None:
        result = checked[f"{i} main"]
        # The key in the access (a bracketed literal, or a plain identifier) ...
        if value not in result.literals and not (quote.is_plain(value) and value in result.names):
            return f"key not read back; literals {result.literals}, names {result.names}"
        # ... and the projected column, named as the plan says (by the path where that makes a
        # Kusto column name, else path_N), bracket-quoted.
        (query,) = hostile.plans[i][0].queries
        columns = [c for c, p in query.paths if p == ("properties", value)]
        if len(columns) != 1 or columns[0] not in result.literals:
            return f"column {columns} not read back; literals {result.literals}"
        return None

    failures = hostile.failures(check)
    assert not failures, failures


def test_hostile_related_names_are_read_back_exactly(checked: dict[str, KqlResult], hostile: Hostile) -> None:
    def check(i: int, value: str) -> str | None:
        # bag_securityresources["<value, lower-cased>"]: the bag is keyed by tolower(name).
        literals = checked[f"{i} main"].literals
        return None if value.lower() in literals else f"literals: {literals}"

    failures = hostile.failures(check)
    assert not failures, failures


def test_hostile_values_do_not_change_the_query_shape(checked: dict[str, KqlResult], hostile: Hostile) -> None:
    # A key that is a plain identifier is written `properties.abc`, any other `properties["a-b"]`: the
    # two baselines. Names and literal texts are not part of a shape.
    mains = {checked[f"{key} main"].shape for key in BASELINES}
    matches = {checked[f"{key} match"].shape for key in BASELINES}
    assert len(matches) == 1

    def check(i: int, _value: str) -> str | None:
        if checked[f"{i} main"].shape not in mains:
            return "the (a)/(b)/(c) query has another shape:\n" + checked[f"{i} main"].query
        if hostile.plans[i][1].rules[0].server_verdict and checked[f"{i} match"].shape not in matches:
            return "the match query has another shape:\n" + checked[f"{i} match"].query
        return None

    failures = hostile.failures(check)
    assert not failures, failures


def test_quote_string_of_every_code_point(checked: dict[str, KqlResult]) -> None:
    baseline = checked["U+0061"].shape
    for cp in CODE_POINTS:
        result = checked[f"U+{cp:04X}"]
        assert not result.problems(), result.report()
        assert result.literals == (chr(cp),), f"U+{cp:04X}: {result.literals}"
        assert result.shape == baseline, f"U+{cp:04X}: {quote.string(chr(cp))}"
    assert checked["all ASCII"].literals == ("".join(map(chr, range(0x80))),)


def test_quote_string_leaves_no_line_break_or_control_character() -> None:
    """Every character that ends a line somewhere (CR, LF, NEL, U+2028/9) or is a control
    character is written as an escape, so a query is always one literal per line."""
    for cp in CODE_POINTS:
        text = quote.string(chr(cp))
        assert not any(c < " " or c in "\x7f\x85\u2028\u2029" for c in text), f"U+{cp:04X}: {text!r}"


def test_keywords_as_keys_and_column_names(checked: dict[str, KqlResult], keywords: list[str]) -> None:
    """GENERATOR BUG: quote._KEYWORDS lists 57 words; Kusto.Language has 279 keywords, and
    `properties.title`, `properties.flags`, `properties.first`, `properties.statistics` ... are
    syntax errors (KS006 "If the keyword 'title' is intended be used as the name, it needs to
    be bracketted"). Found when a rule read `properties.flags`."""
    broken = [word for word in keywords if checked[f"keyword {word}"].problems()]
    assert not broken, f"{len(broken)} of {len(keywords)} keywords break a query: {sorted(broken)}"


@pytest.mark.parametrize("number", INEXACT, ids=repr)
def test_inexact_integers_are_declined(number: int) -> None:
    """Beyond 2**53 a comparison through todouble() is inexact, and beyond 64 bits Kusto reads
    the literal as 0 without a diagnostic: the rule is declined, never compiled wrongly."""
    (plan,) = build_plan([rule(compare("properties.a", "greater", number))]).rules
    assert not plan.server_verdict
    assert "beyond 2**53" in plan.diagnostics[0].construct


@pytest.mark.parametrize("number", NUMBERS, ids=repr)
def test_numbers_are_read_back_exactly(checked: dict[str, KqlResult], number: int | float) -> None:
    """Every number a query compares is written so that the parser reads it back exactly (a
    negative one as a unary minus on its magnitude)."""
    result = checked[f"number {number!r}"]
    assert not result.problems(), result.report()
    magnitude = abs(number)
    read = [int(n) if n.lstrip("-").isdigit() else float(n) for n in result.numbers]
    assert magnitude in read, f"{quote.number(number)} is read as one of {result.numbers}"
