"""``matches regex`` with RE2's meaning, run by Python's ``re``.

"LHS contains a match for RHS" (https://learn.microsoft.com/kusto/query/datatypes-string-operators):
a search, not a full match. The syntax is RE2's (https://learn.microsoft.com/kusto/query/re2).
Where RE2 and Python read the same text differently, the pattern is rewritten first:

* ``$`` (outside a class, without the ``m`` flag) is the end of the text in RE2; in Python
  it also matches before a final newline, so it becomes ``\\Z``;
* ``\\d \\w \\s`` and ``\\b`` are ASCII-only in RE2 (``\\s`` is ``[\\t\\n\\f\\r ]``); Python's are
  Unicode, so they become explicit ASCII classes (``re.ASCII`` would also make ``(?i)``
  ASCII-only, which RE2's is not);
* what Python cannot express the same way (``\\p{…}``, ``[[:alpha:]]``, ``\\Q…\\E``, the
  ``m`` flag) is an :class:`OracleError`, never a guess.
"""

from __future__ import annotations

import functools
import re

from tests.kqloracle.values import OracleError

_CLASSES = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"


@functools.lru_cache(maxsize=256)
def compile_re2(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(translate(pattern))
    except re.error as exc:
        raise OracleError(f"the pattern {pattern!r} does not compile: {exc}") from None


def translate(pattern: str) -> str:
    out: list[str] = []
    pos, end = 0, len(pattern)
    in_class = False
    while pos < end:
        char = pattern[pos]
        if char == "\\":
            escape = pattern[pos + 1:pos + 2]
            if not escape:
                raise OracleError(f"the pattern {pattern!r} ends with a backslash")
            lower = escape.lower()
            if lower in _CLASSES:
                if in_class and escape.isupper():
                    raise OracleError(f"\\{escape} inside a character class is outside the oracle's subset")
                body = _CLASSES[lower]
                out.append(body if in_class else (f"[^{body}]" if escape.isupper() else f"[{body}]"))
            elif escape in "bB" and not in_class:
                out.append(_BOUNDARY if escape == "b" else _NOT_BOUNDARY)
            elif escape in "pPQEC":
                raise OracleError(f"\\{escape} in a pattern is outside the oracle's subset")
            elif escape == "z":
                out.append("\\Z")
            else:
                out.append(pattern[pos:pos + 2])
            pos += 2
            continue
        if in_class:
            if char == "[" and pattern.startswith("[:", pos):
                raise OracleError("POSIX classes ([[:alpha:]]) are outside the oracle's subset")
            if char == "]":
                in_class = False
            out.append(char)
            pos += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            pos += 1
            # A ']' first in a class (after an optional '^') is a literal.
            if pattern.startswith("^", pos):
                out.append("^")
                pos += 1
            if pattern.startswith("]", pos):
                out.append("\\]")
                pos += 1
            continue
        if char == "(" and pattern.startswith("(?", pos):
            flags = re.match(r"\(\?([a-zA-Z]*)[:)]", pattern[pos:])
            if flags and "m" in flags.group(1):
                raise OracleError("the m flag is outside the oracle's subset")
        out.append("\\Z" if char == "$" else char)
        pos += 1
    return "".join(out)


def matches(text: str, pattern: str) -> bool:
    return compile_re2(pattern).search(text) is not None
