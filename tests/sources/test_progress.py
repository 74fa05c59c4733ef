"""Progress of a large export on a terminal: bytes read of the file's size and rows so far,
redrawn at most ten times a second on one line no wider than the terminal, erased when the rows
end or reading fails; nothing into a pipe, for a small file, or when not asked for."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from policyengine.errors import InputError
from policyengine.sources.export import PROGRESS_SIZE, PROGRESS_STEP, open_input
from policyengine.sources.progress import ERASE, ProgressLine, clip, progress_line

COLUMNS = 60
SERVER = "Microsoft.DBforPostgreSQL/flexibleServers"


class Terminal:
    """A pseudo-terminal ``COLUMNS`` wide: ``stream`` writes to it, ``written()`` is what
    reached it so far."""

    def __init__(self) -> None:
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
        self.stream: IO[str] = os.fdopen(slave, "w", encoding="utf-8")
        self._got = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._got.extend(chunk)

    def written(self) -> str:
        self.stream.flush()
        time.sleep(0.05)  # what was written reaches the reader
        return self._got.decode("utf-8")

    def close(self) -> None:
        self.stream.close()
        self._reader.join(2)
        os.close(self._master)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    """A terminal (the width its own: no COLUMNS)."""
    screen = Terminal()
    monkeypatch.delenv("COLUMNS", raising=False)
    yield screen
    screen.close()


def stderr_on(terminal: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard error on the terminal: set in the test itself, as pytest puts its own capture
    back in place between a fixture's setup and the test."""
    monkeypatch.setattr(sys, "stderr", terminal.stream)


def write_export(path: Path, size: int, tail: bytes = b"") -> int:
    """An NDJSON export of flexible servers of about ``size`` bytes; the number of rows."""
    pad = "x" * 900  # a tag value: rows of about a kilobyte, as real ones are
    count = 0
    with path.open("wb") as out:
        written = 0
        while written < size:
            count += 1
            rid = f"/subscriptions/s1/resourceGroups/rg/providers/{SERVER}/pg{count}"
            line = json.dumps({"id": rid, "name": f"pg{count}", "type": SERVER,
                               "tags": {"pad": pad}, "properties": {"version": "16"}}).encode() + b"\n"
            out.write(line)
            written += len(line)
        out.write(tail)
    return count


@pytest.fixture
def big(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "estate.ndjson"
    return path, write_export(path, PROGRESS_SIZE + (1 << 20))


DRAWN = re.compile(r"(?P<name>.+): (?P<done>[\d.,]+) of (?P<total>[\d.,]+) MiB read, (?P<rows>[\d,]+) rows")


def drawn(text: str) -> list[str]:
    return text.split(ERASE)[1:]


def test_a_large_export_shows_its_progress_and_erases_it(terminal: Terminal, big: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    stderr_on(terminal, monkeypatch)
    path, count = big
    started = time.monotonic()
    rows = list(open_input(str(path), "estate.ndjson", progress=True).rows)
    elapsed = time.monotonic() - started
    assert len(rows) == count
    text = terminal.written()
    lines = drawn(text)
    assert text.endswith(ERASE) and lines[-1] == ""  # erased at the end
    first = DRAWN.fullmatch(lines[0])
    assert first is not None, lines[0]
    assert first["name"] == "estate.ndjson" and first["total"] == "9.0"
    assert first["rows"] == str(PROGRESS_STEP)  # drawn at once, after the first rows
    shown = [DRAWN.fullmatch(line) for line in lines[:-1]]
    assert all(m is not None for m in shown), lines
    read = [float(m["done"]) for m in shown if m is not None]
    assert read == sorted(read) and read[-1] <= 9.0
    # At most ten times a second (and the first at once).
    assert len(shown) <= 2 + elapsed / 0.1


def test_the_line_fits_the_terminal(terminal: Terminal, big: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr_on(terminal, monkeypatch)
    path, _ = big
    deep = tmp_path / ("folder-" * 12)
    deep.mkdir()
    moved = path.rename(deep / path.name)
    list(open_input(str(moved), progress=True).rows)
    lines = drawn(terminal.written())[:-1]
    assert lines and all(len(line) <= COLUMNS - 1 for line in lines)
    assert lines[0].endswith("…") and lines[0].startswith(str(tmp_path)[:20])


def test_nothing_into_a_pipe(monkeypatch: pytest.MonkeyPatch, big: tuple[Path, int]) -> None:
    path, count = big
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        monkeypatch.setattr(sys, "stderr", pipe)
        assert progress_line() is None
        assert len(list(open_input(str(path), progress=True).rows)) == count
    with os.fdopen(read, "rb") as got:
        assert got.read() == b""


def test_nothing_for_a_small_file_or_when_not_asked(terminal: Terminal, big: tuple[Path, int],
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr_on(terminal, monkeypatch)
    small = tmp_path / "small.ndjson"
    write_export(small, PROGRESS_SIZE - (1 << 20))
    list(open_input(str(small), progress=True).rows)
    path, _ = big
    list(open_input(str(path)).rows)
    assert terminal.written() == ""


def test_a_file_that_fails_to_read_erases_its_line(terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr_on(terminal, monkeypatch)
    path = tmp_path / "broken.ndjson"
    count = write_export(path, PROGRESS_SIZE + (1 << 20), tail=b'{"id": "\xff"}\n')
    inp = open_input(str(path), progress=True)
    got = 0
    with pytest.raises(InputError, match="not UTF-8 text"):
        for _ in inp.rows:
            got += 1
    assert got == count  # every row before the bad byte still came
    text = terminal.written()
    assert len(drawn(text)) > 1 and text.endswith(ERASE)


def test_a_hostile_file_name_cannot_drive_the_terminal(terminal: Terminal, big: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    stderr_on(terminal, monkeypatch)
    path, _ = big
    list(open_input(str(path), "evil\x1b[2J\x1b]0;owned\x07\nname", progress=True).rows)
    text = terminal.written()
    assert text.count("\x1b") == text.count(ERASE)  # only the line's own erases
    assert drawn(text)[0].startswith("evil\\x1b[2J\\x1b]0;owned\\x07\\x0aname: ")


# -- the line itself ---------------------------------------------------------------------------

def test_redraws_are_limited_unless_asked_for_now(terminal: Terminal) -> None:
    line = ProgressLine(terminal.stream, interval=60.0)
    for step in range(100):
        line.show(f"step {step}")
    line.show("throttled", now=True)
    line.close()
    line.show("after the end", now=True)  # a thread that reports late draws nothing
    assert terminal.written() == f"{ERASE}step 0{ERASE}throttled{ERASE}"


def test_closing_a_line_never_drawn_writes_nothing(terminal: Terminal) -> None:
    ProgressLine(terminal.stream).close()
    assert terminal.written() == ""


def test_columns_wins_over_the_terminals_width(terminal: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    line = ProgressLine(terminal.stream)
    line.show("a" * 50)
    assert drawn(terminal.written()) == ["a" * 18 + "…"]


@pytest.mark.parametrize(("text", "columns", "expected"), [
    ("short", 10, "short"),
    ("exactly ten", 11, "exactly ten"),
    ("a longer line", 8, "a longe…"),
    ("日本語のファイル名", 9, "日本語の…"),  # wide characters take two cells
    ("e\u0301te\u0301 e\u0301te\u0301", 6, "e\u0301te\u0301 e\u0301…"),  # combining marks none
    ("anything", 0, ""),
])
def test_clip_counts_cells(text: str, columns: int, expected: str) -> None:
    assert clip(text, columns) == expected


def test_the_flags_that_turn_progress_off() -> None:
    """--no-progress, and --quiet where a command has it, mean no progress."""
    import argparse

    from policyengine.sources.progress import no_progress

    assert no_progress(argparse.Namespace(no_progress=True))
    assert no_progress(argparse.Namespace(quiet=True, no_progress=False))
    assert not no_progress(argparse.Namespace(no_progress=False))


def test_a_scan_on_a_terminal_erases_the_line_before_the_report(big: tuple[Path, int]) -> None:
    from tests.live.terminal import on_terminal

    path, _ = big
    screen = on_terminal(["scan", path.name, "--format", "json"], columns=COLUMNS, cwd=str(path.parent))
    assert screen.code in (0, 1), screen.text[-2000:]
    *lines, report = screen.drawn()
    assert report.startswith('{"findings"')
    assert lines and all(DRAWN.fullmatch(line) for line in lines), lines
    assert screen.before('{"findings"').endswith(ERASE)
    quiet = on_terminal(["scan", path.name, "--format", "json", "--no-progress"], columns=COLUMNS,
                        cwd=str(path.parent))
    assert ERASE not in quiet.text


def test_ctrl_c_during_a_scan_leaves_a_clean_line(big: tuple[Path, int]) -> None:
    from tests.live.terminal import on_terminal

    path, _ = big
    screen = on_terminal(["scan", path.name, "--format", "json", "-o", "report.json"], columns=COLUMNS,
                         cwd=str(path.parent), interrupt_on=b" rows")
    assert screen.code == 130
    assert screen.before("policyengine: interrupted").endswith(ERASE)
