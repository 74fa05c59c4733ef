"""The operator table: every comparison a rule can make, in one place.

Each :class:`Operator` carries the semantics of one operator: what value it takes, whether it
is about presence (``exists``, ``hasValue``: evaluated on absent values instead of following
``onMissing``), and its predicate. The JSON Schema's operator list is tested to equal this
table, and the KQL back end renders from it.

Types are never guessed into a pass. The *expected* value's type decides the comparison:
a string compares with strings (case-insensitively unless ``caseSensitive``), a number with
numbers or numeric strings (server parameters are strings in ARM: ``"value": "30"``), a
boolean with booleans or ``"true"``/``"false"``. Anything else raises :class:`OperandError`,
which the evaluator turns into an ``error`` verdict — never into ``pass`` or ``fail``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Scalar = str | int | float | bool


class OperandError(Exception):
    """A value has a type the operator cannot compare (a rule or data problem)."""


#: A string that counts as a number: strict, so that KQL's ``todouble`` reads the same
#: strings the same way (the compiled query checks this very pattern with ``matches regex``).
NUMERIC_PATTERN = "^[-+]?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$"
_NUMERIC = re.compile(NUMERIC_PATTERN)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_number(actual: Any) -> int | float:
    """A number, or a string that spells one; anything else is an operand error."""
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return actual
    if isinstance(actual, str) and _NUMERIC.fullmatch(actual):
        number = float(actual)
        return int(number) if number.is_integer() and "." not in actual else number
    raise OperandError(f"expected a number, found {_type_name(actual)} {_show(actual)}")


def _as_bool(actual: Any) -> bool:
    if isinstance(actual, bool):
        return actual
    if isinstance(actual, str) and fold(actual) in ("true", "false"):
        return fold(actual) == "true"
    raise OperandError(f"expected a boolean, found {_type_name(actual)} {_show(actual)}")


def _as_str(actual: Any) -> str:
    if isinstance(actual, str):
        return actual
    raise OperandError(f"expected a string, found {_type_name(actual)} {_show(actual)}")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Case folding for case-insensitive comparison: ASCII letters only, as KQL's ``=~`` and
    ``in~`` do ("case-insensitive operators are currently supported only for ASCII text",
    KQL string operators reference), so the evaluator and the compiled query always agree.
    The values these rules compare (on/off, TLSv1.2, Enabled, Standard) are ASCII."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else fold(text)


def values_equal(actual: Any, expected: Any, case_sensitive: bool) -> bool:
    """Equality driven by the expected value's type (see the module docstring)."""
    if isinstance(expected, bool):
        return _as_bool(actual) == expected
    if isinstance(expected, (int, float)):
        return as_number(actual) == expected
    if isinstance(expected, str):
        return _fold(_as_str(actual), case_sensitive) == _fold(expected, case_sensitive)
    if isinstance(actual, type(expected)):
        return bool(actual == expected)
    raise OperandError(f"cannot compare {_type_name(actual)} with {_type_name(expected)}")


def _in(actual: Any, expected: list[Any], case_sensitive: bool) -> bool:
    errors: list[OperandError] = []
    for candidate in expected:
        try:
            if values_equal(actual, candidate, case_sensitive):
                return True
        except OperandError as exc:
            errors.append(exc)
    if errors and len(errors) == len(expected):
        raise errors[0]
    return False


def _flatten(items: list[Any]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _contains(actual: Any, expected: Any, case_sensitive: bool) -> bool:
    """A string holds the text; an array holds an element equal to the value. Elements of
    another type than the value never match, and nested arrays are flattened, as with KQL's
    ``in~`` ("Nested arrays are flattened into a single list of values", in~ operator)."""
    if isinstance(actual, list):
        if isinstance(expected, str):
            folded = _fold(expected, case_sensitive)
            return any(isinstance(e, str) and _fold(e, case_sensitive) == folded for e in _flatten(actual))
        kind = bool if isinstance(expected, bool) else (int, float)
        return any(isinstance(e, kind) and (kind is bool or not isinstance(e, bool)) and e == expected
                   for e in _flatten(actual))
    if isinstance(actual, str) and isinstance(expected, str):
        return _fold(expected, case_sensitive) in _fold(actual, case_sensitive)
    if isinstance(actual, str):
        raise OperandError(f"a string contains text, not the {_type_name(expected)} {_show(expected)}")
    raise OperandError(f"'contains' needs a string or an array, found {_type_name(actual)}")


#: The longest string ``match`` reads; a longer one is an ``error`` verdict, never a guess. RE2
#: is linear in the input, but where a large pattern overflows its DFA cache it simulates the
#: NFA instead, whose cost also grows with the pattern: the worst patterns we could build took
#: 0.16 s on 8,192 characters and 5.6 s on 65,536. The values rules match (names, versions, ids,
#: parameter values) are far shorter. docs/authoring.md states the bound.
MAX_MATCH_LENGTH = 8192


class PatternError(ValueError):
    """A ``match`` pattern that RE2 cannot compile, with the reason in the rule author's words."""


# RE2's own messages name the construct it stopped at ("invalid perl operator: (?=");
# these say which feature of other engines that is.
_UNSUPPORTED = (
    (re.compile(r"invalid escape sequence: \\[1-9]"), "backreferences (\\1 ... \\9)"),
    (re.compile(r"invalid perl operator: \(\?[=!]"), "lookahead ((?=...), (?!...))"),
    (re.compile(r"invalid perl operator: \(\?<[=!]"), "lookbehind ((?<=...), (?<!...))"),
    (re.compile(r"invalid perl operator: \(\?>"), "atomic groups ((?>...))"),
    (re.compile(r"bad repetition operator: [*+?}]\+"), "possessive quantifiers (*+, ++, ?+)"),
    (re.compile(r"invalid escape sequence: \\Z"), "\\Z (write \\z for the end of the text)"),
)


def _options(re2: Any, case_sensitive: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    # The match is a yes or no: capture groups cost time and are never read.
    options.never_capture = True
    # RE2 prints its parse errors to stderr as well; ours are located and printed once.
    options.log_errors = False
    return options


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str, case_sensitive: bool) -> Any:
    """The pattern compiled by RE2 (linear time: no pattern can make a match backtrack), as
    KQL's ``matches regex`` reads it (https://github.com/google/re2/wiki/Syntax): ``\\d``,
    ``\\w``, ``\\s`` and ``\\b`` are ASCII. Raises :class:`PatternError` in words."""
    import re2  # type: ignore[import-untyped]  # imported by the first rule with a pattern

    try:
        return re2.compile(pattern, _options(re2, case_sensitive))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        text = reason.decode("utf-8", "backslashreplace") if isinstance(reason, bytes) else str(reason)
        if text == "invalid perl operator: (?P" and "(?P=" in pattern:
            raise PatternError("RE2 syntax does not support named backreferences ((?P=name))") from None
        for shape, feature in _UNSUPPORTED:
            if shape.search(text):
                raise PatternError(f"RE2 syntax does not support {feature}") from None
        raise PatternError(text) from None
    except UnicodeEncodeError:
        raise PatternError("the pattern holds a lone surrogate, which is not a character") from None


def _utf8(text: str) -> bytes:
    """The text as RE2 reads it. A lone surrogate (from a ``\\ud800`` escape in JSON) is no
    character and has no UTF-8 form: it is read as U+FFFD, the replacement character."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        repaired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return repaired.encode("utf-8")


def _match(actual: Any, expected: str, case_sensitive: bool) -> bool:
    try:
        compiled = compile_pattern(expected, case_sensitive)
    except PatternError as exc:  # a rule built in memory; a loaded rule was checked at load
        raise OperandError(f"the pattern {_show(expected)} cannot be used: {exc}") from None
    text = _as_str(actual)
    if len(text) > MAX_MATCH_LENGTH:
        raise OperandError(f"the string is {len(text)} characters long; match reads at most "
                           f"{MAX_MATCH_LENGTH}")
    return compiled.fullmatch(_utf8(text)) is not None


def _has_value(actual: Any) -> bool:
    return actual not in ("", [], {}) if isinstance(actual, (str, list, dict)) else True


@dataclass(frozen=True)
class Operator:
    """One operator: the kind of value the rule gives it (``scalar``, ``list`` of scalars,
    ``bool``, ``string``, ``regex``, ``number``, ``count``), how it reads in evidence, and its
    Python predicate. Each other back end keeps its own table keyed by the operator's name
    (``kql.typed.RENDERERS``, ``export``'s), as sqlglot's dialect generators do."""

    name: str
    value: str
    describe: str
    predicate: Callable[[Any, Any, bool], bool]
    presence: bool = False


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[Any, Any, bool], bool]:
    return lambda actual, expected, _cs: compare(as_number(actual), expected)


def _absent_only(_actual: Any, _expected: Any, _cs: bool) -> bool:
    raise AssertionError("presence operators are evaluated by the evaluator")


def _not_in(a: Any, e: Any, cs: bool) -> bool:
    return not _in(a, e, cs)


def _not_equal(a: Any, e: Any, cs: bool) -> bool:
    return not values_equal(a, e, cs)


def _not_contains(a: Any, e: Any, cs: bool) -> bool:
    return not _contains(a, e, cs)


def _starts(a: Any, e: str, cs: bool) -> bool:
    return _fold(_as_str(a), cs).startswith(_fold(e, cs))


def _ends(a: Any, e: str, cs: bool) -> bool:
    return _fold(_as_str(a), cs).endswith(_fold(e, cs))


# name, value kind, evidence text, Python predicate.
OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("equals", "scalar", "equals {}", values_equal),
        Operator("notEquals", "scalar", "does not equal {}", _not_equal),
        Operator("in", "list", "is one of {}", _in),
        Operator("notIn", "list", "is none of {}", _not_in),
        Operator("exists", "bool", "exists: {}", _absent_only, presence=True),
        Operator("hasValue", "bool", "has a value: {}", _absent_only, presence=True),
        Operator("contains", "scalar", "contains {}", _contains),
        Operator("notContains", "scalar", "does not contain {}", _not_contains),
        Operator("startsWith", "string", "starts with {}", _starts),
        Operator("endsWith", "string", "ends with {}", _ends),
        Operator("match", "regex", "matches the pattern {}", _match),
        Operator("greater", "number", "is greater than {}", _numeric(lambda a, e: a > e)),
        Operator("greaterOrEquals", "number", "is at least {}", _numeric(lambda a, e: a >= e)),
        Operator("less", "number", "is less than {}", _numeric(lambda a, e: a < e)),
        Operator("lessOrEquals", "number", "is at most {}", _numeric(lambda a, e: a <= e)),
        # count is compiled by the evaluator and the KQL generator themselves (it holds a
        # condition); its number is compared with one of the numeric operators above.
        Operator("count", "count", "count {}", _absent_only),
    )
}

#: The operators a ``count`` compares its number with.
COUNT_COMPARISONS = ("equals", "notEquals", "greater", "greaterOrEquals", "less", "lessOrEquals")


def specialize(op: str, expected: Any, case_sensitive: bool) -> Callable[[Any], bool]:
    """The operator's predicate with the rule's value bound, and a fast path for the common
    case (a string compared case-insensitively), which gives the same answers."""
    predicate = OPERATORS[op].predicate

    def general(actual: Any) -> bool:
        return predicate(actual, expected, case_sensitive)

    if case_sensitive or op not in ("equals", "notEquals", "in", "notIn"):
        return general
    if op in ("equals", "notEquals") and isinstance(expected, str):
        folded, want = fold(expected), op == "equals"

        def equals(actual: Any) -> bool:
            if type(actual) is str:
                return (fold(actual) == folded) is want
            return general(actual)

        return equals
    if op in ("in", "notIn") and all(isinstance(e, str) for e in expected):
        choices, want = frozenset(fold(e) for e in expected), op == "in"

        def member(actual: Any) -> bool:
            if type(actual) is str:
                return (fold(actual) in choices) is want
            return general(actual)

        return member
    return general


def presence_holds(op: str, actual: Any, present: bool) -> bool:
    """``exists`` and ``hasValue``: whether the value is there (and, for hasValue, not empty)."""
    if not present:
        return False
    return True if op == "exists" else _has_value(actual)


def describe(op: str, expected: Any) -> str:
    """What the rule expects, in words: ``is one of ["TLSv1.2", "TLSv1.3"]``."""
    return OPERATORS[op].describe.format(_show(expected))
