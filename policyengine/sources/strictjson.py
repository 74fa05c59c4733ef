"""Strict JSON for exports: what :func:`json.loads` accepts but would mislead is refused, located.

``json.loads`` lets the last of two equal keys win, reads ``NaN`` and ``Infinity`` (which no
Azure API writes and no strict parser reads back), turns ``1e400`` into infinity, raises a bare
``ValueError`` on an integer of more than 4300 digits and ``RecursionError`` on deep nesting.
An export row is data a verdict rests on, so each of these is an input error of that row
(docs/architecture.md, "Input errors").

The C decoder stays the fast path: its hooks only *detect* a refusal (a duplicate key, a
constant, an overflowing float), and :func:`locate` then finds where and why by scanning the
one value again. Nesting is bounded at :data:`MAX_DEPTH` (the bound templates and plans have),
so no consumer of a row recurses without end.

A row of an NDJSON export goes first through :func:`row`: orjson decodes it (three times
faster than the hooked C decoder), and its value is kept only where orjson's own encoding of
it is the row's text byte for byte, which proves it had no duplicate key (a dict holds each
key once, so a dropped duplicate makes the text longer), no constant, no overflowing float
and no integer past 64 bits (orjson reads those as floats, written with a ``.`` or ``e``).
Every other row, compact JSON in another style included, is decoded by :func:`loads`, so its
value and every refusal and its location are the same as without orjson.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from policyengine.sources.jsonpos import MAX_DEPTH

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; without it every row is decoded strictly
    orjson = None  # type: ignore[assignment]

__all__ = ["MAX_DEPTH", "Refused", "decode", "loads", "locate", "row"]


class Refused(Exception):
    """A value the strict decoder refuses: where (an offset in the text), why, and where the
    refused value ends (-1 when the text ends first)."""

    def __init__(self, offset: int, message: str, end: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.end = end


class _Hook(ValueError):
    """Raised by a decoder hook; :func:`locate` says where and why."""


#: Objects decoded since :func:`decode` began: with the arrays counted in the text, a bound on
#: the nesting that costs nearly nothing (the hook runs for every object anyway).
_objects = [0]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    _objects[0] += 1
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Hook
    return obj


def _constant(_name: str) -> Any:
    raise _Hook


def _float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf - inf is nan: the literal overflowed
        raise _Hook
    return value


_raw_decode = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant,
                               parse_float=_float).raw_decode
_SPACE = re.compile(r"[ \t\n\r]*")


def decode(text: str, pos: int) -> tuple[Any, int]:
    """The JSON value starting at ``pos`` (no leading whitespace) and where it ends.

    Raises :class:`json.JSONDecodeError` for text that is not JSON (it may only be cut short:
    a streaming caller reads on and retries) and :class:`Refused` for JSON that is refused."""
    _objects[0] = 0
    try:
        value, end = _raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # a hook, the int-digit limit, the C stack
        raise _refusal(text, pos, exc) from None
    # Nesting deeper than MAX_DEPTH needs more containers than that: the objects were counted
    # as they were decoded, the arrays are counted now; the exact scan runs only past the bound.
    if _objects[0] + text.count("[", pos, end) > MAX_DEPTH:
        found = locate(text, pos)
        if found is not None:
            raise found
    return value, end


def loads(text: str) -> Any:
    """A whole text as one JSON value (surrounding whitespace allowed), strictly."""
    start = 0 if text[:1] == "{" else _SPACE.match(text).end()  # type: ignore[union-attr]
    value, end = decode(text, start)
    if end != len(text) and not text[end:].isspace():
        end = _SPACE.match(text, end).end()  # type: ignore[union-attr]  # the pattern matches ""
        raise json.JSONDecodeError("Extra data", text, end)
    return value


#: A text this short cannot nest deeper than MAX_DEPTH (each level takes two characters).
_SHALLOW = 2 * MAX_DEPTH


def row(text: str) -> Any:
    """One NDJSON line (its line break included or not) as :func:`loads` decodes it, with the
    same errors; through orjson when its encoding of the value proves the text strict."""
    if orjson is not None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return loads(text)
        body = text[:-1] if text[-1:] == "\n" else text
        if len(body) <= _SHALLOW or body.count("{") + body.count("[") <= MAX_DEPTH:
            try:
                if orjson.dumps(value) == body.encode():
                    return value
            except orjson.JSONEncodeError:  # orjson encodes fewer levels than MAX_DEPTH
                pass
    return loads(text)


def _refusal(text: str, pos: int, exc: BaseException) -> Refused:
    found = locate(text, pos)
    if found is not None:
        return found
    # Not found again: the decoder ran out of stack short of MAX_DEPTH (a deep caller).
    reason = "JSON nested too deeply" if isinstance(exc, RecursionError) else f"invalid JSON: {exc}"
    return Refused(pos, reason, -1)


# One token: a string, a structural character, a number, a bare word, or anything else.
_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*")'
    r"|(?P<punct>[{}\[\]:,])"
    r"|(?P<number>-?\d+(?P<real>(?:\.\d+)?(?:[eE][-+]?\d+)?))"
    r"|(?P<word>-?[A-Za-z]+)"
    r"|\S",
    re.S,
)
_WORDS = frozenset({"true", "false", "null"})
_INFINITE = (float("inf"), float("-inf"))


def locate(text: str, pos: int) -> Refused | None:
    """The first thing refused in the JSON value at ``pos``, or None if there is none.

    Scans the value token by token (strings whole, so nothing inside one is taken for
    structure): a key repeated in one object, a nesting deeper than :data:`MAX_DEPTH`, a bare
    ``NaN``/``Infinity``, an integer of more digits than Python converts, a float that
    overflows. Runs only once the fast decoder has said something is wrong, or for a value
    of more containers than :data:`MAX_DEPTH`."""
    stack: list[set[str] | None] = []  # per open container: an object's keys, None for an array
    found: tuple[int, str] | None = None
    key: tuple[int, str] | None = None  # the last string, while it may be a key
    for token in _TOKEN.finditer(text, pos):
        at, kind = token.start(), token.lastgroup
        if kind == "punct":
            punct = token.group()
            if punct == ":" and key is not None and stack and stack[-1] is not None:
                found = found or _duplicate(stack[-1], key)
            elif punct in "{[":
                stack.append(set() if punct == "{" else None)
                if len(stack) > MAX_DEPTH:
                    found = found or (at, f"JSON nested more than {MAX_DEPTH} deep")
            elif punct in "}]":
                if stack:
                    stack.pop()
                if not stack:
                    return _found(found, token.end())
            key = None
            continue
        key = None
        if kind == "string":
            key = (at, token.group())
        elif kind is None and text[at] == '"':
            return _found(found, -1)  # a string the text ends in
        elif found is None:
            found = _scalar(token, at)
        if not stack:  # a scalar value: it ends here
            return _found(found, token.end())
    return _found(found, -1)


def _duplicate(keys: set[str], key: tuple[int, str]) -> tuple[int, str] | None:
    at, quoted = key
    try:
        name = json.loads(quoted)
    except ValueError:
        name = quoted
    if name in keys:
        return at, (f"duplicate key {name!r} in one object: JSON leaves which value counts "
                    "undefined, so the row is not used")
    keys.add(name)
    return None


def _scalar(token: re.Match[str], at: int) -> tuple[int, str] | None:
    number, word = token.group("number"), token.group("word")
    if number is not None:
        if token.group("real"):
            if float(number) in _INFINITE:
                return at, f"number out of range: {number[:20]} overflows a 64-bit float"
            return None
        digits = len(number.lstrip("-"))
        limit = sys.get_int_max_str_digits()
        if limit and digits > limit:
            return at, f"number out of range: an integer of {digits} digits"
    elif word is not None and word not in _WORDS:
        return at, f"{word} is not JSON: a number must be finite"
    return None


def _found(found: tuple[int, str] | None, end: int) -> Refused | None:
    return Refused(found[0], found[1], end) if found is not None else None
