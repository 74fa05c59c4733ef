"""``policyengine scan``: rules × export → report → exit code."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path
from typing import IO

from policyengine import ir
from policyengine.errors import UsageError
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.loading.rules import load_rules
from policyengine.records.assemble import Stats, assemble
from policyengine.records.reader import open_input
from policyengine.reports import ReportContext, Summary, formats

EXAMPLE = "estate.json"


def example_path() -> str:
    return str(resources.files("policyengine") / "data" / "examples" / EXAMPLE)


def selected_rules(args: argparse.Namespace) -> tuple[ir.Rule, ...]:
    rules = load_rules([Path(p) for p in args.rules], include_bundled=not args.no_bundled_rules)
    wanted = getattr(args, "rule", [])
    if wanted:
        by_id = {r.id.lower(): r for r in rules}
        unknown = [w for w in wanted if w.lower() not in by_id]
        if unknown:
            raise UsageError(f"unknown rule id: {', '.join(unknown)} (see `policyengine rules list`)")
        rules = tuple(r for r in rules if r.id.lower() in {w.lower() for w in wanted})
    if not rules:
        raise UsageError("no rules to evaluate")
    return rules


def run_scan(args: argparse.Namespace) -> int:
    rules = selected_rules(args)
    paths = args.paths or [example_path()]
    shown = {example_path(): f"examples/{EXAMPLE}"}
    index = RuleIndex(rules)
    summary = Summary(rules, ir.Severity.parse(args.fail_on))
    stats = Stats()
    inputs = [open_input(p, shown.get(p)) for p in paths]
    target = Path(args.output) if args.output else None
    # A report file is written beside its name and renamed into place, so a failed scan
    # never leaves half a report. A device or a pipe (/dev/null, /dev/stdout, a FIFO) is
    # written directly: renaming over it would replace it.
    partial = target.with_name(target.name + ".partial") if target and _is_file_target(target) else None
    try:
        out: IO[str] = (partial or target).open("w", encoding="utf-8") if target else sys.stdout
    except OSError as exc:
        raise UsageError(f"cannot write the report to {target}: {exc.strerror or exc}") from None
    try:
        reporter = formats()[args.format](out, rules)
        for finding in evaluate_records(index, assemble(inputs, index.wanted(), stats)):
            summary.add(finding)
            reporter.add(finding)
        reporter.finish(summary, ReportContext(tuple(i.name for i in inputs), stats))
    except BaseException:
        if target:
            out.close()
        if partial:
            partial.unlink(missing_ok=True)
        raise
    if target:
        out.close()
    if partial and target:
        os.replace(partial, target)
    return summary.exit_code


def _is_file_target(path: Path) -> bool:
    return not path.exists() or path.is_file()
