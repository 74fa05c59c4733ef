"""The compiled queries and plan of the bundled rules equal the golden files, so a change to
what every scan sends to Azure shows up as a reviewed diff."""

from __future__ import annotations

import difflib

from tests.kql.regen_golden import COMMAND, GOLDEN, golden_files, on_disk


def test_compiled_output_equals_the_golden_files() -> None:
    wanted, found = golden_files(), on_disk()
    diffs: list[str] = []
    for name in sorted(wanted.keys() | found.keys()):
        old, new = found.get(name, ""), wanted.get(name, "")
        if old != new:
            diffs += difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                          f"golden/kql/{name}", f"compiled/{name}")
    assert not diffs, (f"The compiled KQL differs from {GOLDEN}. If the change is intended, run "
                       f"`{COMMAND}` and review `git diff tests/golden`.\n\n" + "".join(diffs))
