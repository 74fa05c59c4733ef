"""``policyengine lint [PATH ...] [--strict] [--catalog FILE] [--format text|json]``.

Exit codes: 0 clean or warnings only; 1 errors (or warnings with ``--strict``); 2 bad usage
(a path that does not exist, an unknown option).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_lint_command(sub: Any) -> None:
    """The ``lint`` subcommand (its checks are imported only when it runs)."""
    lint = sub.add_parser("lint", help="check rule files against the schema, the catalog and their tests",
                          description="Check rule files: schema and load errors, field paths and values "
                          "against the resource-type catalog, conditions that can never be true or never "
                          "be false, related data a live scan could not read, and inline tests that never "
                          "see both a pass and a fail. With no PATH, checks the bundled rules. Problems "
                          "are printed as file:line:col: error|warning: CODE: message (codes: "
                          "python -m pydoc policyengine.lint).")
    lint.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    lint.add_argument("--catalog", metavar="FILE", action="append", default=[],
                      help="a catalog file (YAML) merged over the bundled one: more types, properties "
                      "and values; repeatable")
    lint.add_argument("--format", choices=("text", "json"), default="text")


def run_lint(args: argparse.Namespace) -> int:
    from policyengine.lint import ERROR, lint

    problems = lint([Path(p) for p in args.paths], [Path(c) for c in args.catalog])
    if args.format == "json":
        rows: list[dict[str, Any]] = [p.to_json() for p in problems]
        print(json.dumps(rows, indent=2, sort_keys=True))
    else:
        for problem in problems:
            print(problem.text())
    errors = sum(p.severity == ERROR for p in problems)
    warnings = len(problems) - errors
    if args.format == "text":
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (warnings and args.strict) else 0
