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
from importlib import resources

from policyengine.paths import Segment

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _keywords() -> frozenset[str]:
    text = (resources.files("policyengine") / "kql" / "keywords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


#: Words the parser reads as keywords (taken from Microsoft's parser itself): a name that is
#: one of them is bracket-quoted, as any name that is not a plain identifier is.
_KEYWORDS = _keywords()
#: The largest integer a query compares exactly: comparisons go through todouble().
MAX_EXACT = 2**53


class KqlUnsupported(Exception):
    """A construct KQL cannot express exactly; the message names it."""


class KqlValueError(KqlUnsupported):
    """A value that has no exact literal in the KQL we emit."""


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
        elif "\ud800" <= char <= "\udfff":
            raise KqlValueError("a string with a lone surrogate (not valid UTF-8)")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def number(value: int | float) -> str:
    """A numeric literal: ``long`` for integers, ``real`` otherwise."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        if abs(value) > MAX_EXACT:
            raise KqlValueError(f"the integer {value} (beyond 2**53, KQL compares it inexactly)")
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


def column(text: str) -> str:
    """A column name the query defines, always bracket-quoted (so every path column has the
    same syntax, whatever its name)."""
    return f"[{string(text)}]"


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
