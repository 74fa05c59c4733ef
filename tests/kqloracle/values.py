"""KQL values as the oracle holds them: a static kind and a payload.

Each semantic decision cites the page of the Kusto Query Language reference it follows
(https://learn.microsoft.com/kusto/query/...). Where the reference leaves a choice open, the
choice is a *reading* (:class:`Readings`) and the agreement tests run under every reading,
so a compiled query that depends on an undocumented behaviour fails a test instead of
passing by luck.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

INT32 = 2**31
INT64 = 2**63


class OracleError(Exception):
    """The oracle cannot run this query: a construct outside its subset, or a query that
    Kusto itself would reject (an unknown column, operands of the wrong type)."""


class Kind(enum.Enum):
    """The scalar data types the compiled queries use
    (https://learn.microsoft.com/kusto/query/scalar-data-types/). ``int`` only ever comes
    from a JSON number inside a ``dynamic`` value."""

    STRING = "string"
    LONG = "long"
    INT = "int"
    REAL = "real"
    BOOL = "bool"
    DYNAMIC = "dynamic"


NUMERIC = (Kind.LONG, Kind.INT, Kind.REAL)


@dataclass(frozen=True, slots=True)
class Value:
    """A KQL value. ``v`` is ``None`` for null; a ``string`` is never null ("The string
    data type doesn't support null values",
    https://learn.microsoft.com/kusto/query/scalar-data-types/null-values). A ``dynamic``
    holds JSON data: ``None`` (null), ``bool``, ``int``, ``float``, ``str``, ``list``, ``dict``."""

    kind: Kind
    v: Any

    @property
    def is_null(self) -> bool:
        return self.v is None


@dataclass(frozen=True)
class Readings:
    """Behaviours the KQL reference does not pin down.

    * ``mixed_in``: ``"x" in~ (dynamic([5, true]))`` compares a string with elements of other
      types. The in~ page (https://learn.microsoft.com/kusto/query/in-operator) documents the
      flattening of nested arrays and nothing about the types of the elements: ``"typed"``
      reads such an element as never equal, ``"convert"`` converts it to the type of the left
      side first (``tostring(5)`` is ``"5"``).
    * ``take_any``: which matching row ``take_anyif`` picks ("arbitrarily selects one record",
      https://learn.microsoft.com/kusto/query/take-anyif-aggregation-function).
    """

    mixed_in: Literal["typed", "convert"] = "typed"
    take_any: Literal["first", "last"] = "first"


#: The readings a caller gets unless it asks for others.
DEFAULT_READINGS = Readings()
#: Every combination: a compiled query must agree with the evaluator under all of them.
ALL_READINGS = tuple(Readings(m, t) for m in ("typed", "convert") for t in ("first", "last"))


def string(text: str) -> Value:
    return Value(Kind.STRING, text)


def long(number: int | None) -> Value:
    return Value(Kind.LONG, number)


def real(number: float | None) -> Value:
    return Value(Kind.REAL, number)


def boolean(flag: bool | None) -> Value:
    return Value(Kind.BOOL, flag)


def dynamic(data: Any) -> Value:
    return Value(Kind.DYNAMIC, data)


NULL_BOOL = boolean(None)
NULL_DYNAMIC = dynamic(None)


def null_of(kind: Kind) -> Value:
    """The null of a kind (the empty string for ``string``, which has no null)."""
    return Value(kind, "" if kind is Kind.STRING else None)


def from_json(data: Any) -> Value:
    """A JSON value as a ``dynamic`` (a column of type dynamic, as ARG's ``properties``)."""
    return dynamic(_json(data))


def _json(data: Any) -> Any:
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, int):
        # A JSON integer beyond the range of long has no exact KQL type: the oracle holds it
        # as a real (a double), as a JSON parser without big integers must.
        return data if -INT64 <= data < INT64 else float(data)
    if isinstance(data, float):
        if not math.isfinite(data):
            raise OracleError(f"{data!r} is not a JSON number")
        return data
    if isinstance(data, list):
        return [_json(item) for item in data]
    if isinstance(data, dict):
        return {str(k): _json(v) for k, v in data.items()}
    raise OracleError(f"a {type(data).__name__} is not JSON data")


def column_value(data: Any, kind: Kind) -> Value:
    """A table cell of a typed column, from the JSON of a row."""
    if kind is Kind.DYNAMIC:
        return from_json(data)
    if kind is Kind.STRING:
        if data is None:
            return string("")
        if not isinstance(data, str):
            raise OracleError(f"a string column holds {json.dumps(data)}")
        return string(data)
    raise OracleError(f"no table column of kind {kind.value} in this oracle")


def to_json(value: Value) -> Any:
    """A value as the Resource Graph REST answer carries it (``objectArray`` rows)."""
    return value.v


def gettype(value: Value) -> str:
    """The runtime type: ``dynamic`` reveals what it holds; a JSON integer is ``int``
    (``gettype(parse_json('1'))`` is ``int``), an object is ``dictionary``, a JSON null is
    ``null`` (https://learn.microsoft.com/kusto/query/gettype-function)."""
    if value.kind is not Kind.DYNAMIC:
        return str(value.kind.value)
    data = value.v
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "bool"
    if isinstance(data, int):
        return "int" if -INT32 <= data < INT32 else "long"
    if isinstance(data, float):
        return "real"
    if isinstance(data, str):
        return "string"
    return "array" if isinstance(data, list) else "dictionary"


def format_real(number: float) -> str:
    """A real as text, in the shortest form that reads back the same (.NET's round-trip
    format: ``1``, ``0.5``, ``1E+20``). Only reached by ``tostring()`` of a number, which the
    compiled queries use only where their error column already says the value is not a
    string, so its fine points never decide a verdict."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    text = repr(number)
    if "e" in text:
        mantissa, exponent = text.split("e")
        mantissa = mantissa.removesuffix(".0")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}E{sign}{abs(int(exponent)):02d}"
    return text.removesuffix(".0")


def _text_of(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, int):
        return str(data)
    if isinstance(data, float):
        return format_real(data)
    if isinstance(data, str):
        return data
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def tostring(value: Value) -> Value:
    """"If value is non-null, the result is a string representation of value. If value is
    null, the result is an empty string" (https://learn.microsoft.com/kusto/query/tostring-function).
    A dynamic string converts to the string itself, without JSON quotes."""
    if value.kind is Kind.STRING:
        return value
    return string(_text_of(value.v))


_DOUBLE = re.compile(r"[ \t\r\n]*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t\r\n]*")


def _parse_double(text: str) -> float | None:
    # Decimal notation with an optional exponent, as .NET's invariant double parser reads it;
    # Python's own float() would also take "inf", "nan" and "1_000", which .NET does not.
    return float(text) if _DOUBLE.fullmatch(text) else None


def todouble(value: Value) -> Value:
    """"If conversion is successful, the result is a value of type real. Otherwise, the
    returned value will be real(null)" (https://learn.microsoft.com/kusto/query/todouble-function).
    A string converts when it spells a decimal number; a bool is 1 or 0 (undocumented, and
    only reached where the compiled query's error column already says error)."""
    data = value.v
    if data is None:
        return real(None)
    if isinstance(data, bool):
        return real(1.0 if data else 0.0)
    if isinstance(data, (int, float)):
        return real(float(data))
    if isinstance(data, str):
        return real(_parse_double(data))
    return real(None)


def tobool(value: Value) -> Value:
    """``tobool("true") == true``, ``tobool(1) == true``; null if the conversion fails
    (https://learn.microsoft.com/kusto/query/tobool-function)."""
    data = value.v
    if isinstance(data, bool) or data is None:
        return boolean(data)
    if isinstance(data, (int, float)):
        return boolean(data != 0)
    if isinstance(data, str) and data.lower() in ("true", "false"):
        return boolean(data.lower() == "true")
    return NULL_BOOL


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_fold(text: str) -> str:
    """What the case-insensitive string operators ignore: "Case-insensitive operators are
    currently supported only for ASCII-text. For non-ASCII comparison, use the tolower()
    function" (https://learn.microsoft.com/kusto/query/in-operator and .../equals-operator).
    Read as: ASCII letters compare without case, every other character exactly."""
    return text.translate(_ASCII_LOWER)


def tolower(text: str) -> str:
    """``tolower()`` lower-cases every letter, not just ASCII
    (https://learn.microsoft.com/kusto/query/tolower-function), one character for one, as
    .NET's invariant ``ToLower`` does (Python's full mapping turns ``İ`` into two)."""
    out = []
    for char in text:
        low = char.lower()
        out.append(low if len(low) == 1 else low[0])
    return "".join(out)
