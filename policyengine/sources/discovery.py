"""Which inputs a scan reads: the files named on the command line, and the files found by
walking the directories named.

Each file is recognised by what it holds (:mod:`policyengine.sources.sniff`), read once
(:mod:`policyengine.sources.files`). A walk enters hidden folders too (ResourceModules keeps its
test templates in ``.test/``) but never ``.git``, ``node_modules``, ``.terraform``,
``__pycache__`` or ``.venv``; it follows symbolic links, entering each folder once, so a link
loop ends. Every file or folder left out is listed with the reason in :attr:`Discovery.notes`
(``-v`` prints them), and every file that cannot be read is an input error of its own
(docs/architecture.md, "Input errors").
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from policyengine.errors import InputError, Span
from policyengine.sources import files
from policyengine.sources.sniff import Kind, kind_of
from policyengine.status import InputProblem

#: Folders a walk never enters, and why.
SKIPPED_FOLDERS = {
    ".git": "version control data",
    "node_modules": "installed npm packages",
    ".terraform": "Terraform's provider and module cache",
    "__pycache__": "Python bytecode",
    ".venv": "a Python virtual environment",
}
TERRAFORM_HINT = ("Terraform configuration is not scanned: run `terraform show -json plan.out > plan.json` "
                  "and scan that")
#: What a walk reads: JSON (templates, parameters, plans, exports), NDJSON, Bicep.
_READ_SUFFIXES = (".json", ".jsonc", ".ndjson", ".jsonl", ".bicep")
#: Files that are not read, with what to do instead.
_HINTS = {
    ".tf": TERRAFORM_HINT,
    ".tfvars": TERRAFORM_HINT,
    ".bicepparam": "a Bicep parameters file is not read: give the values with -p NAME=VALUE or a JSON "
                   "parameters file",
}
_PARAMETERS_SUFFIX = ".parameters.json"
_DECLARED = (Kind.TEMPLATE, Kind.PLAN, Kind.BICEP)

Folder = tuple[int, int]  # (st_dev, st_ino): a folder, however it was reached


@dataclass(frozen=True)
class Target:
    """A file to scan: a template, Bicep file or plan (expanded on its own), or an export."""

    path: Path
    kind: Kind
    shown: str


@dataclass(frozen=True)
class Sniffed:
    """What detection found in one file: its kind, and why (for a note)."""

    kind: Kind
    reason: str


def sniff(path: Path, shown: str) -> Sniffed:
    """The kind of the file at ``path`` (``-``: standard input), read once: a stream is held
    for its reader (:mod:`policyengine.sources.files`). Raises :class:`InputError`."""
    if path.suffix.lower() == ".bicep":
        return Sniffed(Kind.BICEP, "a Bicep file")
    try:
        peek = files.Peek(str(path))
    except OSError as exc:
        raise InputError(f"cannot read input: {_reason(exc)}", Span(shown)) from None
    try:
        kind, reason = kind_of(peek)
    except OSError as exc:
        peek.close()
        raise InputError(f"cannot read input: {_reason(exc)}", Span(shown)) from None
    except BaseException:
        peek.close()
        raise
    peek.release()
    return Sniffed(kind, reason)


def classify(path: Path) -> Kind:
    """What a file is, from its name and its content (an unreadable file is taken for an
    export: the export reader says why it cannot be read)."""
    try:
        return sniff(path, str(path)).kind
    except InputError:
        return Kind.EXPORT


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass
class Discovery:
    """The files to scan, the notes on what was left out, and the files that cannot be read."""

    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files and folders skipped, and why
    #: Files found that cannot be read at all (each an input error).
    problems: list[InputProblem] = field(default_factory=list)
    #: ``--skip-path`` globs.
    skip: tuple[str, ...] = ()

    def skipped(self, path: Path, root: Path) -> str | None:
        """The ``--skip-path`` pattern that matches ``path``, if any: a pattern without ``/``
        matches its name; one with ``/`` its path from the walked root, or as given (from the
        working directory, where a configuration file's patterns are written from)."""
        within = path.relative_to(root).as_posix() if path.is_relative_to(root) else None
        for pattern in self.skip:
            bare = pattern.rstrip("/")
            if "/" not in bare:
                if fnmatch.fnmatchcase(path.name, bare):
                    return pattern
            elif any(fnmatch.fnmatchcase(p, bare.removeprefix("./")) for p in (within, path.as_posix()) if p):
                return pattern
        return None

    def skipped_named(self, path: Path) -> str | None:
        """The ``--skip-path`` pattern that matches a file named on the command line: a
        pattern without ``/`` matches any of its folders or its name, one with ``/`` the path
        as given."""
        given = path.as_posix()
        for pattern in self.skip:
            bare = pattern.rstrip("/")
            if ("/" in bare and fnmatch.fnmatchcase(given, bare.removeprefix("./"))) or (
                    "/" not in bare and any(fnmatch.fnmatchcase(part, bare) for part in path.parts)):
                return pattern
        return None

    def note(self, path: Path | str, why: str) -> None:
        self.notes.append(f"{path}: {why}")

    def problem(self, shown: str, message: str) -> None:
        self.problems.append(InputProblem(Span(shown), message))


def discover(paths: Sequence[str], *, pre_deployment: bool = False, skip: Sequence[str] = ()) -> Discovery:
    """The inputs named on the command line: files as they are, directories walked.

    ``pre_deployment``: only templates, Bicep files and plans, even among files named
    explicitly (what a pre-commit hook passes: every staged JSON file). ``skip``: glob
    patterns of files and folders left out, named or walked (a pattern without ``/`` matches
    a name at any depth). A named path that does not exist is an input error; so is a named
    file that is empty or cannot be read. Each file is taken once, however often it is named
    or linked."""
    finder = _Finder(Discovery(skip=tuple(skip)), pre_deployment)
    for given in paths:
        finder.given(given)
    return finder.found


@dataclass
class _Finder:
    found: Discovery
    pre_deployment: bool
    #: The files taken so far, by (st_dev, st_ino) ("-" for standard input), and their names.
    seen: dict[object, str] = field(default_factory=dict)

    def given(self, given: str) -> None:
        found = self.found
        if given == "-":
            self.named(Path(given), "<stdin>")
            return
        path = Path(given)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            why = f"a symbolic link to nothing ({_link(path)})" if path.is_symlink() else _reason(exc)
            found.problem(given, f"cannot read input: {why}")
            return
        if stat.S_ISDIR(mode):
            self.walk(path)
        elif (pattern := found.skipped_named(path)) is not None:
            found.note(given, f"skipped: matches --skip-path {pattern}")
        else:
            self.named(path, given)

    def named(self, path: Path, shown: str) -> None:
        """A file named on the command line (or ``-``): taken whatever it holds (what is not
        a template, parameters file or plan goes to the export reader, which says what is
        wrong with it), except under ``--pre-deployment``."""
        if self.again(path, shown):
            return
        hint = _HINTS.get(path.suffix.lower())
        if hint is not None:
            # Named by a pre-commit hook, it is one more staged file; named by a person, an error.
            if self.pre_deployment:
                self.found.note(shown, f"skipped: {hint}")
            else:
                self.found.problem(shown, hint)
            return
        try:
            sniffed = sniff(path, shown)
        except InputError as exc:
            self.found.problems.append(InputProblem.of(exc, file=shown))
            return
        if self.pre_deployment or sniffed.kind is Kind.PARAMETERS:
            self.keep(path, shown, sniffed)
        elif sniffed.kind is Kind.EMPTY:
            self.found.problem(shown, "the file is empty: no rows, template or plan in it")
        else:
            kind = Kind.EXPORT if sniffed.kind is Kind.OTHER else sniffed.kind
            self.found.targets.append(Target(path, kind, shown))

    def again(self, path: Path, shown: str) -> bool:
        """Whether the file was already taken (named twice, or reached through a link)."""
        key: object = "-"
        if str(path) != "-":
            try:
                st = path.stat()
            except OSError:
                return False  # its reader says why it cannot be read
            key = (st.st_dev, st.st_ino)
        first = self.seen.get(key)
        if first is None:
            self.seen[key] = shown
            return False
        self.found.note(shown, f"skipped: the same file as {first}, already taken")
        return True

    def walk(self, root: Path) -> None:
        """Every file under ``root``, depth first in name order (a folder's files before its
        subfolders, as ``os.walk`` goes); links followed, each folder entered once."""
        found = self.found
        start = root.stat()
        entered: dict[Folder, Path] = {(start.st_dev, start.st_ino): root}
        stack: list[tuple[Path, tuple[Folder, ...]]] = [(root, ((start.st_dev, start.st_ino),))]
        before = len(found.targets) + len(found.problems)
        while stack:
            folder, ancestors = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                found.problem(str(folder), f"cannot list the folder: {_reason(exc)}")
                continue
            subfolders: list[tuple[Path, tuple[Folder, ...]]] = []
            for entry in entries:
                path = Path(entry.path)
                try:
                    st = entry.stat()  # follows a symbolic link
                except OSError:
                    found.note(path, f"skipped: a symbolic link to nothing ({_link(path)})")
                    continue
                if stat.S_ISDIR(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    why = self.folder_skipped(path, root)
                    if why is None and key in ancestors:
                        why = f"skipped: a symbolic link loop (back to {entered[key]})"
                    elif why is None and key in entered:
                        why = f"skipped: the same folder as {entered[key]}, already walked"
                    if why is not None:
                        found.note(f"{path}{os.sep}", why)
                        continue
                    entered[key] = path
                    subfolders.append((path, (*ancestors, key)))
                elif stat.S_ISREG(st.st_mode):
                    self.walked(path, root)
                else:  # a FIFO or a device in a tree: reading it could block the scan for ever
                    found.note(path, "skipped: not a regular file")
            stack.extend(reversed(subfolders))
        if len(found.targets) + len(found.problems) == before:
            found.note(root, "no templates, Bicep files, plans or exports found in this folder")

    def folder_skipped(self, path: Path, root: Path) -> str | None:
        reason = SKIPPED_FOLDERS.get(path.name)
        if reason is not None:
            return f"skipped: {reason} (folders named {path.name} are never walked)"
        pattern = self.found.skipped(path, root)
        return None if pattern is None else f"skipped: matches --skip-path {pattern}"

    def walked(self, path: Path, root: Path) -> None:
        """A regular file found by a walk: read if its name says it may be JSON or Bicep."""
        found = self.found
        pattern = found.skipped(path, root)
        if pattern is not None:
            found.note(path, f"skipped: matches --skip-path {pattern}")
            return
        if not path.name.lower().endswith(_READ_SUFFIXES):
            found.note(path, f"skipped: {_HINTS.get(path.suffix.lower(), 'not a JSON or Bicep file')}")
            return
        if self.again(path, str(path)):
            return
        try:
            sniffed = sniff(path, str(path))
        except InputError as exc:
            found.problems.append(InputProblem.of(exc, file=str(path)))
            return
        if sniffed.kind is Kind.BICEP and _compiled_beside(path):
            found.note(path, f"skipped: its compiled template {path.with_suffix('.json').name} is scanned")
        else:
            self.keep(path, str(path), sniffed)

    def keep(self, path: Path, shown: str, sniffed: Sniffed) -> None:
        """Take a file the walk found (or any file under ``--pre-deployment``) if it is
        something to scan; otherwise say why not."""
        kind = sniffed.kind
        if kind in _DECLARED or (kind is Kind.EXPORT and not self.pre_deployment):
            self.found.targets.append(Target(path, kind, shown))
        elif kind is Kind.EXPORT:
            self.found.note(shown, "skipped: an export (--pre-deployment scans templates, Bicep files and "
                            "plans only)")
        elif kind is Kind.PARAMETERS:
            self.found.note(shown, f"a parameters file, {_used_by(path)}")
        elif kind is Kind.EMPTY:
            self.found.note(shown, "skipped: empty")
        else:
            self.found.note(shown, f"skipped: not a template, Bicep file, plan or export ({sniffed.reason})")


def _link(path: Path) -> str:
    try:
        return f"-> {os.readlink(path)}"
    except OSError as exc:
        return _reason(exc)


def _used_by(parameters: Path) -> str:
    """Which template takes a parameters file by the ``x.parameters.json`` beside ``x.json``
    (or ``x.bicep``) convention, or how to use it."""
    name = parameters.name
    if name.lower().endswith(_PARAMETERS_SUFFIX):
        stem = name[:-len(_PARAMETERS_SUFFIX)]
        for suffix in (".json", ".bicep"):
            template = parameters.with_name(stem + suffix)
            if template.is_file():
                return f"used by {template}"
    return "not used: no template beside it takes it by name (give it with --parameters FILE)"


def _compiled_beside(path: Path) -> bool:
    compiled = path.with_suffix(".json")
    return compiled.is_file() and classify(compiled) is Kind.TEMPLATE
