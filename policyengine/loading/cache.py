"""A per-user cache of compiled rule sets, so that a scan does not parse YAML, validate it
with jsonschema and build the IR on every run (~90 ms of imports and ~50 ms of work for the
bundled rules; docs/architecture.md, "Loading").

An entry is the pickled tuple of :class:`ir.Rule` that :func:`loading.rules.load_rules`
returned for a rule set that loaded *cleanly*: a set with any error is never written, so its
errors are always found and reported by the real loader, exactly as without a cache.

The key is a digest of everything the result depends on: each rule file's bytes and the name
shown for it (spans carry the name), the rule schema, the package version, the Python version
and the source of the modules that define and build the IR (an edited loader in a development
install must not read an old shape). An entry that cannot be read, or that holds anything but
what was written under that key, is ignored and rebuilt; a cache that cannot be written is
skipped. Nothing here ever changes what a scan reports.

Where: ``$POLICYENGINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/policyengine``, else
``~/.cache/policyengine``. ``POLICYENGINE_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from policyengine import __version__, ir

CACHE_DIR_ENV = "POLICYENGINE_CACHE_DIR"
NO_CACHE_ENV = "POLICYENGINE_NO_CACHE"
#: Bumped when the entry's layout changes.
FORMAT = 1
#: Entries kept: one per distinct rule set (the bundled rules, each set of user rules, and the
#: versions an edit loop leaves behind); the oldest beyond this are removed after a write.
KEEP = 32

# The modules whose code decides what a loaded rule looks like (see the module docstring).
_IR_MODULES = ("ir.py", "paths.py", "operators.py", "errors.py", "loading/rules.py")

# What unpickling a damaged or foreign file can raise: the file is then rebuilt, never trusted.
_UNREADABLE = (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError,
               KeyError, TypeError, ValueError, MemoryError, RecursionError)


def cache_dir() -> Path | None:
    """The cache directory, or None when caching is off."""
    if os.environ.get(NO_CACHE_ENV, "") not in ("", "0"):
        return None
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "policyengine"
    home = Path.home()
    return home / ".cache" / "policyengine"


def digest(sources: Sequence[tuple[Path, str]]) -> str | None:
    """The key of a rule set, or None when a file cannot be read (the loader then says why)."""
    h = hashlib.sha256()
    package = Path(str(resources.files("policyengine")))
    h.update(f"{FORMAT}\0{__version__}\0{sys.implementation.cache_tag}\0{sys.version}\0".encode())
    try:
        for name in _IR_MODULES:
            h.update((package / name).read_bytes())
        h.update((package / "data" / "schemas" / "rule.schema.json").read_bytes())
        for path, display in sources:
            data = path.read_bytes()
            h.update(f"\0{display}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
            h.update(data)
    except OSError:
        return None
    return h.hexdigest()


def _trusted(directory: Path) -> bool:
    """Only a directory of ours that no one else can write to is read: an entry is a pickle."""
    try:
        info = directory.stat()
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return owner_ok and stat.S_ISDIR(info.st_mode) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(directory: Path, key: str) -> tuple[ir.Rule, ...] | None:
    """The rules stored under ``key``, or None on a miss or an entry that does not hold them."""
    if not _trusted(directory):
        return None
    try:
        with open(directory / f"rules-{key}.pickle", "rb") as f:
            entry = pickle.load(f)
    except _UNREADABLE:
        return None
    if not (isinstance(entry, tuple) and len(entry) == 3 and entry[:2] == (FORMAT, key)):
        return None
    rules = entry[2]
    if not (isinstance(rules, tuple) and all(isinstance(r, ir.Rule) for r in rules)):
        return None
    return rules


def write(directory: Path, key: str, rules: tuple[ir.Rule, ...]) -> None:
    """Store ``rules`` under ``key`` atomically (a reader sees the old file or the whole new
    one); a directory that cannot be made or written is left alone."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(directory):
            return
        fd, tmp = tempfile.mkstemp(prefix=".rules-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump((FORMAT, key, rules), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, directory / f"rules-{key}.pickle")
        except BaseException:
            # Never leave a temporary file behind, whatever stopped the write (Ctrl-C too).
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(directory)
    except (OSError, pickle.PicklingError, RecursionError):
        return


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("rules-*.pickle"), key=_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def cached(sources: Sequence[tuple[Path, str]],
           build: Callable[[], tuple[ir.Rule, ...]]) -> tuple[ir.Rule, ...]:
    """The rules of ``sources``: from the cache when an entry matches, else ``build()`` (which
    raises on any rule error, so only a clean set is ever stored)."""
    directory = cache_dir()
    key = digest(sources) if directory is not None else None
    if directory is None or key is None:
        return build()
    rules = read(directory, key)
    if rules is None:
        rules = build()
        write(directory, key, rules)
    return rules
