"""Rows in any order, given back parent-first through a table on disk.

A large input whose rows are not parent-first would otherwise be held whole in memory until
its last row (a child may come last). Instead each row goes to an SQLite table in a temporary
file, keyed so that sorting the keys puts every resource's children right after it and a
subscription's own rows before its resource groups' resources; the rows then come back in
that order and stream like a snapshot (docs/architecture.md, "Input order"). SQLite sorts
with a bounded cache and spills to temporary files itself, so memory stays bounded whatever
the input holds (https://www.sqlite.org/tempfiles.html).

The key is the lower-case id with each ``/`` made ``\\x01``, the lowest character an id can
hold after it: ``…/pg-01`` then ``…/pg-01/configurations/x`` (``\\x01configurations``) comes
before ``…/pg-01-replica`` (``-``), where a plain string sort would put the replica between
the server and its children. Ties keep the input order (file, then line), so of two rows of
one resource the first read is the first met, as in every other mode.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence

from policyengine.errors import InputError
from policyengine.sources.export import Input, Row
from policyengine.status import InputProblem, Stats

#: Rows written to the table at a time.
BATCH = 2_000
#: Pages SQLite may keep in memory while it sorts (negative: KiB), then it uses files.
CACHE_KIB = 16_384
_KEY = str.maketrans("/", "\x01")


def sort_key(resource_id: str) -> str:
    """The key that puts a resource's children right after it (see the module docstring)."""
    return resource_id.lower().translate(_KEY)


def sorted_rows(inputs: Sequence[Input], skip: Callable[[str], str | None], log: Stats,
                count: Callable[[Row, str], object]) -> Iterator[tuple[str, Row]]:
    """Every row of ``inputs``, parent-first, each with the name of its input. A row the
    reader skipped (of no use to any rule: about half of an export, a server's other
    parameters) only needs counting, which ``count`` does at once, instead of going through
    the table. What a reader says about its input (bad rows, a read that cannot go on) goes
    to ``log`` as it would in any other mode."""
    from policyengine.records.assemble import collect_messages

    names = [inp.name for inp in inputs]
    with tempfile.TemporaryDirectory(prefix="policyengine-sort-") as folder:
        db = sqlite3.connect(os.path.join(folder, "rows.db"))
        try:
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;"
                             "CREATE TABLE rows (key TEXT, source INTEGER, line INTEGER, data TEXT)")
            for number, inp in enumerate(inputs):
                inp.skip = skip
                batch: list[tuple[str, int, int, str]] = []
                try:
                    for row in inp.rows:
                        if row.skipped:
                            count(row, inp.name)
                            continue
                        rid = row.data.get("id")
                        key = sort_key(rid) if isinstance(rid, str) else ""
                        batch.append((key, number, row.line, json.dumps(row.data, separators=(",", ":"))))
                        if len(batch) >= BATCH:
                            db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
                            batch.clear()
                except InputError as exc:  # the rest of this input cannot be read; the others can
                    log.add_error(InputProblem.of(exc, file=inp.name))
                db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
                collect_messages(inp, log)
            cursor = db.execute("SELECT source, line, data FROM rows ORDER BY key, source, line")
            for source, line, data in cursor:
                yield names[source], Row(json.loads(data), line)
        finally:
            db.close()
