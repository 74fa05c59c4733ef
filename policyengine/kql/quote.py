"""Every piece of text that reaches a KQL query from a rule goes through these helpers.

* :func:`string` — a string literal. KQL string literals are double-quoted with backslash
  escapes for the quote, the backslash, tab and newline ("The string data type", KQL
  reference: https://learn.microsoft.com/azure/data-explorer/kusto/query/scalar-data-types/string);
  every other character below U+0020, and U+0085/U+2028/U+2029, is written as a ``\\uXXXX``
  escape so that no value can end a line, a literal or the query. A hostile value
  (quotes, backslashes, ``|``, newlines, ``//``) is data, never syntax: the test suite parses
  generated values with Microsoft's parser and compares the literal it reads back.
* :func:`name` — a column or property name: a plain identifier as is, anything else
  bracket-quoted as ``['…']`` (KQL "Entity names": identifiers that are keywords or hold other
  characters are quoted with brackets and a string literal).
* :func:`access` — a typed path into a dynamic column: ``properties.network['public-x'][0]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from policyengine.paths import Segment

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Kusto keywords that may not stand as a bare identifier in an expression (a conservative
# list: quoting a name that did not need it is harmless).
_KEYWORDS = frozenset({
    "and", "as", "asc", "between", "by", "consume", "contains", "count", "desc", "distinct",
    "dynamic", "extend", "false", "find", "from", "has", "in", "invoke", "join", "kind", "let",
    "limit", "not", "null", "on", "or", "order", "project", "range", "sample", "search", "set",
    "sort", "summarize", "take", "to", "top", "true", "typeof", "union", "where", "with", "bool",
    "int", "long", "real", "string", "datetime", "timespan", "guid", "decimal", "int64", "double",
    "boolean", "date", "time", "uniqueid",
})


class KqlValueError(ValueError):
    """A value that has no literal in the KQL we emit."""


def string(value: str) -> str:
    """A KQL string literal holding exactly ``value``."""
    out = ['"']
    for char in value:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char < " " or char in "\x7f\x85\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def number(value: int | float) -> str:
    """A numeric literal: ``long`` for integers, ``real`` otherwise."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise KqlValueError(f"the number {value} has no KQL literal here")
    return repr(float(value))


def boolean(value: bool) -> str:
    return "true" if value else "false"


def is_plain(text: str) -> bool:
    return _PLAIN.fullmatch(text) is not None and text.lower() not in _KEYWORDS


def name(text: str) -> str:
    """A column or property name, bracket-quoted unless it is a plain identifier."""
    return text if is_plain(text) else f"[{string(text)}]"


def access(base: str, segments: Iterable[Segment]) -> str:
    """``base`` followed by property and index accesses, each name quoted as needed."""
    out = base
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif is_plain(seg):
            out += f".{seg}"
        else:
            out += f"[{string(seg)}]"
    return out


def path(segments: Iterable[Segment]) -> str:
    """A column followed by accesses into it: ``properties.network['x-y']``."""
    items = list(segments)
    return access(name(str(items[0])), items[1:])


def string_list(values: Iterable[str]) -> str:
    """``("a", "b")``: the right side of ``in`` / ``in~``."""
    return "(" + ", ".join(string(v) for v in values) + ")"
