"""``policyengine scan``: rules × export → report → exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import IO, Any

from policyengine import ir
from policyengine.errors import UsageError
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.loading.rules import load_rules
from policyengine.records.assemble import Stats, assemble
from policyengine.records.model import Record
from policyengine.records.reader import Input, open_input
from policyengine.reports import ReportContext, Summary, formats
from policyengine.sources.declared import Kind, Target, TemplateOptions, declared_records, discover

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
    live = None
    if args.azure:
        if args.paths:
            raise UsageError("give export files or --azure, not both")
        from policyengine.cli.azure import open_live

        live = open_live(args, rules)
        inputs = [live.input]
        declared: list[Target] = []
    else:
        paths = args.paths or [example_path()]
        shown = {example_path(): f"examples/{EXAMPLE}"}
        found = discover(paths, pre_deployment=args.pre_deployment)
        _verbose(args, found.notes)
        declared = [t for t in found.targets if t.kind is not Kind.EXPORT]
        inputs = [open_input(str(t.path), shown.get(str(t.path), t.shown))
                  for t in found.targets if t.kind is Kind.EXPORT]
        if not inputs and not declared:
            if args.pre_deployment:
                print("policyengine: no templates, Bicep files or plans to scan", file=sys.stderr)
                return 0
            raise UsageError(f"no templates, Bicep files or plans found in {', '.join(paths)}")
    index = RuleIndex(rules)
    summary = Summary(rules, ir.Severity.parse(args.fail_on), fail_on_unknown=args.fail_on_unknown)
    stats = Stats()
    records = assemble(inputs, index.wanted(), stats) if inputs else iter(())
    if declared:
        records = chain(records, _counted(declared_records(declared, template_options(args), stats.notes),
                                          index, stats))
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
        with _live_errors(live):
            for finding in evaluate_records(index, records):
                summary.add(finding)
                reporter.add(finding)
        status = _scan_status(live, inputs, args)
        if declared:
            status["source"] = "pre-deployment"
        names = tuple(i.name for i in inputs) + tuple(t.shown for t in declared)
        context = ReportContext(names, stats, status)
        reporter.finish(summary, context)
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
    if declared and args.format != "table":  # the table lists the notes itself
        _verbose(args, stats.notes)
    if not context.complete and not args.allow_incomplete:
        print("policyengine: the scan is incomplete (see the report); exit code 3 "
              "(--allow-incomplete to exit by the findings)", file=sys.stderr)
        return 3
    return summary.exit_code


def template_options(args: argparse.Namespace) -> TemplateOptions:
    return TemplateOptions(Path(args.parameters) if args.parameters else None, args.inline_parameters,
                           resource_group=args.resource_group, location=args.location)


def _counted(records: Iterator[Record], index: RuleIndex, stats: Stats) -> Iterator[Record]:
    """Declared records, counted in the report's statistics as export rows are."""
    for record in records:
        stats.rows += 1
        if index.for_record(record):
            stats.resources[record.type] += 1
        else:
            stats.ignored[record.type] += 1
        yield record


def _verbose(args: argparse.Namespace, notes: list[str]) -> None:
    if getattr(args, "verbose", False):
        for note in notes:
            print(f"policyengine: {note}", file=sys.stderr)


def _live_errors(live: object) -> AbstractContextManager[None]:
    if live is None:
        return nullcontext()
    from policyengine.cli.azure import azure_errors

    return azure_errors()


def _scan_status(live: object, inputs: list[Input], args: argparse.Namespace) -> dict[str, Any]:
    """Whether the scan saw everything: from the live scan, or from a snapshot's last line."""
    if live is not None:
        from policyengine.cli.azure import Live, finish

        assert isinstance(live, Live)
        return finish(live, args)
    snapshots: list[dict[str, Any]] = [i.header["status"] for i in inputs
                                       if isinstance(i.header.get("status"), dict)]
    if not snapshots:
        return {"source": "export", "complete": True}
    return {
        "source": "snapshot",
        "complete": all(s.get("complete", True) for s in snapshots),
        "notEvaluated": [n for s in snapshots for n in s.get("notEvaluated", [])],
        "truncated": [t for s in snapshots for t in s.get("truncated", [])],
        "unreadChildren": sum(int(s.get("unreadChildren", 0)) for s in snapshots),
    }


def _is_file_target(path: Path) -> bool:
    return not path.exists() or path.is_file()
