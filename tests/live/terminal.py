"""Run a command with its standard output and error on a pseudo-terminal, as a person at a
terminal would, and split what it drew into the progress line's redraws."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from policyengine.sources.progress import ERASE, clip

ERASE_BYTES = ERASE.encode()


@dataclass(frozen=True)
class Screen:
    """What a command wrote to its terminal (stdout and stderr, in order), and its exit code."""

    code: int
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def drawn(self) -> list[str]:
        """The progress line's texts, one per redraw (an empty one is the final erase)."""
        return [part.split("\r\n", 1)[0] for part in self.text.split(ERASE)[1:]]

    def before(self, marker: str) -> str:
        """Everything written before ``marker`` first appears (the report's first character)."""
        at = self.text.find(marker)
        assert at >= 0, f"{marker!r} not on the terminal: {self.text[-500:]!r}"
        return self.text[:at]


def on_terminal(argv: Sequence[str], *, columns: int = 80, env: dict[str, str] | None = None,
                cwd: str | None = None, timeout: float = 60.0, interrupt_on: bytes | None = None) -> Screen:
    """Run ``python -m policyengine ARGV`` on a terminal ``columns`` wide (``COLUMNS`` unset, so
    the width is the terminal's own); with ``interrupt_on``, press Ctrl-C (SIGINT) once those
    bytes have been written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environ = dict(os.environ if env is None else env)
    environ.pop("COLUMNS", None)
    environ.pop("NO_COLOR", None)
    try:
        child = subprocess.Popen([sys.executable, "-m", "policyengine", *argv], stdin=subprocess.DEVNULL,
                                 stdout=slave, stderr=slave, env=environ, cwd=cwd)
    finally:
        os.close(slave)
    got = bytearray()
    interrupted: list[bool] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child and every holder of the terminal are gone
                return
            if not chunk:
                return
            got.extend(chunk)
            if interrupt_on is not None and not interrupted and interrupt_on in got:
                child.send_signal(signal.SIGINT)
                interrupted.append(True)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        code = child.wait(timeout)
    finally:
        reader.join(5)
        os.close(master)
    return Screen(code, bytes(got))


def fits(text: str, columns: int) -> bool:
    """Whether ``text`` takes at most ``columns`` cells on a terminal."""
    return clip(text, columns) == text
