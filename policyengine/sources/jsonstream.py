"""An incremental reader of one JSON document: the elements of its row array one by one, each
with its line, so a file of 10^5 servers never sits whole in memory.

Values are decoded strictly (:mod:`policyengine.sources.strictjson`). A value that is JSON but
refused (a duplicate key, ``NaN``, an integer too long to convert, nesting too deep) comes back
as the :class:`~policyengine.status.InputProblem` saying where and why, and the stream reads on
after it: one bad row takes out that row only (docs/architecture.md, "Input errors").
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import IO, Any, Final

from policyengine.errors import InputError, Span
from policyengine.sources import strictjson
from policyengine.status import InputProblem, Unit

CHUNK = 1 << 20
#: A single row larger than this is not waited for: the text is reported as it stands.
MAX_ROW = 64 << 20
#: What :meth:`JsonStream.members` gives as the value of an array it streamed.
STREAMED: Final = object()


class JsonStream:
    """Incremental reader of one JSON document, yielding the elements of its row array."""

    def __init__(self, handle: IO[str], name: str, text: str = "", line: int = 1) -> None:
        self.handle = handle
        self.name = name
        self.buf = text
        self.pos = 0
        self.eof = False
        self.counted_to = 0
        self.counted_lines = line
        #: Where the last value :meth:`value` decoded lies in ``buf`` (None: not to be asked).
        self.last: tuple[int, int] | None = None
        #: How much consumed text :meth:`fill` has dropped from the front of ``buf`` in all.
        self.dropped = 0

    def line_at(self, pos: int) -> int:
        if pos < self.counted_to:
            return self.counted_lines - self.buf.count("\n", pos, self.counted_to)
        self.counted_lines += self.buf.count("\n", self.counted_to, pos)
        self.counted_to = pos
        return self.counted_lines

    def span(self, pos: int) -> Span:
        line = self.line_at(pos)
        start = self.buf.rfind("\n", 0, pos) + 1
        return Span(self.name, line, pos - start + 1)

    def error(self, message: str, pos: int) -> InputError:
        return InputError(message, self.span(pos))

    def last_text(self) -> str | None:
        """The text of the value :meth:`value` returned last (valid until the stream reads on)."""
        return self.buf[self.last[0]:self.last[1]] if self.last is not None else None

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
            self.dropped += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
            self.last = None
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

    def _more(self, start: int) -> bool:
        """Read on, for a value cut by the chunk boundary (bounded by :data:`MAX_ROW`)."""
        return len(self.buf) - start < MAX_ROW and self.fill()

    def value(self) -> tuple[Any, int]:
        """The next value and the line it starts on; a refused value comes back as the
        :class:`InputProblem` (unit ROW) that says why, the stream past it."""
        self.skip_ws()
        start = self.pos
        while True:
            try:
                value, end = strictjson.decode(self.buf, start)
            except json.JSONDecodeError as exc:
                if self._more(start):
                    start = self.pos
                    continue
                raise self.error(f"invalid JSON: {exc.msg}", min(exc.pos, len(self.buf))) from None
            except strictjson.Refused as refused:
                if refused.end < 0:
                    if self._more(start):
                        start = self.pos
                        continue
                    raise self.error(refused.message, refused.offset) from None
                line = self.line_at(start)
                problem = InputProblem(self.span(refused.offset), refused.message, Unit.ROW)
                self.pos = refused.end
                self.last = None
                return problem, line
            self.last = (start, end)
            self.pos = end
            return value, self.line_at(start)

    def array(self) -> Iterator[tuple[Any, int]]:
        self.expect("[", "'['")
        if self.skip_ws() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            if self._closed("]", " between rows"):
                return

    def _closed(self, closer: str, where: str = "") -> bool:
        """After an element: True at the container's ``closer``, False at a comma (both read)."""
        nxt = self.skip_ws()
        self.pos += 1
        if nxt == closer:
            return True
        if nxt != ",":
            raise self.error(f"invalid JSON: expected ',' or '{closer}'{where}", self.pos - 1)
        return False

    def members(self, streamed: str | Collection[str]) -> Iterator[tuple[str | None, Any, int]]:
        """The members of a JSON object as ``(key, value, line)``; an array under a key in
        ``streamed`` comes element by element, as ``(None, element, line)``, then as
        ``(key, STREAMED, line)``. Other members are decoded whole; a key given twice, or a
        member refused, is an error of the file."""
        if isinstance(streamed, str):
            streamed = (streamed,)
        self.expect("{", "'{'")
        seen: set[str] = set()
        if self.skip_ws() == "}":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                at = self.pos
                key, _ = self.value()
                if not isinstance(key, str):
                    raise self.error("invalid JSON: expected a property name in double quotes", at)
                if key in seen:
                    raise self.error(f"duplicate key {key!r} in the document", at)
                seen.add(key)
                self.expect(":", "':'")
                if key in streamed and self.skip_ws() == "[":
                    line = self.line_at(self.pos)
                    for element, element_line in self.array():
                        yield None, element, element_line
                    yield key, STREAMED, line
                else:
                    value, line = self.value()
                    if isinstance(value, InputProblem):
                        raise InputError(value.message, value.span)
                    yield key, value, line
                if self._closed("}"):
                    break
        if self.skip_ws():
            raise self.error("invalid JSON: extra data after the document", self.pos)
