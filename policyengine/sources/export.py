"""Read exports as a stream of rows, each with its line number.

Accepted shapes, detected from the content rather than the file name:

* the JSON of ``az graph query`` or of the Resource Graph REST API: an object whose ``data``
  is the array of rows (or, with ``resultFormat: table``, ``{columns, rows}``);
* an ARM list response, ``{"value": [...], "nextLink": ...}``;
* a plain JSON array of rows (``az resource list``, ``az postgres flexible-server list`` and
  ``… parameter list``, a PSRule / ``Get-AzResource`` export);
* one resource object with an ``id`` (``az resource show``, ``az postgres flexible-server show``);
* NDJSON, one row per line; the first line may be a policyengine snapshot header.

Each row is then brought to the ARM shape (:mod:`policyengine.sources.shapes`). JSON is decoded
strictly (:mod:`policyengine.sources.strictjson`) and documents are streamed element by element
(:mod:`policyengine.sources.jsonstream`), so a file of 10^5 servers never sits whole in memory.
A bad row is an input error of its own and reading goes on; an error that ends the file is
raised from ``rows`` (docs/architecture.md, "Input errors").
"""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

from policyengine.errors import InputError, Span
from policyengine.sources import files
from policyengine.sources.jsonpos import loads as positioned
from policyengine.sources.jsonpos import span_at
from policyengine.sources.jsonstream import MAX_ROW, STREAMED, JsonStream
from policyengine.sources.progress import ProgressLine, progress_line
from policyengine.sources.shapes import NESTED, ChildLine, plain, rows_of
from policyengine.sources.strictjson import Refused, loads, row
from policyengine.status import InputProblem, Unit

__all__ = ["HEADER_KEY", "MAX_ROW", "Input", "JsonStream", "Row", "open_input", "read_input"]

#: The first NDJSON line of a snapshot written by policyengine carries this key.
HEADER_KEY = "$policyengine"
#: A first line longer than this is no row but a whole one-line document: it is streamed
#: element by element rather than decoded at once.
HEAD_MAX = 1 << 20
#: The members of a JSON object input whose array holds the rows: ``data`` (Resource Graph),
#: ``value`` (an ARM list response).
ROW_ARRAYS = ("data", "value")


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
    #: What the reader noticed about the input as a whole (``file:line: text`` each): a
    #: listing that says it is partial, an empty estate.
    notes: list[str] = field(default_factory=list)

    def note(self, line: int, text: str) -> None:
        self.notes.append(f"{Span(self.name, line).prefix()}: {text}")


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


def _listing(members: dict[str, tuple[Any, int]], streamed: str | None, inp: Input,
             line: int) -> Iterator[tuple[Any, int]]:
    """The rows of a decoded JSON object input (those of an array ``streamed`` have already
    come): ``data`` (``az graph query``), ``value`` (an ARM list) or the object itself, a
    resource (``az … show``). Says in a note when the object says it is not the whole listing."""
    values = {key: value for key, (value, _) in members.items()}
    if _is_resource(values):
        if streamed is not None:
            raise InputError(f"an object with an id and a '{streamed}' array is neither one resource "
                             "nor a listing", Span(inp.name, line, 1))
        yield values, line
        return
    key = streamed or next((k for k in ROW_ARRAYS if k in members), None)
    if key is None:
        raise InputError("a JSON object input must be the output of `az graph query` "
                         "({\"data\": [...]}), an ARM list ({\"value\": [...]}) or one resource "
                         "with an 'id'", Span(inp.name, line, 1))
    if streamed is None:
        rows, at = members[key]
        if key == "data" and not isinstance(rows, list):
            yield from _table_rows(rows, inp.name, at)
        elif not isinstance(rows, list):
            raise InputError(f"'{key}' must be an array of rows", Span(inp.name, at))
        else:
            yield from ((row, at) for row in rows)
    for link in ("nextLink", "@odata.nextLink", "skipToken", "$skipToken", "skip_token"):
        if values.get(link):
            _, at = members[link]
            inp.note(at, f"'{link}' is set: the listing goes on beyond this file, and resources in its "
                         "further pages are not judged (the link cannot be followed from a file)")
            break


def _is_resource(obj: Mapping[str, Any]) -> bool:
    return "id" in obj or "ResourceId" in obj or "Id" in obj


def _checked(pairs: Iterable[tuple[Any, int]], inp: Input,
             text: Callable[[], str | None] | None = None) -> Iterator[Row]:
    """The usable rows of ``pairs``; each other row is an input error of its own. ``text``
    gives the text of the row just decoded, to locate its nested children."""
    for value, line in pairs:
        if plain(value):
            yield Row(value, line)
        elif isinstance(value, InputProblem):
            inp.problems.append(value)
        else:
            yield from _shaped(value, line, inp, text)


def _shaped(value: Any, line: int, inp: Input, text: Callable[[], str | None] | None) -> Iterator[Row]:
    """The rows one decoded value holds (see :mod:`policyengine.sources.shapes`). ``text`` gives
    its text, asked for only if it has nested children (whose lines it tells)."""
    child_line = _child_lines(text, line) if text is not None else None
    for item in rows_of(value, line, inp.name, child_line):
        if isinstance(item, InputProblem):
            inp.problems.append(item)
        else:
            yield Row(*item)


def _child_lines(text: Callable[[], str | None], line: int) -> ChildLine:
    """Where each child nested under ``resources`` in the row whose text ``text`` gives (at
    ``line``) starts, by its path of indices; the row's own line where that cannot be told.
    The row is read again, with positions, only when a child's line is first asked for."""
    parsed: list[Any] = []

    def at(path: tuple[int, ...]) -> int:
        if not parsed:
            source = text()
            try:
                parsed.append(positioned(source, "") if source is not None else None)
            except InputError:
                parsed.append(None)
        node, span = parsed[0], None
        for index in path:
            arrays = [node[k] for k in NESTED if isinstance(node, dict) and isinstance(node.get(k), list)]
            offset = index
            for array in arrays:
                if offset < len(array):
                    span, node = span_at(array, offset), array[offset]
                    break
                offset -= len(array)
            else:
                return line
        return line + span.line - 1 if span is not None else line

    return at


def _given(text: str) -> Callable[[], str | None]:
    return lambda: text


_ID_PREFIXES = ('{"id": "', '{"id":"')
_ROW_ENDS = ("}\n", "}", "}\r\n")


def _ndjson(handle: IO[str], name: str, first: str | None, lineno: int, inp: Input) -> Iterator[Row]:
    """NDJSON rows; ``first`` is the already-read line ``lineno + 1`` (None if consumed). A
    line that is not JSON, or refused, is an error of that row only."""
    texts = itertools.chain([first] if first is not None else [], handle)
    skip = inp.skip
    for text in texts:
        lineno += 1
        if skip is not None and text.startswith(_ID_PREFIXES):
            start = text.index('"', 6) + 1
            end = text.find('"', start)
            rid = text[start:end]
            # An id with an escape is left to the parser; a line that is not JSON is too.
            if end > 0 and "\\" not in rid and rid.startswith("/") and text.endswith(_ROW_ENDS):
                rtype = skip(rid)
                if rtype is not None:
                    yield Row({"id": rid, "type": rtype}, lineno, True)
                    continue
        if not text.strip():
            continue
        try:
            value = row(text)
        except json.JSONDecodeError as exc:
            col = min(exc.pos, len(text.rstrip("\r\n"))) + 1
            inp.problems.append(InputProblem(Span(name, lineno, col), f"invalid JSON: {exc.msg}", Unit.ROW))
            continue
        except Refused as refused:
            where = Span(name, lineno, refused.offset + 1)
            inp.problems.append(InputProblem(where, refused.message, Unit.ROW))
            continue
        if plain(value):
            yield Row(value, lineno)
        elif isinstance(value, dict) and HEADER_KEY in value and "id" not in value:
            # A snapshot's closing line: what the collection could not do.
            if isinstance(value[HEADER_KEY], dict):
                inp.header.update(value[HEADER_KEY])
        else:
            yield from _shaped(value, lineno, inp, _given(text))


def _document(handle: IO[str], name: str, first: str, lineno: int, inp: Input) -> Iterator[Row]:
    """A (possibly pretty-printed) JSON array or object document, streamed."""
    stream = JsonStream(handle, name, first, lineno)
    stripped = first.lstrip()
    if stripped.startswith("["):
        yield from _checked(stream.array(), inp, stream.last_text)
        if stream.skip_ws():
            raise stream.error("invalid JSON: extra data after the array", stream.pos)
    elif stripped.startswith("{"):
        yield from _checked(_object_rows(stream, inp), inp, stream.last_text)
    else:
        raise stream.error("not JSON: expected an array, an object or NDJSON rows", 0)


def _object_rows(stream: JsonStream, inp: Input) -> Iterator[tuple[Any, int]]:
    """The rows of a JSON object document: the elements of its ``data`` or ``value`` array as
    they come, or the object itself if it is one resource."""
    stream.skip_ws()
    start, dropped = stream.pos, stream.dropped
    line = stream.line_at(start)
    members: dict[str, tuple[Any, int]] = {}
    streamed = None
    for key, value, at in stream.members(ROW_ARRAYS):
        if key is None:
            yield value, at
        elif value is STREAMED:
            streamed = key
            members[key] = ([], at)
        else:
            members[key] = (value, at)
    # The object itself may be the row (one resource): its text, if still held, locates the
    # children nested in it.
    start -= stream.dropped - dropped
    stream.last = (start, stream.pos) if start >= 0 and _is_resource(members) else None
    yield from _listing(members, streamed, inp, line)


def _guarded(rows: Iterator[Row], inp: Input) -> Iterator[Row]:
    """The rows, with a file that is not UTF-8 text an error and an empty estate a note."""
    try:
        first = next(rows, None)
        if first is None:
            if not inp.problems:
                inp.notes.append(f"{inp.name}: no rows: the input lists no resources (an empty estate)")
            return
        yield first
        yield from rows  # not a loop here: every row of the scan passes through
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", Span(inp.name)) from None


def read_input(handle: IO[str], name: str) -> Input:
    """Detect the shape from the first line (read now, so a snapshot header is known before
    any row) and return the input with its rows to stream. Empty input is an error: a file
    with no rows at all is more likely a failed export than an empty estate."""
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
    if not stripped:
        raise InputError("empty input: no rows (an export of an empty estate is [] or {\"data\": []})",
                         Span(name, 1, 1))
    inp = Input(name, header, iter(()))
    head: Any = None
    if stripped.startswith("{") and len(stripped) <= HEAD_MAX:
        try:
            head = loads(stripped)
        except json.JSONDecodeError:
            head = None  # a pretty-printed document: streamed below
        except Refused:
            head = _REFUSED
    rows: Iterator[Row]
    if head is _REFUSED:
        # One bad NDJSON row, or a one-line document holding one: its structure tells which.
        rows = (_document(handle, name, first, lineno + 1, inp) if _one_line_listing(stripped)
                else _ndjson(handle, name, first, lineno, inp))
    elif isinstance(head, dict) and HEADER_KEY in head and "id" not in head:
        if not isinstance(head[HEADER_KEY], dict):
            raise InputError(f"'{HEADER_KEY}' must be an object", Span(name, lineno + 1, 1))
        header.update(head[HEADER_KEY])
        rows = _ndjson(handle, name, None, lineno + 1, inp)
    elif isinstance(head, dict) and not _is_resource(head) and any(k in head for k in ROW_ARRAYS):
        members = {key: (value, lineno + 1) for key, value in head.items()}
        rows = _checked(_listing(members, None, inp, lineno + 1), inp)
    elif head is not None:
        rows = _ndjson(handle, name, first, lineno, inp)
    else:
        rows = _document(handle, name, first, lineno + 1, inp)
    inp.rows = _guarded(rows, inp)
    return inp


_REFUSED = object()


def _one_line_listing(text: str) -> bool:
    """Whether a line the strict decoder refused is a whole ``{"data": [...]}`` document (read
    leniently here only to see its structure) rather than one row."""
    try:
        loose = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return (isinstance(loose, dict) and not _is_resource(loose)
            and any(isinstance(loose.get(k), list) for k in ROW_ARRAYS))


def open_input(path: str, display: str | None = None, *, progress: bool = False) -> Input:
    """Open an export for streaming; ``-`` reads standard input. A stream that content
    detection already read from is given back whole, never opened twice (sources/files.py);
    the text is decoded as its first bytes say. The file is closed when its rows are
    exhausted. ``display`` is the name messages and findings use (default: path). With
    ``progress``, a file larger than :data:`PROGRESS_SIZE` shows its progress on standard
    error if that is a terminal."""
    name = display or ("<stdin>" if path == "-" else path)
    handle = files.open_text(path, name)
    try:
        inp = read_input(handle, name)
    except BaseException:
        handle.close()
        raise
    meter = _progress_line(path) if progress else None
    if meter is not None:
        inp.rows = _counted(inp.rows, *meter, handle, name)
        return inp

    def closing(rows: Iterator[Row]) -> Iterator[Row]:
        with handle:
            yield from rows

    inp.rows = closing(inp.rows)
    return inp


#: A file at least this large shows its progress: a smaller one is read in about a second.
PROGRESS_SIZE = 8 << 20
#: Rows taken at a time while progress is shown (see :func:`_counted`).
PROGRESS_STEP = 64


def _progress_line(path: str) -> tuple[ProgressLine, int] | None:
    """A progress line, and the file's size, for a regular file of at least
    :data:`PROGRESS_SIZE` bytes if standard error is a terminal (a pipe has no size to
    measure against)."""
    try:
        info = os.stat(path) if path != "-" else None
    except OSError:
        return None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_size < PROGRESS_SIZE:
        return None
    line = progress_line()
    return None if line is None else (line, info.st_size)


def _counted(rows: Iterator[Row], line: ProgressLine, size: int, handle: IO[str], name: str) -> Iterator[Row]:
    """The rows, with the bytes read of ``size`` and the rows so far redrawn on ``line`` (at
    most every :data:`~policyengine.sources.progress.INTERVAL` seconds); the file is closed
    and the line erased when the rows end or reading fails.

    Rows are taken :data:`PROGRESS_STEP` at a time, so that counting them and looking at the
    clock cost nothing a row: measured over rows already in memory, a generator step that
    counted each row cost twice the plain ``closing`` step it replaces (about 50 ns a row more
    than a bare loop, against 25), and this one no more than that step. (Few rows at a time:
    rows held back survive young-generation collections.) A failure while a step is taken
    comes after the rows before it: ``list.extend`` keeps what it took before the exception,
    and they are given first."""
    total = f"{size / (1 << 20):,.1f}"
    count = 0
    with handle:
        try:
            while True:
                step: list[Row] = []
                try:
                    step.extend(itertools.islice(rows, PROGRESS_STEP))
                except Exception:  # a bad file: what came before it is judged
                    yield from step
                    raise
                if not step:
                    return
                count += len(step)
                if line.due():
                    done = files.bytes_read(handle) / (1 << 20)
                    line.show(f"{name}: {done:,.1f} of {total} MiB read, {count:,} rows")
                yield from step
        finally:
            line.close()
