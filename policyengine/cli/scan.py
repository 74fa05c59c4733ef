"""``policyengine scan``: rules × export → report → exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any

from policyengine import frameworks, ir
from policyengine.baseline import load_baseline, mark
from policyengine.cli.outputs import Outputs, pair
from policyengine.config import Config, Output, find_config, load_config
from policyengine.errors import UsageError
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.loading.rules import load_rules
from policyengine.records.assemble import Stats, assemble
from policyengine.records.model import Record
from policyengine.records.reader import Input, open_input
from policyengine.reports import ReportContext, Summary, reporter_factory
from policyengine.sources.declared import Kind, Target, TemplateOptions, declared_records, discover
from policyengine.waivers import WaiverBook, load_waivers

EXAMPLE = "estate.json"


def example_path() -> str:
    return str(resources.files("policyengine") / "data" / "examples" / EXAMPLE)


def selected_rules(args: argparse.Namespace, config: Config | None = None) -> tuple[ir.Rule, ...]:
    rule_dirs = list(args.rules) or list(config.rules if config else ())
    bundled = not args.no_bundled_rules and (config.bundled_rules if config else True)
    rules = load_rules([Path(p) for p in rule_dirs], include_bundled=bundled)
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
    config = _config(args)
    rules = selected_rules(args, config)
    live = None
    if args.azure:
        if args.paths:
            raise UsageError("give export files or --azure, not both")
        from policyengine.cli.azure import open_live

        live = open_live(args, rules)
        inputs = [live.input]
        declared: list[Target] = []
    else:
        inputs, declared = open_files(args, args.paths or list(config.paths))
        if not inputs and not declared:
            print("policyengine: no templates, Bicep files or plans to scan", file=sys.stderr)
            return 0
    framework_id = args.framework or config.framework
    chosen = frameworks.framework(rules, framework_id) if framework_id else None
    waivers = WaiverBook(load_waivers([Path(w) for w in (args.waivers or config.waivers)]))
    baseline_file = args.baseline or config.baseline
    baseline = load_baseline(Path(baseline_file)) if baseline_file else frozenset()
    index = RuleIndex(rules)
    fail_on = args.fail_on or config.fail_on or "info"
    summary = Summary(rules, ir.Severity.parse(fail_on),
                      fail_on_unknown=args.fail_on_unknown or config.fail_on_unknown)
    stats = Stats()
    records = read_records(args, index, inputs, declared, stats)
    wanted_outputs = pair(args.format, args.output) if (args.format or args.output) else \
        list(config.outputs) or [Output("table")]
    outputs = Outputs(wanted_outputs)
    try:
        reporters = [reporter_factory(o.format)(o.handle, rules) for o in outputs.open]
        with _live_errors(live):
            for raw in evaluate_records(index, records):
                finding = waivers.apply(mark(raw, baseline))
                summary.add(finding)
                for reporter in reporters:
                    reporter.add(finding)
        status = _scan_status(live, inputs, args)
        if declared:
            status["source"] = "pre-deployment"
        names = tuple(i.name for i in inputs) + tuple(t.shown for t in declared)
        context = ReportContext(names, stats, status, chosen, waivers.report(), baseline_file,
                                quiet=bool(getattr(args, "quiet", False)))
        for reporter in reporters:
            reporter.finish(summary, context)
    except BaseException:
        outputs.abort()
        raise
    outputs.commit()
    for warning in waivers.warnings():
        print(f"policyengine: {warning}", file=sys.stderr)
    if declared and any(o.format != "table" or o.file for o in wanted_outputs):
        _verbose(args, stats.notes)  # a table on the terminal lists the notes itself
    if not context.complete and not args.allow_incomplete:
        print("policyengine: the scan is incomplete (see the report); exit code 3 "
              "(--allow-incomplete to exit by the findings)", file=sys.stderr)
        return 3
    return summary.exit_code


def open_files(args: argparse.Namespace, paths: list[str]) -> tuple[list[Input], list[Target]]:
    """The inputs ``paths`` name: exports opened as streams, and the templates, Bicep files and
    plans to expand (with no path, the bundled example estate). With ``--pre-deployment``
    finding nothing is fine (both lists empty); otherwise it is a usage error."""
    paths = paths or [example_path()]
    shown = {example_path(): f"examples/{EXAMPLE}"}
    found = discover(paths, pre_deployment=getattr(args, "pre_deployment", False))
    _verbose(args, found.notes)
    declared = [t for t in found.targets if t.kind is not Kind.EXPORT]
    inputs = [open_input(str(t.path), shown.get(str(t.path), t.shown))
              for t in found.targets if t.kind is Kind.EXPORT]
    if not inputs and not declared and not getattr(args, "pre_deployment", False):
        raise UsageError(f"no templates, Bicep files or plans found in {', '.join(paths)}")
    return inputs, declared


def read_records(args: argparse.Namespace, index: RuleIndex, inputs: list[Input], declared: list[Target],
                 stats: Stats) -> Iterator[Record]:
    """Every record of the inputs: exports assembled, then templates and plans expanded."""
    records: Iterator[Record] = assemble(inputs, index.wanted(), stats) if inputs else iter(())
    if declared:
        records = chain(records, _counted(declared_records(declared, template_options(args), stats.notes),
                                          index, stats))
    return records


def _config(args: argparse.Namespace) -> Config:
    path = find_config(getattr(args, "config", None))
    return load_config(path) if path is not None else Config()


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
