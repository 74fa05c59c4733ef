"""Regenerate the golden KQL of the bundled rules: ``python -m tests.kql.regen_golden``.

Writes ``tests/golden/kql/<type>.kql`` (and ``<type>.summary.kql``) for each query of the
plan of the bundled rules, and ``plan.json`` (the plan's ``to_json()``, sorted keys, indent 2);
removes golden files no query produces any more. Review the diff (``git diff tests/golden``)
before committing it: it is the compiled output every ARG scan sends.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from policyengine.kql.plan import build_plan
from policyengine.loading.rules import load_rules

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "kql"
COMMAND = "python -m tests.kql.regen_golden"


def slug(resource_type: str) -> str:
    """``Microsoft.DBforPostgreSQL/flexibleServers`` -> ``microsoft.dbforpostgresql-flexibleservers``."""
    return re.sub(r"[^a-z0-9.]+", "-", resource_type.lower())


def golden_files() -> dict[str, str]:
    """File name -> content, for the bundled rules as the code compiles them now."""
    plan = build_plan(load_rules([]))
    files: dict[str, str] = {}
    for query in plan.queries:
        files[f"{slug(query.resource_type)}.kql"] = query.text + "\n"
        if query.summary is not None:
            files[f"{slug(query.resource_type)}.summary.kql"] = query.summary + "\n"
    files["plan.json"] = json.dumps(plan.to_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return files


def on_disk() -> dict[str, str]:
    if not GOLDEN.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.iterdir())
            if p.suffix in (".kql", ".json")}


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    wanted = golden_files()
    old = on_disk()
    for name in sorted(old.keys() - wanted.keys()):
        (GOLDEN / name).unlink()
        print(f"removed {GOLDEN / name}")
    for name, text in sorted(wanted.items()):
        if old.get(name) != text:
            (GOLDEN / name).write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {GOLDEN / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
