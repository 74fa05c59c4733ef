"""Field paths: ``properties.network.publicNetworkAccess``, ``tags['cost-center']``,
``properties.disabledAlerts[0]``, ``related.minTls.properties.value``, ``@`` and ``@.name``.

A path is parsed once, at load time, into segments (``str`` keys and ``int`` indices).
Resolving a path against JSON data walks the segments; a key matches exactly first and then
case-insensitively, because Azure property names are case-insensitive and exports differ in
casing (ARG returns camelCase, some ARM responses PascalCase).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from policyengine.unknown import Unknown


class _Missing:
    """The value of a path that leads nowhere (absent key, out-of-range index, or JSON null).

    Azure treats a null property as not set, and so do we.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

Segment = str | int

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_INDEX = re.compile(r"\[(?:(\d+)|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")\]")


class PathSyntaxError(ValueError):
    """A path that cannot be parsed; the message says where in the path."""


@dataclass(frozen=True)
class FieldPath:
    """A parsed path. ``element`` is true for ``@`` paths (the current array element)."""

    text: str
    segments: tuple[Segment, ...]
    element: bool = False

    @property
    def is_related(self) -> bool:
        return not self.element and len(self.segments) >= 2 and self.segments[0] == "related"

    @property
    def related_name(self) -> str:
        return str(self.segments[1])


def parse_path(text: str) -> FieldPath:
    """Parse a field path; raise :class:`PathSyntaxError` with the offending position."""
    segments: list[Segment] = []
    pos = 0
    element = False
    if text.startswith("@"):
        element = True
        pos = 1
        if pos < len(text) and text[pos] not in ".[":
            raise PathSyntaxError(f"expected '.' or '[' after '@' at position {pos + 1}")
        if text[pos:pos + 1] == ".":
            pos += 1
            if pos == len(text):
                raise PathSyntaxError("path ends with '.'")
    elif not text:
        raise PathSyntaxError("empty path")
    expect_name = not element
    while pos < len(text):
        if text[pos] == "[":
            m = _INDEX.match(text, pos)
            if not m:
                raise PathSyntaxError(
                    f"bad index at position {pos + 1}: use [0] or ['key']"
                )
            if m.group(1) is not None:
                segments.append(int(m.group(1)))
            else:
                quoted = m.group(2) if m.group(2) is not None else m.group(3)
                segments.append(re.sub(r"\\(.)", r"\1", quoted))
            pos = m.end()
            expect_name = False
            continue
        if text[pos] == "." and not expect_name:
            pos += 1
            expect_name = True
            if pos == len(text):
                raise PathSyntaxError("path ends with '.'")
            continue
        m = _IDENT.match(text, pos)
        if not m or not (expect_name or (element and not segments)):
            raise PathSyntaxError(f"unexpected {text[pos]!r} at position {pos + 1}")
        segments.append(m.group(0))
        pos = m.end()
        expect_name = False
    return FieldPath(text, tuple(segments), element)


def lookup(data: Any, segments: tuple[Segment, ...]) -> Any:
    """Walk ``segments`` into JSON ``data``; :data:`MISSING` where the walk stops."""
    current = data
    for seg in segments:
        if isinstance(seg, int):
            if not isinstance(current, list) or seg >= len(current):
                return MISSING
            current = current[seg]
        elif isinstance(current, dict):
            if seg in current:
                current = current[seg]
            else:
                folded = seg.casefold()
                for key, value in current.items():
                    if key.casefold() == folded:
                        current = value
                        break
                else:
                    return MISSING
        elif isinstance(current, Unknown):
            return current  # what is inside a value known only at deployment is unknown too
        else:
            return MISSING
        if current is None:
            return MISSING
    return MISSING if current is None else current


Projection = dict[str, "Projection | None"]
"""Which parts of a resource to keep: lower-case key -> what to keep below it (None: all)."""


def add_to_projection(tree: Projection, segments: tuple[Segment, ...]) -> None:
    """Keep what ``segments`` reads (a whole array from its first index on)."""
    node = tree
    for i, seg in enumerate(segments):
        if isinstance(seg, int):
            return
        key = seg.lower()
        last = i == len(segments) - 1 or isinstance(segments[i + 1], int)
        if key in node and node[key] is None:
            return
        if last:
            node[key] = None
            return
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        node = child


def project(data: Any, tree: Projection | None) -> Any:
    """``data`` with only the keys ``tree`` keeps (matched case-insensitively, as paths are)."""
    if tree is None or not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        lowered = key.lower()
        if lowered in tree:
            out[key] = project(value, tree[lowered])
    return out
