"""What an input holds, told by its content rather than its name.

A deployment template by its ``$schema`` (or, without one, by ``contentVersion`` beside
``resources``), a parameters file by its ``$schema``, a Terraform plan by ``format_version``
beside ``planned_values``/``resource_changes``, an export by its rows: Resource Graph's
``{"data": [...]}``, an ARM list response ``{"value": [...]}``, a JSON array or NDJSON of
objects with an ARM ``id`` (``Id``/``ResourceId`` in PSRule's PascalCase), a single ARM
resource, or a policyengine snapshot.

Only the top-level keys are read, and the values that decide; other values are skipped
without being decoded, so a template whose first member is a huge ``metadata`` object is
still known by a ``$schema`` that comes after it. The text is read in growing pieces until
it tells (:func:`kind_of`), so a 1 GB export is known from its first row.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

from policyengine.sources.files import FIRST_READ, Peek


class Kind(Enum):
    TEMPLATE = "template"
    PARAMETERS = "parameters"
    PLAN = "plan"
    BICEP = "bicep"
    EXPORT = "export"
    OTHER = "other"
    EMPTY = "empty"


#: The first key of a policyengine snapshot (sources/export.py's HEADER_KEY).
_SNAPSHOT_KEY = "$policyengine"
#: Where a resource's ARM id is, in Resource Graph and ARM (``id``) and in PSRule's and
#: Get-AzResource's PascalCase (``Id``, ``ResourceId``).
_ID_KEYS = ("id", "Id", "ID", "ResourceId", "resourceId")
_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.S)
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_STRUCTURE = re.compile(r'[\[\]{}"]')
_SCALAR = re.compile(r"[-+.\w]+")
_decoder = json.JSONDecoder()


def kind_of(peek: Peek) -> tuple[Kind, str]:
    """What ``peek``'s input is, and for :attr:`Kind.OTHER` why it is none of the known
    kinds; reads on while the text read so far does not tell."""
    if not peek.data and not peek.eof:
        peek.more()
    while True:
        answer = decide(peek.text, peek.eof)
        if answer is not None:
            return answer
        peek.more(max(len(peek.data), FIRST_READ))


def decide(text: str, complete: bool) -> tuple[Kind, str] | None:
    """What ``text`` is, or None when it ends before telling (``complete``: nothing follows)."""
    try:
        return _Scan(text, complete).kind()
    except _Short:
        return None
    except _Invalid:
        return Kind.OTHER, "not valid JSON, and nothing before the error says what it is"


class _Short(Exception):
    """The text ends before the answer: read more."""


class _Invalid(Exception):
    """Not JSON where the answer was looked for."""


def is_resource(value: Any) -> bool:
    """An object with an ARM resource id."""
    return isinstance(value, dict) and any(
        isinstance(value.get(k), str) and value[k].startswith("/") for k in _ID_KEYS)


class _Scan:
    def __init__(self, text: str, complete: bool) -> None:
        self.text = text
        self.complete = complete
        self.pos = 0

    def end(self) -> Exception:
        """Out of text: read more, or, when there is no more, the JSON is cut short."""
        return _Invalid() if self.complete else _Short()

    def peek(self) -> str:
        """The next character after whitespace and comments ('' at the end of a whole text)."""
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
        if self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "/" and not self.complete:
                raise _Short  # a comment that the next piece ends
            return char
        if self.complete:
            return ""
        raise _Short

    def value(self) -> Any:
        try:
            value, end = _decoder.raw_decode(self.text, self.pos)
        except (json.JSONDecodeError, RecursionError):
            raise self.end() from None
        if end == len(self.text) and not self.complete and not isinstance(value, (dict, list, str)):
            raise _Short  # a number or literal that the next piece may continue
        self.pos = end
        return value

    def skip(self) -> None:
        """Past one value, without decoding it."""
        if self.pos >= len(self.text):  # the text ends where a value should start
            raise self.end()
        first = self.text[self.pos]
        if first == '"':
            self.skip_string()
        elif first in "[{":
            depth = 0
            while True:
                found = _STRUCTURE.search(self.text, self.pos)
                if found is None:
                    raise self.end()
                self.pos = found.end()
                char = found.group()
                if char == '"':
                    self.pos -= 1
                    self.skip_string()
                elif char in "[{":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        return
        else:
            self.value()

    def skip_string(self) -> None:
        found = _STRING_REST.match(self.text, self.pos + 1)
        if found is None:
            raise self.end()
        self.pos = found.end()

    def kind(self) -> tuple[Kind, str]:
        first = self.peek()
        if first == "":
            return Kind.EMPTY, "empty"
        if first == "[":
            return self.array()
        if first == "{":
            return self.object()
        return Kind.OTHER, "not JSON"

    def rows(self) -> bool | None:
        """At an array: whether it holds resources (True), nothing (None) or something else."""
        self.pos += 1
        if self.peek() == "]":
            return None
        return is_resource(self.value())

    def array(self) -> tuple[Kind, str]:
        rows = self.rows()
        if rows is None:
            return Kind.OTHER, "an empty JSON array"
        if rows:
            return Kind.EXPORT, "an export"
        return Kind.OTHER, "a JSON array of something other than Azure resources"

    def object(self) -> tuple[Kind, str]:
        self.pos += 1
        keys: set[str] = set()
        while True:
            char = self.peek()
            if char == "}":
                break
            if char != '"':
                raise self.end() if char == "" else _Invalid()
            key = self.value()
            if self.peek() != ":":
                raise _Invalid()
            self.pos += 1
            start = self.peek()
            answer = self.member(key, start, first=not keys)
            if answer is not None:
                return answer
            keys.add(key)
            answer = _by_keys(keys)
            if answer is not None:
                return answer
            char = self.peek()
            if char == ",":
                self.pos += 1
            elif char != "}":
                raise self.end() if char == "" else _Invalid()
        return Kind.OTHER, "a JSON object whose top-level keys say no template, plan or export"

    def member(self, key: str, start: str, *, first: bool) -> tuple[Kind, str] | None:
        """The answer one member gives (the scan is then past its value), if any."""
        if key == "$schema" and start == '"':
            schema = str(self.value()).lower()
            if "deploymenttemplate.json" in schema:
                return Kind.TEMPLATE, "a deployment template"
            if "deploymentparameters.json" in schema:
                return Kind.PARAMETERS, "a parameters file"
            return None
        if key == _SNAPSHOT_KEY and first:
            return Kind.EXPORT, "a policyengine snapshot"
        if key == "format_version" and first:
            return Kind.PLAN, "a Terraform plan"
        if key in _ID_KEYS and start == '"':
            return (Kind.EXPORT, "an ARM resource") if str(self.value()).startswith("/") else None
        if key in ("data", "value") and start == "[":
            mark = self.pos
            rows = self.rows()
            if rows is not False:  # resources, or none (an empty page is still an export)
                return Kind.EXPORT, "an export" if rows else "an empty export"
            self.pos = mark
        if key == "data" and start == "{":
            mark = self.pos
            self.pos += 1
            if self.peek() == '"' and self.value() in ("columns", "rows"):
                return Kind.EXPORT, "an export (Resource Graph table format)"
            self.pos = mark
        self.skip()
        return None


def _by_keys(keys: set[str]) -> tuple[Kind, str] | None:
    if "format_version" in keys and ("planned_values" in keys or "resource_changes" in keys):
        return Kind.PLAN, "a Terraform plan"
    if "contentVersion" in keys and "resources" in keys:
        return Kind.TEMPLATE, "a deployment template"
    return None
