"""Where a scan's time goes: the scan pipeline run in cumulative stages, in this process.

    python bench/scan_stages.py FILE [--rules DIR]... [--repeat 3]

Each stage runs the pipeline up to one more step, over the whole file, and reports its best
wall time of ``--repeat`` runs; the difference between two stages is what the added step
costs:

1. ``parse``: ``json.loads`` of every line (the bare parse of scan_bench.py);
2. ``read``: the rows from :func:`policyengine.sources.export.open_input`;
3. ``assemble``: the records from :func:`policyengine.records.assemble.assemble`;
4. ``evaluate``: the findings from :func:`policyengine.evaluator.evaluate_records`;
5. ``summary``: plus :class:`policyengine.reports.Summary`;
6. ``to_json``: plus each finding's ``to_json()`` (the report's dict, not yet text);
7. ``report``: what ``policyengine scan --format json`` does, the report written to
   /dev/null.

Start-up and rule loading are outside the stages (rules are loaded once, up front).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from policyengine import ir
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.loading.rules import load_rules
from policyengine.records.assemble import assemble
from policyengine.reports import ReportContext, Summary, formats
from policyengine.sources.export import open_input
from policyengine.status import Stats


def stage_parse(path: str, _index: RuleIndex, _rules: tuple[ir.Rule, ...]) -> int:
    count = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            json.loads(line)
            count += 1
    return count


def stage_read(path: str, _index: RuleIndex, _rules: tuple[ir.Rule, ...]) -> int:
    return sum(1 for _ in open_input(path).rows)


def stage_assemble(path: str, index: RuleIndex, _rules: tuple[ir.Rule, ...]) -> int:
    return sum(1 for _ in assemble([open_input(path)], index.wanted(), Stats()))


def stage_evaluate(path: str, index: RuleIndex, _rules: tuple[ir.Rule, ...]) -> int:
    records = assemble([open_input(path)], index.wanted(), Stats())
    return sum(1 for _ in evaluate_records(index, records))


def stage_summary(path: str, index: RuleIndex, rules: tuple[ir.Rule, ...]) -> int:
    summary = Summary(rules, ir.Severity.parse("info"))
    for finding in evaluate_records(index, assemble([open_input(path)], index.wanted(), Stats())):
        summary.add(finding)
    return summary.total()


def stage_to_json(path: str, index: RuleIndex, rules: tuple[ir.Rule, ...]) -> int:
    summary = Summary(rules, ir.Severity.parse("info"))
    for finding in evaluate_records(index, assemble([open_input(path)], index.wanted(), Stats())):
        summary.add(finding)
        finding.to_json()
    return summary.total()


def stage_report(path: str, index: RuleIndex, rules: tuple[ir.Rule, ...]) -> int:
    summary = Summary(rules, ir.Severity.parse("info"))
    stats = Stats()
    inp = open_input(path)
    with open(os.devnull, "w", encoding="utf-8") as out:
        reporter = formats()["json"](out, rules)
        for finding in evaluate_records(index, assemble([inp], index.wanted(), stats)):
            summary.add(finding)
            reporter.add(finding)
        reporter.finish(summary, ReportContext((inp.name,), stats))
    return summary.total()


Stage = Callable[[str, RuleIndex, tuple[ir.Rule, ...]], int]
STAGES: tuple[tuple[str, Stage], ...] = (
    ("parse", stage_parse), ("read", stage_read), ("assemble", stage_assemble),
    ("evaluate", stage_evaluate), ("summary", stage_summary), ("to_json", stage_to_json),
    ("report", stage_report),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time a scan's pipeline stage by stage.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--rules", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rules = load_rules(args.rules)
    index = RuleIndex(rules)
    parse_time = previous = 0.0
    print(f"{'stage':<9} {'items':>9} {'best s':>8} {'+ step s':>9} {'x parse':>8}")
    for name, stage in STAGES:
        best = float("inf")
        count = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            count = stage(str(args.file), index, rules)
            best = min(best, time.perf_counter() - start)
        parse_time = parse_time or best
        print(f"{name:<9} {count:>9} {best:>8.2f} {best - previous:>+9.2f} "
              f"{best / parse_time:>8.2f}", flush=True)
        previous = best
    return 0


if __name__ == "__main__":
    sys.exit(main())
