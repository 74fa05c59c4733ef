"""KQL renderings of the operators, with exactly the evaluator's types and errors.

Each rendering takes ``x``, a KQL expression of type ``dynamic`` (a property of a resource,
known to be present when ``holds`` is evaluated), the rule's value and the case flag, and
returns a :class:`KqlTest`: ``holds``, the comparison as a boolean expression, and
``error``, true where the evaluator raises an operand error (the value has a type the
operator cannot compare). What KQL cannot express exactly raises :class:`KqlUnsupported`,
which becomes a diagnostic: it is never compiled into a weaker query.

KQL semantics relied on (Kusto query language reference, learn.microsoft.com/kusto/query):
``gettype()`` names the type of a dynamic value ("string", "long", "int", "real",
"decimal", "bool", "array", "dictionary"); ``tostring()`` of a dynamic string is the string
itself; ``todouble()`` parses a numeric string; ``=~``/``in~``/``contains``/``startswith``
compare case-insensitively for ASCII letters only; nested arrays on the right of ``in~`` are
flattened; ``matches regex`` uses RE2 and finds the pattern anywhere, hence the anchors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from policyengine.kql import quote
from policyengine.kql.quote import KqlUnsupported


@dataclass(frozen=True)
class KqlTest:
    holds: str
    error: str = "false"


NUMERIC_TYPES = '("int", "long", "real", "decimal")'


def is_string(x: str) -> str:
    return f'gettype({x}) == "string"'


def is_numeric(x: str, pattern: str) -> str:
    """A number, or a string spelling one exactly as the evaluator's pattern says."""
    return (f"(gettype({x}) in {NUMERIC_TYPES} or "
            f"({is_string(x)} and tostring({x}) matches regex {quote.string(pattern)}))")


def is_boolish(x: str) -> str:
    return f'(gettype({x}) == "bool" or ({is_string(x)} and tolower(tostring({x})) in ("true", "false")))'


def as_bool(x: str) -> str:
    return f'iff(gettype({x}) == "bool", tobool({x}), tolower(tostring({x})) == "true")'


def _not(expr: str) -> str:
    return f"not({expr})"


def _string_op(op: str, case_sensitive: bool) -> str:
    return f"{op}_cs" if case_sensitive else op


def equals(x: str, expected: Any, case_sensitive: bool, numeric: str) -> KqlTest:
    if isinstance(expected, bool):
        return KqlTest(f"{as_bool(x)} == {quote.boolean(expected)}", _not(is_boolish(x)))
    if isinstance(expected, int | float):
        return KqlTest(f"todouble({x}) == {quote.number(expected)}", _not(is_numeric(x, numeric)))
    if isinstance(expected, str):
        op = "==" if case_sensitive else "=~"
        return KqlTest(f"tostring({x}) {op} {quote.string(expected)}", _not(is_string(x)))
    raise KqlUnsupported(f"equality with a {type(expected).__name__} value")


def one_of(x: str, expected: tuple[Any, ...], case_sensitive: bool, numeric: str) -> KqlTest:
    """``in``: the value equals one of the candidates, grouped by type. It is an error only
    if the value can be compared with none of the groups (as the evaluator raises only when
    every candidate raises)."""
    strings = [e for e in expected if isinstance(e, str)]
    numbers = [e for e in expected if isinstance(e, int | float) and not isinstance(e, bool)]
    booleans = [e for e in expected if isinstance(e, bool)]
    holds, comparable = [], []
    if strings:
        op = "in" if case_sensitive else "in~"
        holds.append(f"({is_string(x)} and tostring({x}) {op} {quote.string_list(strings)})")
        comparable.append(is_string(x))
    if numbers:
        listed = "(" + ", ".join(quote.number(n) for n in numbers) + ")"
        holds.append(f"({is_numeric(x, numeric)} and todouble({x}) in {listed})")
        comparable.append(is_numeric(x, numeric))
    if booleans:
        listed = "(" + ", ".join(quote.boolean(b) for b in booleans) + ")"
        holds.append(f"({is_boolish(x)} and {as_bool(x)} in {listed})")
        comparable.append(is_boolish(x))
    return KqlTest(" or ".join(holds), _not(" or ".join(comparable)))


def contains(x: str, expected: Any, case_sensitive: bool, _numeric: str) -> KqlTest:
    if not isinstance(expected, str):
        raise KqlUnsupported(f"contains with a {type(expected).__name__} value")
    if re.fullmatch(r"[-+]?[0-9.eE+-]*|true|false|\[.*|\{.*", expected, re.IGNORECASE | re.DOTALL):
        # KQL's in~ does not document how it compares such a value with an array's number or
        # boolean elements; it may convert them, where the evaluator never matches them.
        raise KqlUnsupported(f"contains with {expected!r}, which in~ may compare with numbers or booleans")
    lit = quote.string(expected)
    member = f"{lit} {'in' if case_sensitive else 'in~'} ({x})"
    text = f"tostring({x}) {_string_op('contains', case_sensitive)} {lit}"
    return KqlTest(f'iff(gettype({x}) == "array", {member}, {text})',
                   f'not(gettype({x}) in ("array", "string"))')


def affix(which: str) -> Any:
    def render(x: str, expected: str, case_sensitive: bool, _numeric: str) -> KqlTest:
        op = _string_op(which, case_sensitive)
        return KqlTest(f"tostring({x}) {op} {quote.string(expected)}", _not(is_string(x)))

    return render


#: Python-only regular expression syntax that RE2 (KQL's engine) rejects.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\(\?P=|(?<!\\)(?:\\\\)*\\[1-9]|\(\?>|[*+?}][+]")


def matches(x: str, pattern: str, case_sensitive: bool, _numeric: str) -> KqlTest:
    if _NOT_RE2.search(pattern):
        raise KqlUnsupported(f"the regular expression {pattern!r} uses syntax RE2 does not have")
    anchored = ("" if case_sensitive else "(?i)") + f"^(?:{pattern})$"
    return KqlTest(f"tostring({x}) matches regex {quote.string(anchored)}", _not(is_string(x)))


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
    empty = (f'(gettype({x}) == "string" and strlen(tostring({x})) == 0) or '
             f'(gettype({x}) == "array" and array_length({x}) == 0) or '
             f'(gettype({x}) == "dictionary" and array_length(bag_keys({x})) == 0)')
    holds = f"(isnotnull({x}) and not({empty}))"
    return KqlTest(holds if expected else f"not({holds})")


def not_expressible(what: str) -> Any:
    def render(_x: str, _expected: Any, _cs: bool, _numeric: str) -> KqlTest:
        raise KqlUnsupported(what)

    return render
