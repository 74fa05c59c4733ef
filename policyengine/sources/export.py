"""Read ARG-shaped exports as a stream of rows, each with its line number.

Accepted shapes, detected from the content rather than the file name:

* the JSON of ``az graph query`` or of the Resource Graph REST API: an object whose ``data``
  is the array of rows (or, with ``resultFormat: table``, ``{columns, rows}``);
* a plain JSON array of rows;
* NDJSON, one row per line; the first line may be a policyengine snapshot header.

JSON documents are streamed element by element with :meth:`json.JSONDecoder.raw_decode`, so
a file of 10^5 servers never sits whole in memory.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final, NamedTuple

from policyengine.errors import InputError, Span
from policyengine.sources import files
from policyengine.status import InputProblem, Unit

#: The first NDJSON line of a snapshot written by policyengine carries this key.
HEADER_KEY = "$policyengine"
CHUNK = 1 << 20
MAX_ROW = 64 << 20


class Row(NamedTuple):
    """One row and its line. A row the reader skipped unparsed (see :class:`Input`) has
    only its ``id`` and ``type`` (from the id) in ``data``, and ``skipped`` set. (A named
    tuple, not a dataclass: a scan makes one per input line.)"""

    data: dict[str, Any]
    line: int
    skipped: bool = False


@dataclass
class Input:
    """An opened input: its display name, its header (if a snapshot), and its rows.

    ``skip``, set by the consumer before reading, says from a row's id whether the row can
    be of no use, and if so its type. An NDJSON line that starts with its ``id`` (as
    policyengine's snapshots and most ARM rows do) is then not parsed when it cannot matter,
    and comes through as a skipped row so it is still counted."""

    name: str
    header: dict[str, Any]
    rows: Iterator[Row]
    skip: Callable[[str], str | None] | None = None
    #: Rows that could not be used, each with its line and reason: the input goes on without
    #: them. (An error that ends the file is raised from ``rows``.)
    problems: list[InputProblem] = field(default_factory=list)


_decoder = json.JSONDecoder()
#: What :meth:`JsonStream.members` gives as the value of the array it streamed.
STREAMED: Final = object()


class JsonStream:
    """Incremental reader of one JSON document, yielding the elements of its row array."""

    def __init__(self, handle: IO[str], name: str) -> None:
        self.handle = handle
        self.name = name
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.counted_to = 0
        self.counted_lines = 1

    def line_at(self, pos: int) -> int:
        if pos < self.counted_to:
            return self.counted_lines - self.buf.count("\n", pos, self.counted_to)
        self.counted_lines += self.buf.count("\n", self.counted_to, pos)
        self.counted_to = pos
        return self.counted_lines

    def error(self, message: str, pos: int) -> InputError:
        line = self.line_at(pos)
        start = self.buf.rfind("\n", 0, pos) + 1
        return InputError(message, Span(self.name, line, pos - start + 1))

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        if self.pos > CHUNK:  # drop what has been consumed, keeping line accounting right
            self.line_at(self.pos)
            self.counted_to -= self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += chunk
        return True

    def skip_ws(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def expect(self, char: str, what: str) -> None:
        got = self.skip_ws()
        if got != char:
            found = repr(got) if got else "end of file"
            raise self.error(f"invalid JSON: expected {what}, found {found}", self.pos)
        self.pos += 1

    def value(self) -> tuple[Any, int]:
        self.skip_ws()
        start = self.pos
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # The row may just be cut by the chunk boundary: read on (bounded) and retry.
                if len(self.buf) - start < MAX_ROW and self.fill():
                    start = self.pos
                    continue
                raise self.error(f"invalid JSON: {exc.msg}", min(exc.pos, len(self.buf))) from None
            self.pos = end
            return value, self.line_at(start)

    def array(self) -> Iterator[tuple[Any, int]]:
        self.expect("[", "'['")
        if self.skip_ws() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            nxt = self.skip_ws()
            self.pos += 1
            if nxt == "]":
                return
            if nxt != ",":
                raise self.error("invalid JSON: expected ',' or ']' between rows", self.pos - 1)

    def members(self, streamed: str) -> Iterator[tuple[str | None, Any, int]]:
        """The members of a JSON object as ``(key, value, line)``; the array under ``streamed``
        comes element by element, as ``(None, element, line)``. Other members are decoded whole."""
        self.expect("{", "'{'")
        if self.skip_ws() == "}":
            self.pos += 1
        else:
            while True:
                key, _ = self.value()
                self.expect(":", "':'")
                if key == streamed and self.skip_ws() == "[":
                    line = self.line_at(self.pos)
                    for element, element_line in self.array():
                        yield None, element, element_line
                    yield str(key), STREAMED, line
                else:
                    value, line = self.value()
                    yield str(key), value, line
                nxt = self.skip_ws()
                self.pos += 1
                if nxt == "}":
                    break
                if nxt != ",":
                    raise self.error("invalid JSON: expected ',' or '}'", self.pos - 1)
        if self.skip_ws():
            raise self.error("invalid JSON: extra data after the document", self.pos)

    def object_rows(self) -> Iterator[tuple[Any, int]]:
        """The rows of ``{"data": [...], ...}``, skipping the other members."""
        found = False
        for key, value, line in self.members("data"):
            if key is None:
                yield value, line
            elif key == "data":
                found = True
                if value is not STREAMED:
                    yield from _table_rows(value, self.name, line)
        if not found:
            raise InputError(
                "a JSON object input must have a 'data' array (the output of `az graph query`)",
                Span(self.name, 1, 1),
            )


def _table_rows(table: Any, name: str, line: int) -> Iterator[tuple[Any, int]]:
    """Rows of a Resource Graph answer in ``resultFormat: table`` (columns + rows)."""
    if not (isinstance(table, dict) and isinstance(table.get("columns"), list)
            and isinstance(table.get("rows"), list)):
        raise InputError("'data' must be an array of rows or {columns, rows}", Span(name, line))
    names = [c.get("name") if isinstance(c, dict) else None for c in table["columns"]]
    for values in table["rows"]:
        if not isinstance(values, list) or len(values) != len(names):
            raise InputError("a table row does not match its columns", Span(name, line))
        yield dict(zip(names, values, strict=True)), line


def _row_problem(value: Any) -> str | None:
    """Why a decoded row cannot be used, or None."""
    if not isinstance(value, dict):
        return f"a row must be a JSON object, found {type(value).__name__}"
    if not isinstance(value.get("id"), str) or not value["id"].startswith("/"):
        return "a row needs an 'id' (an ARM resource id starting with '/')"
    return None


def _checked(pairs: Iterable[tuple[Any, int]], name: str, inp: Input) -> Iterator[Row]:
    """The usable rows of ``pairs``; each other row is an input error of its own."""
    for value, line in pairs:
        problem = _row_problem(value)
        if problem is None:
            yield Row(value, line)
        else:
            inp.problems.append(InputProblem(Span(name, line, 1), problem, Unit.ROW))


_ID_PREFIXES = ('{"id": "', '{"id":"')


def _ndjson(handle: IO[str], name: str, first: str | None, lineno: int, inp: Input) -> Iterator[Row]:
    """NDJSON rows; ``first`` is the already-read line ``lineno + 1`` (None if consumed)."""
    texts = itertools.chain([first] if first is not None else [], handle)
    skip = inp.skip
    for text in texts:
        lineno += 1
        if skip is not None and text.startswith(_ID_PREFIXES):
            start = text.index('"', 6) + 1
            end = text.find('"', start)
            rid = text[start:end]
            # An id with an escape is left to the parser; a line that is not JSON is too.
            if end > 0 and "\\" not in rid and rid.startswith("/") and text.rstrip().endswith("}"):
                rtype = skip(rid)
                if rtype is not None:
                    yield Row({"id": rid, "type": rtype}, lineno, True)
                    continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            col = min(exc.pos, len(text.rstrip("\r\n"))) + 1
            raise InputError(f"invalid JSON: {exc.msg}", Span(name, lineno, col)) from None
        if isinstance(value, dict) and HEADER_KEY in value and "id" not in value:
            # A snapshot's closing line: what the collection could not do.
            if isinstance(value[HEADER_KEY], dict):
                inp.header.update(value[HEADER_KEY])
            continue
        problem = _row_problem(value)
        if problem is None:
            yield Row(value, lineno)
        else:
            inp.problems.append(InputProblem(Span(name, lineno, 1), problem, Unit.ROW))


def _document(handle: IO[str], name: str, first: str, lineno: int, inp: Input) -> Iterator[Row]:
    """A (possibly pretty-printed) JSON array or ``{"data": [...]}`` document, streamed."""
    stream = JsonStream(handle, name)
    stream.buf = first
    stream.counted_lines = lineno
    stripped = first.lstrip()
    if stripped.startswith("["):
        pairs = stream.array()
    elif stripped.startswith("{"):
        pairs = stream.object_rows()
    else:
        raise stream.error("not JSON: expected an array, an object or NDJSON rows", 0)
    yield from _checked(pairs, name, inp)
    if stripped.startswith("[") and stream.skip_ws():
        raise stream.error("invalid JSON: extra data after the array", stream.pos)


def _guarded(rows: Iterator[Row], name: str) -> Iterator[Row]:
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", Span(name)) from None


def read_input(handle: IO[str], name: str) -> Input:
    """Detect the shape from the first line (read now, so a snapshot header is known before
    any row) and return the input with its rows to stream."""
    header: dict[str, Any] = {}
    lineno = 0
    try:
        first = handle.readline()
        while first and not first.strip():
            lineno += 1
            first = handle.readline()
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", Span(name)) from None
    stripped = first.strip()
    head: Any = None
    if stripped.startswith("{"):
        try:
            head = json.loads(stripped)
        except json.JSONDecodeError:
            head = None  # a pretty-printed document: streamed below
    inp = Input(name, header, iter(()))
    rows: Iterator[Row]
    if not stripped:
        rows = iter(())
    elif isinstance(head, dict) and HEADER_KEY in head:
        if not isinstance(head[HEADER_KEY], dict):
            raise InputError(f"'{HEADER_KEY}' must be an object", Span(name, lineno + 1, 1))
        header.update(head[HEADER_KEY])
        rows = _ndjson(handle, name, None, lineno + 1, inp)
    elif isinstance(head, dict) and "data" in head and "id" not in head:
        data = head["data"]
        pairs = ((v, lineno + 1) for v in data) if isinstance(data, list) else _table_rows(data, name, 1)
        rows = _checked(pairs, name, inp)
    elif head is not None:
        rows = _ndjson(handle, name, first, lineno, inp)
    else:
        rows = _document(handle, name, first, lineno + 1, inp)
    inp.rows = _guarded(rows, name)
    return inp


def open_input(path: str, display: str | None = None) -> Input:
    """Open an export for streaming; ``-`` reads standard input. A stream that content
    detection already read from is given back whole, never opened twice (sources/files.py);
    the text is decoded as its first bytes say. The file is closed when its rows are
    exhausted. ``display`` is the name messages and findings use (default: path)."""
    name = display or ("<stdin>" if path == "-" else path)
    handle = files.open_text(path, name)
    try:
        inp = read_input(handle, name)
    except BaseException:
        handle.close()
        raise

    def closing(rows: Iterator[Row]) -> Iterator[Row]:
        with handle:
            yield from rows

    inp.rows = closing(inp.rows)
    return inp
