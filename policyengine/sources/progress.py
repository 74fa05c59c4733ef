"""One line of progress on standard error, redrawn in place while a long read runs (a live
scan, a large export), and erased before the report.

Progress is for a person watching: it is drawn only when standard error is a terminal, never
into a pipe or a CI log, and never wider than the terminal (a line that wraps cannot be redrawn
with a carriage return). The line is erased when the work ends or fails, so what follows (the
report, an error) starts on a clean line.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import unicodedata
import weakref
from typing import IO

#: Back to the start of the line and erase it (ECMA-48 CR and EL).
ERASE = "\r\x1b[K"
#: The shortest time between two redraws: a terminal redrawn more often flickers, and
#: drawing costs the work it reports on.
INTERVAL = 0.1

#: Every line drawn and not yet erased, so that one who is about to print (an error, Ctrl-C)
#: can erase it first (:func:`clear_all`).
_lines: weakref.WeakSet[ProgressLine] = weakref.WeakSet()


class ProgressLine:
    """A line on ``stream`` (a terminal). :meth:`show` redraws it at most every
    :data:`INTERVAL` seconds unless asked to draw ``now``; :meth:`close` erases it for good.
    Safe to call from several threads (a live scan's ARM reads draw from theirs)."""

    def __init__(self, stream: IO[str], interval: float = INTERVAL) -> None:
        from policyengine.reports.common import terminal

        self._stream = stream
        self._interval = interval
        self._safe = terminal
        self._lock = threading.Lock()
        self._next = 0.0
        self._drawn = False
        self._closed = False

    def due(self) -> bool:
        """Whether :meth:`show` would draw now: a caller can skip building its text if not."""
        return time.monotonic() >= self._next

    def show(self, text: str, *, now: bool = False) -> None:
        """Draw ``text`` (one line, clipped to the terminal's width) in place of the last."""
        moment = time.monotonic()
        with self._lock:
            if self._closed or (not now and moment < self._next):
                return
            self._next = moment + self._interval
            # The text may hold names from the input (a file name): no escape sequence or line
            # break of theirs reaches the terminal.
            line = clip(self._safe(text, one_line=True), width(self._stream) - 1)
            self._stream.write(ERASE + line)
            self._stream.flush()
            if not self._drawn:
                self._drawn = True
                _lines.add(self)

    def close(self) -> None:
        """Erase the line, if one is drawn, and draw no more: what comes next (the report, an
        error) has the terminal, even if threads of the work still report as they end."""
        with self._lock:
            self._closed = True
            if not self._drawn:
                return
            self._drawn = False
            _lines.discard(self)
            self._stream.write(ERASE)
            self._stream.flush()


def progress_line(enabled: bool = True, stream: IO[str] | None = None) -> ProgressLine | None:
    """A progress line on ``stream`` (default: standard error) if ``enabled`` and the stream
    is a terminal; otherwise none, and the caller draws nothing."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or not _is_terminal(stream):
        return None
    return ProgressLine(stream)


def no_progress(args: object) -> bool:
    """Whether the command line asked for no progress: ``--no-progress``, or ``--quiet``
    (a summary only) where the command has it."""
    return bool(getattr(args, "quiet", False) or getattr(args, "no_progress", False))


def clear_all() -> None:
    """Erase every progress line still drawn: for whoever prints next on the terminal (an
    error message, "interrupted") while a read is cut short."""
    for line in list(_lines):
        line.close()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a stand-in without isatty, or a closed stream
        return False


def width(stream: IO[str]) -> int:
    """The terminal's width in columns: ``COLUMNS`` if set (the convention
    ``shutil.get_terminal_size`` follows), else the width of the terminal ``stream`` is on
    (standard output may be redirected to a report file), else shutil's answer."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns or shutil.get_terminal_size().columns
    except (OSError, ValueError, AttributeError):
        return shutil.get_terminal_size().columns


def clip(text: str, columns: int) -> str:
    """``text`` cut to at most ``columns`` terminal cells (wide East Asian characters take two,
    combining marks none), ending with an ellipsis when cut."""
    if columns <= 0:
        return ""
    if text.isascii():
        return text if len(text) <= columns else text[:columns - 1] + "…"
    cells = [_cells(ch) for ch in text]
    if sum(cells) <= columns:
        return text
    used = end = 0
    while used + cells[end] <= columns - 1:  # room is left for the ellipsis
        used += cells[end]
        end += 1
    return text[:end] + "…"


def _cells(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
