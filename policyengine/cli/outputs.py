"""Where reports go: one or more formats, each to a file or to standard output.

Nothing is left half-written (docs/architecture.md, "Exit codes"):

* A report file is written beside its name and renamed into place on :meth:`Outputs.commit`,
  so a failed scan never leaves half a report and :meth:`Outputs.abort` removes the
  ``.partial`` file. A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written directly:
  renaming over it would replace it.
* A report on standard output other than the table is kept in a temporary file and copied out
  on commit: a scan that fails part-way never leaves half a JSON document on a pipe. (The
  table is for a person at a terminal and streams.)
* A write that fails (a full disk, a closed pipe's reader gone aside) is a one-line error with
  exit code 2 naming the target, never a traceback; so is a target that cannot be opened, and
  two outputs that name one file.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

from policyengine.config import Output
from policyengine.errors import UsageError

#: Formats streamed to standard output as they are written; the others are buffered.
STREAMED = frozenset({"table"})
#: Kept in memory up to this size, then in a temporary file.
SPOOL = 8 << 20
_STDOUT_NAMES = frozenset({"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})


class _Guarded:
    """A text stream whose write errors are usage errors that name the target."""

    def __init__(self, inner: IO[str], name: str, what: str) -> None:
        self.inner = inner
        self.name = name
        self.what = what

    def write(self, text: str) -> int:
        try:
            return self.inner.write(text)
        except OSError as exc:
            raise write_error(self.what, self.name, exc) from None

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def isatty(self) -> bool:
        """Whether the target is a terminal (the table colours its counts only there)."""
        isatty = getattr(self.inner, "isatty", None)
        return bool(isatty and isatty())

    def flush(self) -> None:
        try:
            self.inner.flush()
        except OSError as exc:
            raise write_error(self.what, self.name, exc) from None


def write_error(what: str, name: str, exc: OSError | str) -> UsageError:
    reason = exc.strerror or str(exc) if isinstance(exc, OSError) else exc
    return UsageError(f"cannot write {what} to {name}: {reason}")


class Destination:
    """One place a report (or a snapshot: ``what``) is written: a file (through
    ``NAME.partial``), a device or pipe (directly), or standard output (buffered unless
    ``stream``). Raises :class:`UsageError` when it cannot be opened."""

    def __init__(self, file: str | None, *, stream: bool = False, what: str = "the report") -> None:
        file = None if file == STDOUT else file
        self.file = file
        self.what = what
        self.name = file if file is not None else "standard output"
        self.partial: Path | None = None
        self.target: Path | None = None
        self.spool: IO[str] | None = None
        self._inner: IO[str]
        if file is None:
            stdout = sys.stdout
            if stdout is None:
                raise UsageError("standard output is closed: give an --output FILE")
            if stream or _discards(stdout):
                self._inner = stdout
            else:
                self.spool = cast(IO[str], tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed on commit or abort
                    SPOOL, mode="w+", encoding="utf-8", newline=""))
                self._inner = self.spool
        else:
            self._inner = self._open(file)
        self.handle = cast(IO[str], _Guarded(self._inner, self.name, what))

    def _open(self, file: str) -> IO[str]:
        given = Path(file)
        # Through a link to the file it names: replacing the link would leave the file as it was.
        target = Path(os.path.realpath(given)) if given.is_symlink() else given
        try:
            is_file = stat.S_ISREG(target.stat().st_mode)
            exists = True
        except FileNotFoundError:
            is_file, exists = True, False
        except OSError as exc:
            raise write_error(self.what, file, exc) from None
        if exists and not is_file and target.is_dir():
            raise write_error(self.what, file, "it is a directory")
        if not target.parent.is_dir():
            raise write_error(self.what, file, f"the folder {target.parent} does not exist")
        if is_file:
            self.target = target
            self.partial = target.with_name(target.name + ".partial")
        try:
            return (self.partial or target).open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise write_error(self.what, file, exc) from None

    def commit(self) -> None:
        """Flush and close; the file takes its name, standard output gets the buffered report.
        Raises :class:`UsageError` when a write fails (see :meth:`abort` for the rest)."""
        try:
            if self.spool is not None:
                self.spool.seek(0)
                shutil.copyfileobj(self.spool, sys.stdout, 1 << 20)
                self.spool.close()
                sys.stdout.flush()
            elif self.file is None:
                self._inner.flush()
            else:
                self._inner.close()
        except OSError as exc:
            raise write_error(self.what, self.name, exc) from None

    def publish(self) -> None:
        """Give the written file its name (after every destination was committed)."""
        if self.partial is not None and self.target is not None:
            try:
                os.replace(self.partial, self.target)
            except OSError as exc:
                self.partial.unlink(missing_ok=True)
                raise write_error(self.what, str(self.target), exc) from None
            self.partial = None

    def abort(self) -> None:
        """Discard what was written: the ``.partial`` file is removed, the buffer dropped."""
        try:
            if self.spool is not None:
                self.spool.close()
            elif self.file is not None:
                self._inner.close()
        except OSError:
            pass  # the data is being thrown away: a failing flush of it changes nothing
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)


class _Open:
    """An open report: its format and the stream its reporter writes to."""

    def __init__(self, format: str, destination: Destination) -> None:
        self.format = format
        self.destination = destination
        self.handle = destination.handle


class Outputs:
    """The open report streams of one scan; :meth:`commit` or :meth:`abort` closes them."""

    def __init__(self, outputs: Sequence[Output]) -> None:
        to_stdout = [o.format for o in outputs if o.file is None]
        if len(to_stdout) > 1:
            raise UsageError(f"only one report can go to standard output ({', '.join(to_stdout)}): give "
                             "the others an --output FILE")
        check_distinct([o.file for o in outputs])
        self.open: list[_Open] = []
        try:
            for output in outputs:
                self.open.append(_Open(output.format, Destination(output.file,
                                                                  stream=output.format in STREAMED)))
        except BaseException:
            self.abort()
            raise

    def commit(self) -> None:
        """Every report complete: close them all, then give each file its name. A report that
        cannot be written is a :class:`UsageError`, and no file is renamed into place."""
        try:
            for entry in self.open:
                entry.destination.commit()
        except BaseException:
            self.abort()
            raise
        for entry in self.open:
            entry.destination.publish()

    def abort(self) -> None:
        for entry in self.open:
            entry.destination.abort()


def check_distinct(files: Sequence[str | None]) -> None:
    """Two outputs must not name one file (or standard output twice, as ``/dev/stdout``);
    /dev/null may take any number."""
    seen: dict[object, str] = {}
    for file in files:
        key = _identity(file)
        if key is None:
            continue
        name = file if file is not None else "standard output"
        if key in seen:
            raise UsageError(f"two reports would be written to one file: {seen[key]} and {name} (give each "
                             "--format its own --output)")
        seen[key] = name


def _identity(file: str | None) -> object:
    """What a target is, however it is spelled: its (device, inode) when it exists, else its
    resolved path; None for /dev/null, which any number of outputs may share."""
    if file is None or os.path.abspath(file) in _STDOUT_NAMES:
        try:
            st = os.fstat(sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):  # no descriptor (a test's captured stdout)
            return "stdout"
    else:
        try:
            st = os.stat(file)
        except OSError:
            return os.path.realpath(file)
    return None if _is_devnull(st) else (st.st_dev, st.st_ino)


def _is_devnull(st: os.stat_result) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (null.st_dev, null.st_ino)


def _discards(stream: IO[str]) -> bool:
    """Whether ``stream`` is /dev/null (nothing to protect: buffering would only cost)."""
    try:
        return _is_devnull(os.fstat(stream.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


#: The format a report file's extension names (as Checkov, Trivy and PSRule users expect:
#: ``-o results.sarif`` writes SARIF). ``.sarif.json`` is SARIF too.
EXTENSIONS = {".json": "json", ".sarif": "sarif", ".xml": "junit", ".csv": "csv", ".md": "markdown",
              ".markdown": "markdown", ".html": "html", ".htm": "html", ".txt": "table", ".sh": "script"}
#: Extensions that say nothing about the content: any format may be written to them.
_ANY = frozenset({".txt", ".log", ".out"})


#: ``-o -``: standard output, as for most command-line tools (never a file named ``-``).
STDOUT = "-"


def format_of(file: str) -> str | None:
    """The format a file's name asks for, or None when its extension names none."""
    name = file.lower()
    if name.endswith(".sarif.json"):
        return "sarif"
    return EXTENSIONS.get(os.path.splitext(name)[1])


def pair(formats: Sequence[str], files: Sequence[str]) -> list[Output]:
    """``--format a --output x --format b --output y``: the n-th output file goes with the n-th
    format; an output without one takes its format from its extension (table if it names
    none); a format without an output goes to standard output. A format that contradicts its
    file's extension (``--format json -o r.sarif``) is a usage error."""
    outputs = []
    for i in range(max(len(formats), len(files), 1)):
        file = files[i] if i < len(files) and files[i] != STDOUT else None
        implied = format_of(file) if file is not None else None
        if i < len(formats):
            given = formats[i]
            if (implied is not None and implied != given and file is not None
                    and os.path.splitext(file.lower())[1] not in _ANY):
                raise UsageError(f"--format {given} with --output {file}: the extension says {implied}; "
                                 "give the file a matching name, or leave --format out")
            outputs.append(Output(given, file))
        else:
            outputs.append(Output(implied or "table", file))
    return outputs
