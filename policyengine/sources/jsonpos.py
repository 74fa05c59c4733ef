"""JSON that remembers where each value was: the decoder for templates and plans.

``json.loads`` forgets positions, and a finding must point to the ``file:line:col`` of the
resource and of the property in the template (as cfn-lint's decoder keeps a mark on every
node). Objects and arrays decode to :class:`JObject` and :class:`JArray`, a ``dict`` and a
``list`` that also know their own position and their members'; :func:`span_at` reads them.

ARM templates may carry ``//`` and ``/* */`` comments (Azure CLI and PowerShell accept them:
https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax#comments), so the
decoder skips comments where JSON allows whitespace. Duplicate keys are an error, as ARM
rejects them. Nesting is bounded and the parser is iterative: a hostile file cannot exhaust
the stack.

Two decoders give the same values and the same positions (docs/architecture.md, "Templates"):
the C ``json`` module decodes a plain JSON file (~18× faster) and each container learns its
members' offsets only when a span inside it is first asked for, by a scan of that container
alone (its members' values skipped by the C scanner); anything the C decoder refuses or that
this module treats differently (comments, other whitespace, duplicate keys, NaN, huge numbers,
deep nesting) is decoded by the position-keeping parser below, which says where it is wrong.
"""

from __future__ import annotations

import bisect
import json.decoder
import math
import re
from collections.abc import Callable
from typing import Any

from policyengine.errors import InputError, Span

MAX_DEPTH = 256
#: Longer integers are refused (a 64-bit integer has at most 19 digits).
MAX_DIGITS = 100

_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.S)
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}
# The C string scanner behind json.loads (not in typeshed's stubs, hence getattr).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = getattr(json.decoder, "scanstring")  # noqa: B009


class _Lines:
    """Offsets of line starts, to turn an offset into a line and column when one is asked for;
    for a file decoded by the C decoder, also what locates a container's members on demand."""

    __slots__ = ("_starts", "file", "root", "text")

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.root: Any = None
        self._starts: list[int] | None = None

    def span(self, offset: int) -> Span:
        starts = self._starts
        if starts is None:
            starts = self._starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(starts, offset)
        return Span(self.file, line, offset - starts[line - 1] + 1)

    def locate(self, node: JObject | JArray) -> None:
        """Give ``node`` (decoded by the C decoder) and the containers above it their offsets."""
        current: Any = self.root
        if current._offset < 0:
            text = self.text
            _fill(text, current, len(text) - len(text.lstrip(_JSON_SPACE)))
        for key in node._path:
            child = current[key]
            if child._offset < 0:
                _fill(self.text, child, current._offsets[key])
            current = child


class JObject(dict[str, Any]):
    """A decoded JSON object that knows where it and each of its values start."""

    __slots__ = ("_lines", "_offset", "_offsets", "_path")
    _lines: _Lines | None
    _offset: int  # -1 until located (C-decoded files)
    _offsets: dict[str, int]
    _path: tuple[str | int, ...]


class JArray(list[Any]):
    """A decoded JSON array that knows where it and each of its items start."""

    __slots__ = ("_lines", "_offset", "_offsets", "_path")
    _lines: _Lines | None
    _offset: int  # -1 until located (C-decoded files)
    _offsets: list[int]
    _path: tuple[str | int, ...]


def span_of(node: Any) -> Span | None:
    """Where a decoded object or array starts; None for values built in memory."""
    lines: _Lines | None = getattr(node, "_lines", None)
    if lines is None:
        return None
    if node._offset < 0:
        lines.locate(node)
    return lines.span(node._offset)


def span_at(container: Any, key: str | int) -> Span | None:
    """Where the member ``key`` (an object key or an array index) of ``container`` starts."""
    lines: _Lines | None = getattr(container, "_lines", None)
    if lines is None:
        return None
    if container._offset < 0:
        lines.locate(container)
    offsets = container._offsets
    if isinstance(container, JObject) and isinstance(key, str) and key in offsets:
        return lines.span(offsets[key])
    if isinstance(container, JArray) and isinstance(key, int) and 0 <= key < len(offsets):
        return lines.span(offsets[key])
    return None


def loads(text: str, file: str) -> Any:
    """Decode ``text``; raise :class:`InputError` at ``file:line:col`` if it is not JSON."""
    try:
        return _fast(text, file)
    except (_Doubt, ValueError, RecursionError):
        # Not plain JSON as this module reads it: the position-keeping parser decides, and
        # locates what is wrong exactly as it always has.
        return _positioned(text, file)


def _positioned(text: str, file: str) -> Any:
    """The position-keeping parser: every container gets its offsets as it is read."""
    lines = _Lines(file, text)

    def fail(offset: int, message: str) -> InputError:
        return InputError(message, lines.span(min(offset, len(text))))

    def skip(pos: int) -> int:
        end = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # the pattern matches ""
        if text.startswith("/*", end):
            raise fail(end, "unterminated /* comment")
        return end

    def container(kind: type[JObject] | type[JArray], offset: int) -> Any:
        node = kind()
        node._lines, node._offset = lines, offset
        node._offsets = {} if kind is JObject else []
        return node

    # The stack holds open containers with, for objects, the key awaiting its value.
    stack: list[tuple[Any, str | None]] = []
    pos = skip(0)
    result: Any = None
    while True:
        # -- read one value at pos
        if pos >= len(text):
            raise fail(pos, "unexpected end of JSON" if stack or pos else "empty file: expected JSON")
        ch = text[pos]
        value: Any
        opened = False
        if ch in "{[":
            if len(stack) >= MAX_DEPTH:
                raise fail(pos, f"JSON nested more than {MAX_DEPTH} deep")
            value = container(JObject if ch == "{" else JArray, pos)
            pos = skip(pos + 1)
            closer = "}" if ch == "{" else "]"
            if pos < len(text) and text[pos] == closer:
                pos += 1
            else:
                opened = True
        elif ch == '"':
            try:
                value, pos = _scanstring(text, pos + 1, True)
            except json.JSONDecodeError as exc:
                raise fail(exc.pos, exc.msg.lower()) from None
        else:
            m = _NUMBER.match(text, pos)
            if m:
                value = _number(m, fail)
                pos = m.end()
            else:
                word = re.match(r"[A-Za-z]+", text[pos:pos + 8])
                if word is None or word.group() not in _LITERALS:
                    raise fail(pos, f"unexpected {text[pos]!r}: expected a JSON value")
                value = _LITERALS[word.group()]
                pos += len(word.group())
        if opened:
            stack.append((value, None))
            if isinstance(value, JObject):
                pos = _key(text, pos, stack, fail, skip)
            else:
                value._offsets.append(pos)
            continue
        # -- a complete value: store it in its parent, then close what ends here
        while True:
            if not stack:
                result = value
                pos = skip(pos)
                if pos < len(text):
                    raise fail(pos, "unexpected text after the JSON value")
                return result
            parent, key = stack[-1]
            if isinstance(parent, JObject):
                assert key is not None
                parent[key] = value
            else:
                parent.append(value)
            pos = skip(pos)
            if pos < len(text) and text[pos] == ",":
                pos = skip(pos + 1)
                if isinstance(parent, JObject):
                    pos = _key(text, pos, stack, fail, skip)
                else:
                    parent._offsets.append(pos)
                break
            closer = "}" if isinstance(parent, JObject) else "]"
            if pos < len(text) and text[pos] == closer:
                pos += 1
                stack.pop()
                value = parent
                continue
            expected = "',' or '}'" if closer == "}" else "',' or ']'"
            raise fail(pos, f"expected {expected}")


def _number(match: re.Match[str], fail: Callable[[int, str], InputError]) -> int | float:
    """A JSON number, refused where no consumer could hold it: an integer of more digits than
    Python converts (4300: https://docs.python.org/3/library/stdtypes.html#int-max-str-digits;
    ARM's own integers are 64-bit), or a float that overflows to infinity (``1e400``), which
    no JSON writer may emit back."""
    text = match.group()
    if match.group(1) or match.group(2):
        value = float(text)
        if math.isinf(value):
            raise fail(match.start(), f"number out of range: {text[:20]}")
        return value
    if len(text) > MAX_DIGITS:
        raise fail(match.start(), f"number out of range: an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _key(text: str, pos: int, stack: list[tuple[Any, str | None]],
         fail: Callable[[int, str], InputError], skip: Callable[[int], int]) -> int:
    """Read ``"key":`` for the object on top of the stack; return where its value starts."""
    parent = stack[-1][0]
    if pos >= len(text) or text[pos] != '"':
        raise fail(pos, "expected a property name in double quotes")
    try:
        key, end = _scanstring(text, pos + 1, True)
    except json.JSONDecodeError as exc:
        raise fail(exc.pos, exc.msg.lower()) from None
    if key in parent:
        first = parent._lines.span(parent._offsets[key]).line
        raise fail(pos, f"duplicate property {key!r} (first at line {first})")
    end = skip(end)
    if end >= len(text) or text[end] != ":":
        raise fail(end, "expected ':' after the property name")
    end = skip(end + 1)
    parent._offsets[key] = end
    stack[-1] = (parent, key)
    return end


# -- the C decoder and containers located on demand

_JSON_SPACE = " \t\n\r"
_WS = re.compile(r"[ \t\n\r]*")
# A key without escapes, its colon and the whitespace up to its value; then what follows a
# member up to the next one (the text has been decoded: it is valid JSON).
_PLAIN_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
_AFTER = re.compile(r"[ \t\n\r]*,?[ \t\n\r]*")
# Skips one value at C speed (its result is thrown away).
_skip_value: Callable[[str, int], tuple[Any, int]] = getattr(json.decoder.JSONDecoder(), "scan_once")  # noqa: B009


class _Doubt(Exception):
    """The C decoder accepted what this module refuses or reads differently: decode again with
    the position-keeping parser, which says where."""


def _pairs(pairs: list[tuple[str, Any]]) -> JObject:
    node = JObject(pairs)
    if len(node) != len(pairs):
        raise _Doubt("duplicate key")
    return node


def _int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise _Doubt("long integer")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Doubt("float out of range")
    return value


def _constant(text: str) -> Any:
    raise _Doubt(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_int=_int, parse_float=_float,
                            parse_constant=_constant)


def _fast(text: str, file: str) -> Any:
    """Decode with the C decoder; tag every container with its path (located later, on demand).
    Raises :class:`_Doubt` or ``ValueError`` where the position-keeping parser must decide."""
    root = _DECODER.decode(text)
    if type(root) is list:
        root = JArray(root)
    if type(root) is not JObject and type(root) is not JArray:
        return root
    lines = _Lines(file, text)
    lines.root = root
    root._lines, root._offset, root._path = lines, -1, ()
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Doubt("too deep")
        path = node._path
        members = node.items() if type(node) is JObject else enumerate(node)
        for key, value in members:
            kind = type(value)
            if kind is list:
                child = node[key] = JArray(value)
            elif kind is JObject:
                child = value
            else:
                continue
            child._lines, child._offset, child._path = lines, -1, (*path, key)
            stack.append((child, depth + 1))
    return root


def _fill(text: str, node: JObject | JArray, offset: int) -> None:
    """Record where ``node`` (starting at ``offset``) and each of its members start: the same
    offsets the position-keeping parser records (a member's value after the whitespace)."""
    pos = _WS.match(text, offset + 1).end()  # type: ignore[union-attr]  # the pattern matches ""
    if type(node) is JObject:
        keyed: dict[str, int] = {}
        while text[pos] == '"':
            simple = _PLAIN_KEY.match(text, pos)
            if simple is not None:
                key, pos = simple.group(1), simple.end()
            else:  # a key with escapes: the C string scanner reads it
                key, pos = _scanstring(text, pos + 1, True)
                pos = _WS.match(text, _WS.match(text, pos).end() + 1).end()  # type: ignore[union-attr]
            keyed[key] = pos
            pos = _AFTER.match(text, _skip_value(text, pos)[1]).end()  # type: ignore[union-attr]
        node._offsets = keyed
    else:
        indexed: list[int] = []
        while text[pos] != "]":
            indexed.append(pos)
            pos = _AFTER.match(text, _skip_value(text, pos)[1]).end()  # type: ignore[union-attr]
        node._offsets = indexed
    node._offset = offset
