"""Where reports go: one or more formats, each to a file or to standard output.

A report file is written beside its name and renamed into place, so a failed scan never
leaves half a report. A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written
directly: renaming over it would replace it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from policyengine.config import Output
from policyengine.errors import UsageError


@dataclass
class _Open:
    format: str
    target: Path | None
    partial: Path | None
    handle: IO[str]


class Outputs:
    """The open report streams of one scan; :meth:`commit` or :meth:`abort` closes them."""

    def __init__(self, outputs: Sequence[Output]) -> None:
        to_stdout = [o.format for o in outputs if o.file is None]
        if len(to_stdout) > 1:
            raise UsageError(f"only one report can go to standard output ({', '.join(to_stdout)}): give "
                             "the others an --output FILE")
        self.open: list[_Open] = []
        try:
            for output in outputs:
                self.open.append(_open(output))
        except BaseException:
            self.abort()
            raise

    def commit(self) -> None:
        for entry in self.open:
            if entry.target is not None:
                entry.handle.close()
            if entry.partial is not None and entry.target is not None:
                os.replace(entry.partial, entry.target)

    def abort(self) -> None:
        for entry in self.open:
            if entry.target is not None:
                entry.handle.close()
            if entry.partial is not None:
                entry.partial.unlink(missing_ok=True)


def _open(output: Output) -> _Open:
    if output.file is None:
        return _Open(output.format, None, None, sys.stdout)
    target = Path(output.file)
    partial = target.with_name(target.name + ".partial") if _is_file_target(target) else None
    try:
        handle = (partial or target).open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write the report to {target}: {exc.strerror or exc}") from None
    return _Open(output.format, target, partial, handle)


def _is_file_target(path: Path) -> bool:
    return not path.exists() or path.is_file()


def pair(formats: Sequence[str], files: Sequence[str]) -> list[Output]:
    """``--format a --output x --format b --output y``: the n-th output file goes with the n-th
    format; a format without one goes to standard output."""
    if len(files) > max(len(formats), 1):
        raise UsageError(f"{len(files)} --output files for {len(formats) or 1} --format(s): give one "
                         "--format per --output")
    names = list(formats) or ["table"]
    return [Output(name, files[i] if i < len(files) else None) for i, name in enumerate(names)]
