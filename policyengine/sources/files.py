"""Reading input files: each is opened once, its encoding told by its first bytes, and what
content detection read is given to the reader again.

Standard input, pipes and FIFOs (``scan <(cat export.ndjson)``) can be read only once: the
bytes that detection (:func:`peek`) read are kept, and the stream is *held* under its path
until the reader asks for it (:func:`open_source`), which then gets those bytes followed by
the rest of the stream. A regular file is closed after detection and opened again by its
reader: keeping every file of a directory walk open would run out of descriptors.

Text is UTF-8 (with or without a byte-order mark) or UTF-16/32 with a byte-order mark, or
UTF-16/32 without one, told by where the NUL bytes are (JSON text starts with an ASCII
character, RFC 4627 §3). A byte that cannot be decoded is an input error at its line and
column (docs/architecture.md, "Input errors").
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

from policyengine.errors import InputError, Span

#: What detection reads first; it reads on (doubling) while the content does not tell.
FIRST_READ = 16 * 1024
#: The readers' buffer: one decode check per megabyte.
BUFFER = 1 << 20
#: An open binary input: a file (unbuffered) or a buffered stream.
Binary: TypeAlias = io.RawIOBase | io.BufferedIOBase


@dataclass(frozen=True)
class Codec:
    """A text encoding: the Python codec, the length of the byte-order mark to skip, and the
    name messages use."""

    name: str
    bom: int
    label: str


UTF8 = Codec("utf-8", 0, "UTF-8")
_BOMS = (  # UTF-32LE first: its mark starts with UTF-16LE's
    (codecs.BOM_UTF8, Codec("utf-8", 3, "UTF-8")),
    (codecs.BOM_UTF32_LE, Codec("utf-32-le", 4, "UTF-32LE")),
    (codecs.BOM_UTF32_BE, Codec("utf-32-be", 4, "UTF-32BE")),
    (codecs.BOM_UTF16_LE, Codec("utf-16-le", 2, "UTF-16LE")),
    (codecs.BOM_UTF16_BE, Codec("utf-16-be", 2, "UTF-16BE")),
)


def detect(head: bytes) -> Codec:
    """The encoding of a text that starts with ``head`` (its first four bytes are enough)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    if len(head) >= 4:
        nul = tuple(b == 0 for b in head[:4])
        if nul == (True, True, True, False):
            return Codec("utf-32-be", 0, "UTF-32BE")
        if nul == (False, True, True, True):
            return Codec("utf-32-le", 0, "UTF-32LE")
        if nul == (True, False, True, False):
            return Codec("utf-16-be", 0, "UTF-16BE")
        if nul == (False, True, False, True):
            return Codec("utf-16-le", 0, "UTF-16LE")
    elif len(head) == 2 and head[0] != head[1] and 0 in head:  # one UTF-16 character
        return Codec("utf-16-be", 0, "UTF-16BE") if head[0] == 0 else Codec("utf-16-le", 0, "UTF-16LE")
    return UTF8


def decode(data: bytes, name: str) -> str:
    """A whole file's bytes as text, in the encoding its first bytes tell."""
    codec = detect(data[:4])
    body = memoryview(data)[codec.bom:]
    try:
        return str(body, codec.name)
    except UnicodeDecodeError as exc:
        raise _located(exc, "", 1, codec, name) from None


def _located(exc: UnicodeDecodeError, before: str, line: int, codec: Codec, name: str) -> InputError:
    """The error for a byte that cannot be decoded: ``before`` is the text decoded since the
    start of line ``line``, and ``exc.object[:exc.start]`` the valid bytes after it."""
    text = before + bytes(exc.object[:exc.start]).decode(codec.name, errors="replace")
    line += text.count("\n")
    col = len(text) - text.rfind("\n")
    bad = bytes(exc.object[exc.start:exc.start + 4]).hex(" ")
    return InputError(f"not {codec.label} text: cannot decode the bytes {bad} ({exc.reason})",
                      Span(name, line, col))


# -- streams read once -------------------------------------------------------------------------

class Replay(io.RawIOBase):
    """A binary stream that gives ``prefix`` and then the rest of ``handle``."""

    def __init__(self, prefix: bytes, handle: Binary, *, owned: bool = True) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._handle = handle
        self._owned = owned

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        if isinstance(self._handle, io.BufferedIOBase):
            # One read at most: a buffered readinto() waits to fill the buffer, and a pipe
            # written slowly would hold every row back until a megabyte came.
            return self._handle.readinto1(buffer)
        return self._handle.readinto(buffer) or 0

    def close(self) -> None:
        if not self.closed and self._owned:
            self._handle.close()
        super().close()


@dataclass
class _Held:
    stream: Replay
    #: What the path named when the stream was held: a later scan in the same process (a test,
    #: ``explain`` after ``scan``) must not be given a stale stream.
    identity: object


_held: dict[str, _Held] = {}


def _identity(path: str) -> object:
    if path == "-":
        return sys.stdin
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def open_source(path: str) -> Binary:
    """The bytes of the input at ``path`` (``-``: standard input) from the first: a stream that
    detection read is given back whole. Raises :class:`OSError`."""
    held = _held.pop(path, None)
    if held is not None and held.identity == _identity(path):
        return held.stream
    if held is not None:
        held.stream.close()
    if path == "-":
        return _stdin()
    return open(path, "rb", buffering=0)


def _stdin() -> Binary:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # standard input replaced by a text stream (tests, embedding)
        buffer = io.BytesIO(sys.stdin.read().encode("utf-8"))
    return Replay(b"", buffer, owned=False)


def is_stream(handle: Binary) -> bool:
    """Whether ``handle`` can be read only once (anything but a regular file)."""
    try:
        return not stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
    except (OSError, ValueError):  # no descriptor: an in-memory stand-in for stdin
        return True


class Peek:
    """An input opened for content detection: the bytes read so far, the encoding they tell,
    and their text (undecodable bytes replaced: the reader reports them, located)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle = open_source(path)
        self.data = bytearray()
        self.text = ""
        self.eof = False
        self.codec = UTF8
        self._decoder: codecs.IncrementalDecoder | None = None

    def more(self, size: int = FIRST_READ) -> None:
        """Read once more (at most ``size`` bytes: a pipe gives what it has)."""
        handle = self.handle
        chunk = (handle.read1(size) if isinstance(handle, io.BufferedIOBase) else handle.read(size)) or b""
        if not chunk:
            self.eof = True
        self.data += chunk
        if self._decoder is None:
            if len(self.data) < 4 and not self.eof:
                return  # too few bytes to tell the encoding
            self.codec = detect(bytes(self.data[:4]))
            self._decoder = codecs.getincrementaldecoder(self.codec.name)(errors="replace")
            chunk = bytes(self.data[self.codec.bom:])
        self.text += self._decoder.decode(chunk, final=self.eof)

    def release(self) -> None:
        """Done detecting: a stream is held for its reader; a regular file is closed."""
        if is_stream(self.handle):
            _held[self.path] = _Held(Replay(bytes(self.data), self.handle), _identity(self.path))
        else:
            self.handle.close()

    def close(self) -> None:
        self.handle.close()


# -- text for the readers ----------------------------------------------------------------------

class _Checked(io.RawIOBase):
    """The bytes of ``source``, checked as they pass: the first byte that cannot be decoded
    raises an :class:`InputError` at its line and column (the text layer above would only say
    that some byte somewhere was bad)."""

    def __init__(self, source: Replay, codec: Codec, name: str) -> None:
        super().__init__()
        self._source = source
        self._codec = codec
        self._name = name
        self._decoder = codecs.getincrementaldecoder(codec.name)()
        self._line = 1
        self._tail = ""  # the text decoded since the last newline
        self._failed: InputError | None = None
        #: Bytes passed on so far (a large export's progress: :func:`bytes_read`).
        self.passed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._failed is not None:
            raise self._failed
        count = self._source.readinto(buffer)
        try:
            text = self._decoder.decode(memoryview(buffer)[:count], final=not count)
        except UnicodeDecodeError as exc:
            self._failed = _located(exc, self._tail, self._line, self._codec, self._name)
            # The bytes before the bad one are good: give them first, so that the rows they
            # hold are still read, and fail on the next read.
            good = exc.start - (len(exc.object) - count)
            if good > 0:
                return good
            raise self._failed from None
        self.passed += count
        newlines = text.count("\n")
        if newlines:
            self._line += newlines
            self._tail = text[text.rfind("\n") + 1:]
        else:
            self._tail += text
        return count

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def open_text(path: str, name: str) -> IO[str]:
    """The input at ``path`` as text in its own encoding (newlines as ``\\n``), for a reader
    that streams it; ``name`` is what errors say. Raises :class:`InputError`."""
    try:
        source = open_source(path)
        head = source.read(4) or b""
        while 0 < len(head) < 4 and (more := source.read(4 - len(head))):
            head += more
    except OSError as exc:
        raise InputError(f"cannot read input: {exc.strerror or exc}", Span(name)) from None
    codec = detect(head)
    raw = _Checked(Replay(head[codec.bom:], source), codec, name)
    text = io.TextIOWrapper(io.BufferedReader(raw, BUFFER), encoding=codec.name)
    # NDJSON is read line by line through it: 64 KiB decode steps were the fastest measured
    # (8 KiB, io's default, costs half as much again; 1 MiB three times as much).
    text._CHUNK_SIZE = 64 * 1024  # type: ignore[attr-defined]
    return text


def bytes_read(handle: IO[str]) -> int:
    """How many bytes of its input a text handle from :func:`open_text` has read (ahead of
    what its reader parsed by a buffer at most); 0 for any other handle."""
    raw = getattr(getattr(handle, "buffer", None), "raw", None)
    return raw.passed if isinstance(raw, _Checked) else 0


def read_text(path: str, name: str) -> str:
    """The whole input at ``path`` as text, for a reader that needs all of it (a template, a
    plan). Raises :class:`InputError`."""
    try:
        with open_source(path) as source:
            data = source.read()
    except OSError as exc:
        raise InputError(f"cannot read input: {exc.strerror or exc}", Span(name)) from None
    return decode(data, name)


def exists(path: str) -> bool:
    """Whether ``path`` names something to read (``-`` always does)."""
    return path == "-" or Path(path).exists()
