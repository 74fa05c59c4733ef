"""Values that cannot be known before deployment.

A template or a plan declares what it wants; some of it is decided only when it is deployed:
``reference()``, ``list*()``, ``utcNow()``, a required parameter given no value, a Terraform
attribute "known after apply". Such a value is an :class:`Unknown`, never a guess. It travels
through expressions and records like any JSON value; the evaluator turns a comparison that
meets one into an ``unknown`` verdict with the reason.

``text`` is the expression the value stands for, written canonically (``parameters('name')``,
``concat('pg-', uniqueString(resourceGroup().id))``): two unknowns with the same text are the
same value at deployment, which is how a child resource named from an unknown parameter still
finds its parent. A string built by ``concat``/``format`` from known and unknown pieces keeps
them in ``parts``, so the ``/`` in ``[format('{0}/require_secure_transport', parameters('s'))]``
still splits a child's name from its parent's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unknown:
    """A value known only at deployment: the expression it stands for, and why."""

    text: str
    reason: str = field(compare=False)
    parts: tuple[str | Unknown, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        return f"<unknown {self.text}>"

    def to_json(self) -> dict[str, str]:
        return {"$unknown": self.text, "reason": self.reason}


def string_parts(value: Any) -> tuple[str | Unknown, ...]:
    """A string value as pieces: known text and unknown atoms (a plain string is one piece)."""
    if isinstance(value, Unknown):
        return value.parts or (value,)
    return (value,) if isinstance(value, str) else ()


def split_name(value: Any) -> list[str | Unknown] | None:
    """A resource name split on ``/`` into segments, each a string or an unknown atom;
    ``None`` if the segments cannot be told apart (an unknown atom straddles a ``/``:
    ``concat(parameters('a'), parameters('b'))`` is one unknown segment, which is fine, but a
    segment that mixes known text and an unknown is kept as one unknown of its text)."""
    parts = string_parts(value)
    if not parts:
        return None
    segments: list[list[str | Unknown]] = [[]]
    for part in parts:
        if isinstance(part, Unknown):
            segments[-1].append(part)
            continue
        pieces = part.split("/")
        for i, piece in enumerate(pieces):
            if i:
                segments.append([])
            if piece:
                segments[-1].append(piece)
    out: list[str | Unknown] = []
    for pieces_ in segments:
        if all(isinstance(p, str) for p in pieces_):
            out.append("".join(str(p) for p in pieces_))
        elif len(pieces_) == 1:
            out.append(pieces_[0])
        else:
            out.append(joined(pieces_))
    return out


def joined(pieces: Sequence[str | Unknown]) -> Unknown:
    """The unknown string that concatenates ``pieces`` (at least one of them unknown)."""
    flat: list[str | Unknown] = []
    for piece in pieces:
        flat.extend(string_parts(piece) if isinstance(piece, Unknown) else (piece,))
    merged: list[str | Unknown] = []
    for piece in flat:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    reason = next(p.reason for p in merged if isinstance(p, Unknown))
    text = "concat(" + ", ".join(quote(p) if isinstance(p, str) else p.text for p in merged) + ")"
    return Unknown(text, reason, tuple(merged))


def quote(text: str) -> str:
    """A string as an ARM expression literal."""
    return "'" + text.replace("'", "''") + "'"


def segment_text(segment: str | Unknown) -> str:
    """A name segment as shown in an id: the text, or ``[expression]`` when unknown."""
    return segment if isinstance(segment, str) else f"[{segment.text}]"




def contains_unknown(value: Any) -> Unknown | None:
    """The first unknown inside a JSON value (itself, an element, a member), if any."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return None
    for item in value:
        found = contains_unknown(item)
        if found is not None:
            return found
    return None


_SCALARS = (str, int, float, bool, type(None))


def jsonable(value: Any) -> Any:
    """``value`` with every unknown inside it written as ``{"$unknown": text, "reason": ...}``."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Unknown):
        return value.to_json()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
