"""What a live scan has done so far, for the progress line on a terminal
(:mod:`policyengine.sources.progress`): the subscriptions found, the resources read per type,
the ARM reads done of those planned, and a wait for throttling while it lasts.

The counts are kept whether or not a line is drawn (they cost an addition each); the text is
built only when the line is due for a redraw.
"""

from __future__ import annotations

import threading
import time

from policyengine.sources.progress import ProgressLine


class LiveProgress:
    """The counts of a live scan. The scan's own thread counts resources; the ARM reads'
    threads count their reads and report waits, hence the lock."""

    def __init__(self, line: ProgressLine | None = None) -> None:
        self.line = line
        #: The subscriptions in scope (None until listed; a management group's are not).
        self.subscriptions: int | None = None
        self.scope = ""
        #: Resources read so far, by the last segment of their type, in the order first seen.
        self.resources: dict[str, int] = {}
        self.arm_planned = 0
        self.arm_done = 0
        self._waiting: tuple[str, float] | None = None  # its text, and when it ends
        self._lock = threading.Lock()

    # -- counting ---------------------------------------------------------------------------
    def found(self, subscriptions: int | None, scope: str = "") -> None:
        """The scope is known: ``subscriptions`` of them, or a management group (``scope``)."""
        self.subscriptions, self.scope = subscriptions, scope
        self.draw(now=True)

    def read(self, resource_type: str, count: int) -> None:
        """``count`` more resources of a type came from Resource Graph."""
        name = resource_type.rsplit("/", 1)[-1]
        with self._lock:
            self.resources[name] = self.resources.get(name, 0) + count
        self.draw()

    def planned(self, reads: int) -> None:
        with self._lock:
            self.arm_planned += reads

    def done(self, reads: int = 1) -> None:
        """``reads`` planned ARM reads are over (read or not): the reads' threads say so, and
        redraw the line while the scan's thread waits for them."""
        with self._lock:
            self.arm_done += reads
        self.draw()

    def wait(self, reason: str, seconds: float | None) -> None:
        """A request is held back (``reason``: "throttled", ...) for ``seconds`` (None: the
        SDK's own backoff, length unknown): shown at once, and for as long as it lasts."""
        text = f"{reason}: waiting {_seconds(seconds)}" if seconds is not None else f"{reason}: retrying"
        with self._lock:
            self._waiting = (text, time.monotonic() + (seconds if seconds is not None else 1.0))
        self.draw(now=True)

    # -- drawing ----------------------------------------------------------------------------
    def text(self) -> str:
        parts = []
        with self._lock:
            waiting = self._waiting
            planned, done = self.arm_planned, self.arm_done
            resources = list(self.resources.items())
        if waiting is not None and time.monotonic() < waiting[1]:
            parts.append(waiting[0])  # first: a wait is why nothing moves
        if self.subscriptions is not None:
            parts.append(f"{self.subscriptions} subscription{'' if self.subscriptions == 1 else 's'}")
        elif self.scope:
            parts.append(self.scope)
        parts += [f"{name} {count:,}" for name, count in resources]
        if planned:
            parts.append(f"ARM reads {done:,}/{planned:,}")
        return ", ".join(parts) or "signing in"

    def draw(self, *, now: bool = False) -> None:
        line = self.line
        if line is not None and (now or line.due()):
            line.show(self.text(), now=now)

    def close(self) -> None:
        """Erase the line for good (the scan is over, or failed)."""
        if self.line is not None:
            self.line.close()


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
