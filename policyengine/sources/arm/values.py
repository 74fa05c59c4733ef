"""ARM values in Python, and the rules every function shares about them.

A value is what ``json.loads`` gives (``str int float bool None list dict``) or an
:class:`~policyengine.unknown.Unknown`; a :class:`Lambda` exists only as the argument of a
lambda function. Values are never mutated once built, so functions share them freely.

Hostile templates are bounded here: string and array sizes, how deep a value nests, and a step
budget that every evaluation charges, so nothing a template asks for can hang or eat memory.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from policyengine.sources.arm.expressions import (
    INT64_MAX,
    INT64_MIN,
    Expr,
    TemplateError,
    TemplateLimitError,
    canonical,
)
from policyengine.unknown import Unknown, quote

MAX_STRING = 1_000_000
MAX_ITEMS = 100_000
# Json.NET, which ARM uses, refuses JSON nested deeper than 64 by default.
MAX_VALUE_DEPTH = 64
MAX_STEPS = 2_000_000
# Expression levels, variable hops and JSON levels together; each costs a few Python frames.
MAX_DEPTH = 150


class FunctionError(Exception):
    """An argument ARM would reject; the caller names the function in the final TemplateError."""


class Unsupported(Exception):
    """A value ARM can compute but this scanner does not: the result becomes an Unknown."""


class Mode(enum.Enum):
    """Where an expression is: what ARM lets it call differs."""

    TEMPLATE = "template"
    DEFAULT = "parameter default value"
    FUNCTION = "user-defined function"


@dataclass(frozen=True)
class Lambda:
    """``lambda('a', 'b', body)``: the argument of filter, map, reduce, sort and toObject."""

    params: tuple[str, ...]
    body: Expr


class Budget:
    """Evaluation steps and nesting depth, shared by every evaluation of one template."""

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0

    def charge(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise TemplateLimitError(f"the template takes more than {MAX_STEPS:,} evaluation steps")

    def enter(self) -> None:
        """One level deeper; every successful enter() is matched by a leave() in a finally."""
        if self.depth >= MAX_DEPTH:
            raise TemplateError(f"expressions, variables and values nest more than {MAX_DEPTH} deep")
        self.depth += 1

    def leave(self) -> None:
        self.depth -= 1


# -- types


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, Lambda):
        return "a lambda"
    return "an unknown value"


def need_str(value: Any, what: str = "the argument") -> str:
    if not isinstance(value, str):
        raise FunctionError(f"{what} must be a string, not {type_name(value)}")
    return value


def need_int(value: Any, what: str = "the argument") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FunctionError(f"{what} must be an int, not {type_name(value)}")
    return value


def need_bool(value: Any, what: str = "the argument") -> bool:
    if not isinstance(value, bool):
        raise FunctionError(f"{what} must be a bool, not {type_name(value)}")
    return value


def need_array(value: Any, what: str = "the argument") -> list[Any]:
    if not isinstance(value, list):
        raise FunctionError(f"{what} must be an array, not {type_name(value)}")
    return value


def need_object(value: Any, what: str = "the argument") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FunctionError(f"{what} must be an object, not {type_name(value)}")
    return value


def int64(value: int) -> int:
    """ARM integers are 64-bit: overflow is an error, not a bigger number."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise FunctionError("the result overflows a 64-bit integer")
    return value


def check_size(value: Any) -> None:
    """Refuse a string or an array larger than a real template ever builds."""
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise FunctionError(f"the result is longer than {MAX_STRING:,} characters")
    if isinstance(value, list | dict) and len(value) > MAX_ITEMS:
        raise FunctionError(f"the result has more than {MAX_ITEMS:,} items")


def check_depth(value: Any) -> None:
    """Refuse a value nested deeper than any template writes (a reduce() can build one)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_VALUE_DEPTH:
                raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def has_unknown(value: Any, budget: Budget, depth: int = 0) -> Unknown | None:
    """The first unknown inside a value; every node visited is charged to the budget."""
    if isinstance(value, Unknown):
        return value
    if not isinstance(value, list | dict):
        return None
    if depth > MAX_VALUE_DEPTH:
        raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
    budget.charge(len(value) // 16 + 1)
    for item in value.values() if isinstance(value, dict) else value:
        found = has_unknown(item, budget, depth + 1)
        if found is not None:
            return found
    return None


# -- equality and order


def deep_equal(a: Any, b: Any, depth: int = 0) -> bool:
    """ARM's ``equals``: deep and type-strict (``1`` is not ``'1'``, ``true`` is not ``1``);
    strings and property names compare case-sensitively. Callers pass known values."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if depth > MAX_VALUE_DEPTH:
        raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_equal(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k], depth + 1) for k in a)
    return type(a) is type(b) and a == b


def value_key(value: Any, depth: int = 0) -> Any:
    """A hashable key such that equal keys mean ``deep_equal`` values: union() and
    intersection() find duplicates with a set instead of comparing every pair."""
    if depth > MAX_VALUE_DEPTH:
        raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(value_key(v, depth + 1) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, value_key(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, Unknown):
        return ("unknown", value.text)
    return (type(value).__name__, value)


def text_order(text: str) -> tuple[str, tuple[bool, ...]]:
    """A sort key close to .NET's culture-aware string order, which ARM uses: letters compare
    case-insensitively first, then lower case before upper case, so ``greater('A', 'a')`` is
    true as documented (https://learn.microsoft.com/azure/azure-resource-manager/templates/
    template-functions-comparison#greater). Punctuation may order differently from .NET's."""
    return text.lower(), tuple(c.isupper() for c in text)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 for two ints or two strings, as less/greater compare them."""
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        ka, kb = text_order(a), text_order(b)
        return (ka > kb) - (ka < kb)
    raise FunctionError(f"can only compare two ints or two strings, not {type_name(a)} and {type_name(b)}")


# -- text


class _Writer:
    """Accumulates text and refuses to grow past MAX_STRING (shared structures can be huge)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_STRING:
            raise FunctionError(f"the text of a value is longer than {MAX_STRING:,} characters")
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


def to_json(value: Any) -> str:
    """Compact JSON as ARM's ``string()`` writes objects and arrays: ``{"a":1,"b":[true]}``."""
    out = _Writer()
    _write_json(value, out, 0)
    return out.text()


def _write_json(value: Any, out: _Writer, depth: int) -> None:
    if depth > MAX_VALUE_DEPTH:
        raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
    if isinstance(value, dict):
        out.add("{")
        for i, (key, item) in enumerate(value.items()):
            out.add(("," if i else "") + json.dumps(key, ensure_ascii=False) + ":")
            _write_json(item, out, depth + 1)
        out.add("}")
    elif isinstance(value, list):
        out.add("[")
        for i, item in enumerate(value):
            if i:
                out.add(",")
            _write_json(item, out, depth + 1)
        out.add("]")
    elif isinstance(value, Unknown | Lambda):
        raise FunctionError(f"cannot write {type_name(value)} as JSON")
    else:
        out.add(json.dumps(value, ensure_ascii=False))


def to_string(value: Any) -> str:
    """``string(value)``: text as is, numbers in invariant form, ``True``/``False`` as .NET
    prints booleans, objects and arrays as compact JSON, null as empty text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # .NET prints the double 2.0 as "2"
        return repr(value).replace("e+", "E+").replace("e-", "E-")
    if value is None:
        return ""
    return to_json(value)


def literal(value: Any) -> str:
    """A value written as the expression that builds it: the text of an Unknown that stands
    for a call whose known arguments are these values (``toLower('A')``, ``createArray(1)``)."""
    out = _Writer()
    _write_literal(value, out, 0)
    return out.text()


def _write_literal(value: Any, out: _Writer, depth: int) -> None:
    if depth > MAX_VALUE_DEPTH:
        raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
    if isinstance(value, Unknown):
        out.add(value.text)
    elif isinstance(value, str):
        out.add(quote(value))
    elif isinstance(value, bool):
        out.add("true()" if value else "false()")
    elif isinstance(value, int):
        out.add(str(value))
    elif value is None:
        out.add("null()")
    elif isinstance(value, Lambda):
        out.add("lambda(" + "".join(quote(p) + ", " for p in value.params) + canonical(value.body) + ")")
    elif isinstance(value, list | dict):
        pairs: list[Any] = list(value) if isinstance(value, list) else [x for kv in value.items() for x in kv]
        out.add("createArray(" if isinstance(value, list) else "createObject(")
        for i, item in enumerate(pairs):
            if i:
                out.add(", ")
            _write_literal(item, out, depth + 1)
        out.add(")")
    else:
        out.add(f"json({quote(json.dumps(value))})")


# -- JSON text


def parse_json(text: str) -> Any:
    """``json(text)``: JSON as Json.NET reads it, which also takes single-quoted strings
    (``base64ToJson`` of ``{'one': 'a'}`` is documented to work)."""
    converted = _double_quoted(text)
    try:
        value = json.loads(converted, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FunctionError(f"invalid JSON: {exc.msg} at character {exc.pos + 1}") from None
    _check_ints(value)
    return value


def _no_constant(name: str) -> Any:
    raise FunctionError(f"invalid JSON: {name} is not a JSON value")


def _check_ints(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool) and not INT64_MIN <= item <= INT64_MAX:
            raise FunctionError("invalid JSON: an integer outside the 64-bit range")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _double_quoted(text: str) -> str:
    """Rewrite single-quoted strings as double-quoted ones and bound the nesting before a
    recursive decoder sees the text."""
    out: list[str] = []
    depth, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
            continue
        if ch == "'":
            piece: list[str] = ['"']
            i += 1
            while i < n and text[i] != "'":
                if text[i] == "\\" and i + 1 < n:
                    piece.append("'" if text[i + 1] == "'" else text[i:i + 2])
                    i += 2
                    continue
                piece.append('\\"' if text[i] == '"' else text[i])
                i += 1
            if i >= n:
                raise FunctionError("invalid JSON: unterminated string")
            out.append("".join(piece) + '"')
            i += 1
            continue
        if ch in "[{":
            depth += 1
            if depth > MAX_VALUE_DEPTH:
                raise FunctionError(f"invalid JSON: nested more than {MAX_VALUE_DEPTH} deep")
        elif ch in "]}":
            depth -= 1
        out.append(ch)
        i += 1
    return "".join(out)


# -- declared types (parameters, outputs, user-defined function parameters)

_DECLARED: dict[str, type] = {
    "string": str, "securestring": str, "int": int, "bool": bool,
    "object": dict, "secureobject": dict, "array": list,
}
SECURE_TYPES = frozenset({"securestring", "secureobject"})


def conforms(value: Any, declared: str) -> bool:
    """Whether a value has a declared ARM type; an unknown value, or a type this scanner does
    not check (``any``, a languageVersion 2.0 ``$ref``), conforms."""
    expected = _DECLARED.get(declared.lower())
    if expected is None or isinstance(value, Unknown):
        return True
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)
