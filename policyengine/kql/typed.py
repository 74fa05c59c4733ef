"""KQL renderings of the operators, with exactly the evaluator's types and errors.

Each rendering takes ``x``, a KQL expression of type ``dynamic`` (a property of a resource,
known to be present when ``holds`` is evaluated), the rule's value and the case flag, and
returns a :class:`KqlTest`: ``holds``, the comparison as a boolean expression, and
``error``, true where the evaluator raises an operand error (the value has a type the
operator cannot compare). What KQL cannot express exactly raises :class:`KqlUnsupported`,
which becomes a diagnostic: it is never compiled into a weaker query.

Only constructs with public evidence that Resource Graph accepts them are emitted
(``../shared/arg-dialect/evidence.json``; docs/architecture.md, "Azure facts"). In particular
no ``gettype()``: Kusto may give a string inside a ``dynamic`` value a stronger type (a date,
a GUID, a number), so a KQL "is this a string" test can disagree with the JSON ARM returns.
The query reports ``error`` only where the evaluator certainly raises: an array or an object
where a scalar is compared (``array_length()``/``bag_keys()`` are not null), or text that
does not spell a number or a boolean where one is expected (tested on ``tostring()``, which
spells a dynamic number, boolean or string the way the evaluator reads it). A number or a
boolean compared with a string is left to the evaluator: the query compares its text.

KQL semantics relied on (Kusto query language reference, learn.microsoft.com/kusto/query):
``tostring()`` of a dynamic string is the string itself; ``todouble()`` parses a numeric
string; ``=~``/``in~``/``startswith``/``endswith`` compare case-insensitively for ASCII
letters only; ``indexof()`` is ordinal (case-sensitive); ``substring()`` with a negative
start counts from the end; ``matches regex`` uses RE2 and finds the pattern anywhere, hence
the anchors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from policyengine.kql import quote
from policyengine.kql.quote import KqlUnsupported


@dataclass(frozen=True)
class KqlTest:
    holds: str
    error: str = "false"


def is_structured(x: str) -> str:
    """An array or an object: never a scalar, whatever Kusto's typing of strings."""
    return f"(isnotnull(array_length({x})) or isnotnull(bag_keys({x})))"


def is_numeric(x: str, pattern: str) -> str:
    """A number, or a string spelling one exactly as the evaluator's pattern says (a dynamic
    number's text matches it; an array's or object's JSON text never does)."""
    return f"(tostring({x}) matches regex {quote.string(pattern)})"


def is_boolish(x: str) -> str:
    return f'(tolower(tostring({x})) in ("true", "false"))'


def as_bool(x: str) -> str:
    return f'(tolower(tostring({x})) == "true")'


def _not(expr: str) -> str:
    return f"not({expr})"


def equals(x: str, expected: Any, case_sensitive: bool, numeric: str) -> KqlTest:
    if isinstance(expected, bool):
        return KqlTest(f"{as_bool(x)} == {quote.boolean(expected)}", _not(is_boolish(x)))
    if isinstance(expected, int | float):
        return KqlTest(f"todouble({x}) == {quote.number(expected)}", _not(is_numeric(x, numeric)))
    if isinstance(expected, str):
        op = "==" if case_sensitive else "=~"
        return KqlTest(f"tostring({x}) {op} {quote.string(expected)}", is_structured(x))
    raise KqlUnsupported(f"equality with a {type(expected).__name__} value")


def one_of(x: str, expected: tuple[Any, ...], case_sensitive: bool, numeric: str) -> KqlTest:
    """``in``: the value equals one of the candidates, grouped by type. It is an error only
    if the value can be compared with none of the groups (as the evaluator raises only when
    every candidate raises); any scalar is comparable with strings here (see above)."""
    strings = [e for e in expected if isinstance(e, str)]
    numbers = [e for e in expected if isinstance(e, int | float) and not isinstance(e, bool)]
    booleans = [e for e in expected if isinstance(e, bool)]
    holds, comparable = [], []
    if strings:
        op = "in" if case_sensitive else "in~"
        scalar = _not(is_structured(x))
        holds.append(f"({scalar} and tostring({x}) {op} {quote.string_list(strings)})")
        comparable.append(scalar)
    if numbers:
        listed = "(" + ", ".join(quote.number(n) for n in numbers) + ")"
        holds.append(f"({is_numeric(x, numeric)} and todouble({x}) in {listed})")
        comparable.append(is_numeric(x, numeric))
    if booleans:
        listed = "(" + ", ".join(quote.boolean(b) for b in booleans) + ")"
        holds.append(f"({is_boolish(x)} and {as_bool(x)} in {listed})")
        comparable.append(is_boolish(x))
    return KqlTest(" or ".join(holds), _not(" or ".join(comparable)))


def contains(_x: str, _expected: Any, _case_sensitive: bool, _numeric: str) -> KqlTest:
    # On an array, contains needs "value in~ (array)" or set_has_element(): the first has
    # no public evidence in Resource Graph, the second ignores case and nested arrays, and
    # a query cannot tell before it runs whether the value is an array or a string.
    raise KqlUnsupported("contains (on an array it needs 'in~' over a dynamic array, which has "
                         "no evidence that Resource Graph accepts it)")


def affix(which: str) -> Any:
    def render(x: str, expected: str, case_sensitive: bool, _numeric: str) -> KqlTest:
        text, lit = f"tostring({x})", quote.string(expected)
        if not case_sensitive:
            holds = f"{text} {which} {lit}"
        elif which == "startswith":
            holds = f"indexof({text}, {lit}) == 0"
        else:  # endswith: the last strlen(lit) characters, when there are that many
            holds = (f"(strlen({text}) >= strlen({lit}) and "
                     f"substring({text}, strlen({text}) - strlen({lit})) == {lit})")
        return KqlTest(holds, is_structured(x))

    return render


#: Python-only regular expression syntax that RE2 (KQL's engine) rejects.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\(\?P=|(?<!\\)(?:\\\\)*\\[1-9]|\(\?>|[*+?}][+]")
#: A pattern whose meaning lower-casing keeps: ASCII, without escapes (``\\D`` is not
#: ``\\d``), flags or POSIX classes (``[[:upper:]]``), and whose class ranges stay within
#: the digits, the lower-case or the upper-case letters (``[A-z]`` lower-cased is ``[a-z]``,
#: which loses ``[\\]^_```).
_LOWERABLE = re.compile(r"[\x20-\x7e]*")
_CLASS = re.compile(r"\[\^?([^\]]*)\]")
_RANGE = re.compile(r"(.)-(.)")


def lowerable(pattern: str) -> bool:
    if not _LOWERABLE.fullmatch(pattern) or "\\" in pattern or "(?" in pattern or "[:" in pattern:
        return False
    for body in _CLASS.findall(pattern):
        for low, high in _RANGE.findall(body):
            if not any(low in kind and high in kind for kind in ("0123456789", "abcdefghijklmnopqrstuvwxyz",
                                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ")):
                return False
    return True


def matches(x: str, pattern: str, case_sensitive: bool, _numeric: str) -> KqlTest:
    if _NOT_RE2.search(pattern):
        raise KqlUnsupported(f"the regular expression {pattern!r} uses syntax RE2 does not have")
    anchored = f"^(?:{pattern})$"
    if case_sensitive:
        return KqlTest(f"tostring({x}) matches regex {quote.string(anchored)}", is_structured(x))
    # "(?i)" has no public evidence in Resource Graph: both sides are lower-cased instead,
    # where that keeps the pattern's meaning.
    if not lowerable(pattern):
        raise KqlUnsupported(f"case-insensitive match with {pattern!r} (only an ASCII pattern without "
                             "escapes, flags or mixed-case ranges can be lower-cased instead of '(?i)')")
    return KqlTest(f"tolower(tostring({x})) matches regex {quote.string(anchored.lower())}",
                   is_structured(x))


def numeric(op: str) -> Any:
    def render(x: str, expected: float, _case_sensitive: bool, numeric_pattern: str) -> KqlTest:
        return KqlTest(f"todouble({x}) {op} {quote.number(expected)}", _not(is_numeric(x, numeric_pattern)))

    return render


def negate(render: Any) -> Any:
    def negated(x: str, expected: Any, case_sensitive: bool, numeric_pattern: str) -> KqlTest:
        test: KqlTest = render(x, expected, case_sensitive, numeric_pattern)
        return KqlTest(f"not({test.holds})", test.error)

    return negated


def exists(x: str, expected: bool, _cs: bool, _numeric: str) -> KqlTest:
    present = f"isnotnull({x})"
    return KqlTest(present if expected else f"not({present})")


def has_value(x: str, expected: bool, _cs: bool, _numeric: str) -> KqlTest:
    # Each part is false, never null, for a value of another kind ("and" with a false side).
    empty = (f"(isnotnull(array_length({x})) and array_length({x}) == 0) or "
             f"(isnotnull(bag_keys({x})) and array_length(bag_keys({x})) == 0) or "
             f"(not({is_structured(x)}) and strlen(tostring({x})) == 0)")
    holds = f"(isnotnull({x}) and not({empty}))"
    return KqlTest(holds if expected else f"not({holds})")


def not_expressible(what: str) -> Any:
    def render(_x: str, _expected: Any, _cs: bool, _numeric: str) -> KqlTest:
        raise KqlUnsupported(what)

    return render


KqlRender = Callable[[str, Any, bool, str], KqlTest]

#: The KQL back end's own table: each operator of the IR (``operators.OPERATORS``) by name,
#: rendered as a test on a KQL expression (``x``, the expected value, case-sensitive, the
#: numeric pattern). A test holds it equal to the IR's operator list.
RENDERERS: dict[str, KqlRender] = {
    "equals": equals,
    "notEquals": negate(equals),
    "in": one_of,
    "notIn": negate(one_of),
    "exists": exists,
    "hasValue": has_value,
    "contains": contains,
    "notContains": negate(contains),
    "startsWith": affix("startswith"),
    "endsWith": affix("endswith"),
    "match": matches,
    "greater": numeric(">"),
    "greaterOrEquals": numeric(">="),
    "less": numeric("<"),
    "lessOrEquals": numeric("<="),
    # count holds a condition: render() compiles it itself and compares its number with one
    # of the numeric renderers above.
    "count": not_expressible("count"),
}
