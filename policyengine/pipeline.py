"""The scan pipeline, in named stages: options → rules → sources → evaluate → report → exit code.

The command line only parses and hands over (:func:`policyengine.cli.scan.run_scan`); this
module does the work, so ``explain`` and the tests drive the same stages. Errors belong to
the smallest unit that has them: a source that cannot read a file, row or resource records
an input error and goes on, the reports are written with the errors in them, and only then
does the exit code say 2 (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import gc
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from itertools import chain
from pathlib import Path

from policyengine import frameworks, ir
from policyengine.baseline import load_baseline, mark
from policyengine.config import Config, Output, find_config, load_config
from policyengine.errors import InputError, UsageError
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Finding, Waiver
from policyengine.loading.rules import load_rules
from policyengine.missing import MissingData
from policyengine.records.assemble import OutOfOrder
from policyengine.records.model import Record
from policyengine.sources import DeclaredSource, ExportSource, Source, combined_status
from policyengine.sources.declared import Kind, Target, TemplateOptions, discover
from policyengine.sources.export import open_input
from policyengine.sources.progress import no_progress
from policyengine.status import InputProblem, ScanStatus, Stats, sorted_problems

EXAMPLE = "estate.json"
#: Exports at least this large (together) are never held whole in memory: streamed when their
#: rows are parent-first, sorted on disk when not (records/assemble.py, ``Order``).
LARGE_INPUT = 32 << 20
#: Allocations between two young-generation collections during a scan (Python's default: 700).
YOUNG_THRESHOLD = 20_000
#: Input errors printed on stderr (all of them are in the reports).
SHOWN_ERRORS = 10


def example_path() -> str:
    return str(resources.files("policyengine") / "data" / "examples" / EXAMPLE)


# -- stage 1: options --------------------------------------------------------------------------

@dataclass(frozen=True)
class ScanOptions:
    """Everything a scan is asked to do: the command line merged over the configuration file
    once, here, so no later stage reads either."""

    paths: tuple[str, ...] = ()
    rule_dirs: tuple[str, ...] = ()
    bundled_rules: bool = True
    rule_ids: tuple[str, ...] = ()
    #: ``--skip-rule``: ids or globs of rules to leave out.
    skip_rule_ids: tuple[str, ...] = ()
    outputs: tuple[Output, ...] = (Output("table"),)
    fail_on: ir.Severity = ir.Severity.INFO
    fail_on_unknown: bool = False
    #: ``--gate all``: the posture rules set the exit code too.
    gate_all: bool = False
    waivers: tuple[str, ...] = ()
    baseline: str | None = None
    framework: str | None = None
    templates: TemplateOptions = field(default_factory=TemplateOptions)
    pre_deployment: bool = False
    skip_paths: tuple[str, ...] = ()
    allow_incomplete: bool = False
    #: ``--catalog`` files (a live scan plans its queries from them; every scan checks them).
    catalogs: tuple[str, ...] = ()
    verbose: bool = False
    #: ``--quiet``: the table's summary only, and nothing on stderr but errors.
    quiet: bool = False
    #: ``--compact``: one line per failing finding in the table.
    compact: bool = False
    #: ``--soft-fail``: findings never fail the scan (input errors and gaps still do).
    soft_fail: bool = False
    #: Progress of a large export on stderr when it is a terminal (not with --quiet or --no-progress).
    progress: bool = False
    #: Large exports sorted on disk from the start: set when a first, optimistic read met a
    #: row out of parent-first order (docs/architecture.md, "Input order").
    sort_exports: bool = False
    #: ``--azure``: the parsed live-scan options (the live source reads them).
    live: argparse.Namespace | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, config: Config | None = None) -> ScanOptions:
        from policyengine.cli.outputs import pair

        config = config or Config()
        outputs = (pair(args.format, args.output) if (args.format or args.output)
                   else list(config.outputs) or [Output("table")])
        return cls(
            paths=tuple(args.paths or config.paths),
            rule_dirs=tuple(args.rules or config.rules),
            bundled_rules=not args.no_bundled_rules and config.bundled_rules,
            rule_ids=tuple(getattr(args, "rule", ())),
            skip_rule_ids=tuple(getattr(args, "skip_rule", ())),
            outputs=tuple(outputs),
            fail_on=ir.Severity.parse(args.fail_on or config.fail_on or "info"),
            fail_on_unknown=bool(args.fail_on_unknown or config.fail_on_unknown),
            gate_all=(args.gate or config.gate or "default") == "all",
            waivers=tuple(args.waivers or config.waivers),
            baseline=args.baseline or config.baseline,
            framework=args.framework or config.framework,
            templates=template_options(args),
            pre_deployment=bool(getattr(args, "pre_deployment", False)),
            skip_paths=tuple(getattr(args, "skip_path", ()) or ()) + config.skip_paths,
            allow_incomplete=bool(getattr(args, "allow_incomplete", False)),
            catalogs=tuple(getattr(args, "catalog", ()) or ()),
            verbose=bool(getattr(args, "verbose", False)),
            quiet=bool(getattr(args, "quiet", False)),
            compact=bool(getattr(args, "compact", False)),
            soft_fail=bool(getattr(args, "soft_fail", False)),
            progress=not no_progress(args),
            live=args if getattr(args, "azure", False) else None,
        )


def load_scan_config(args: argparse.Namespace) -> Config:
    path = find_config(getattr(args, "config", None))
    return load_config(path) if path is not None else Config()


def template_options(args: argparse.Namespace) -> TemplateOptions:
    return TemplateOptions(Path(args.parameters) if args.parameters else None, args.inline_parameters,
                           resource_group=args.resource_group, location=args.location)


# -- stage 2: rules ----------------------------------------------------------------------------

def pick_rules(rule_dirs: Sequence[str], bundled: bool, wanted: Sequence[str],
               skipped: Sequence[str] = ()) -> tuple[ir.Rule, ...]:
    """The rules to evaluate: the directories' and the bundled ones, narrowed to ``wanted``
    and without ``skipped`` (each: ids, comma-separated, or globs, case-insensitive)."""
    rules = load_rules([Path(p) for p in rule_dirs], include_bundled=bundled)
    if wanted:
        chosen = rule_matcher(rules, wanted, "--rule")
        rules = tuple(r for r in rules if chosen(r))
    if skipped:
        left_out = rule_matcher(rules, skipped, "--skip-rule")
        rules = tuple(r for r in rules if not left_out(r))
    if not rules:
        raise UsageError("no rules to evaluate")
    return rules


def rule_matcher(rules: Sequence[ir.Rule], given: Sequence[str], option: str) -> Callable[[ir.Rule], bool]:
    """Whether a rule is among ``given``: ids, comma-separated, globs (any case), or
    ``tag:NAME`` for the rules with that tag (``tag:core``, the original SSL, TLS and
    threat-protection set). A pattern that matches no rule is a usage error with the closest
    id or tag: a typo must not silently select nothing or skip nothing."""
    written = [p.strip() for text in given for p in text.split(",") if p.strip()]
    patterns = [p.lower() for p in written]
    ids = [r.id.lower() for r in rules]
    tags = sorted({t.lower() for r in rules for t in r.metadata.tags})
    for shown, pattern in zip(written, patterns, strict=True):
        if pattern.startswith(TAG):
            if pattern[len(TAG):] not in tags:
                close = difflib.get_close_matches(pattern[len(TAG):], tags, n=1, cutoff=0.6)
                hint = f" (did you mean {TAG}{close[0]}?)" if close else ""
                raise UsageError(f"{option} {shown}: no rule has this tag{hint}; see `policyengine rules "
                                 "list`")
        elif not fnmatch.filter(ids, pattern):
            close = difflib.get_close_matches(pattern, ids, n=1, cutoff=0.6)
            named = [r.id for r in rules if close and r.id.lower() == close[0]]
            hint = f" (did you mean {named[0]}?)" if named else ""
            raise UsageError(f"{option} {shown}: no rule has this id{hint}; see `policyengine rules list`")

    def matches(rule: ir.Rule) -> bool:
        lowered = rule.id.lower()
        return any(p[len(TAG):] in (t.lower() for t in rule.metadata.tags) if p.startswith(TAG)
                   else fnmatch.fnmatchcase(lowered, p) for p in patterns)

    return matches


#: ``--rule tag:core``: the rules with a tag.
TAG = "tag:"


def selected_rules(args: argparse.Namespace, config: Config | None = None) -> tuple[ir.Rule, ...]:
    """The rules a command's ``--rules``, ``--no-bundled-rules`` and ``--rule`` ask for."""
    return pick_rules(list(args.rules) or list(config.rules if config else ()),
                      not args.no_bundled_rules and (config.bundled_rules if config else True),
                      getattr(args, "rule", []), getattr(args, "skip_rule", []))


# -- stage 3: sources --------------------------------------------------------------------------

def open_sources(options: ScanOptions, rules: tuple[ir.Rule, ...]) -> list[Source]:
    """The sources the options name: live Azure, or the files and directories given (with no
    path, the bundled example estate, which stderr mentions)."""
    if options.live is not None:
        if options.paths:
            raise UsageError("give export files or --azure, not both")
        from policyengine.sources.azure.session import open_live

        return [open_live(options.live, rules)]
    return file_sources(options)


def file_sources(options: ScanOptions) -> list[Source]:
    """Exports opened as streams, and the templates, Bicep files and plans to expand. With
    ``--pre-deployment`` finding nothing is fine; otherwise it is a usage error."""
    paths = list(options.paths)
    if not paths:
        paths = [example_path()]
        if not options.quiet:
            say(f"policyengine: no PATH: scanning the bundled example (examples/{EXAMPLE})")
    shown = {example_path(): f"examples/{EXAMPLE}"}
    found = discover(paths, pre_deployment=options.pre_deployment, skip=options.skip_paths)
    verbose(options, found.notes)
    sources: list[Source] = []
    exports = [t for t in found.targets if t.kind is Kind.EXPORT]
    declared = [t for t in found.targets if t.kind is not Kind.EXPORT]
    problems: list[InputProblem] = list(found.problems)
    if exports:
        inputs = []
        for target in exports:
            try:
                inputs.append(open_input(str(target.path), shown.get(str(target.path), target.shown),
                                         progress=options.progress))
            except InputError as exc:  # this file only: the others are still read
                problems.append(InputProblem.of(exc, file=target.shown))
        sources.append(ExportSource(inputs, problems, export_order(exports, options)))
    if declared:
        sources.append(DeclaredSource(declared, options.templates))
    if not sources and problems:
        sources.append(ExportSource([], problems))
    if not sources and not options.pre_deployment:
        raise UsageError(f"no templates, Bicep files, plans or exports found in {', '.join(paths)}")
    return sources


def export_order(exports: Sequence[Target], options: ScanOptions) -> str:
    """How the exports' rows are read: small ones, or any read from a pipe, in memory; large
    files streamed, as if parent-first when there is one (the scan reads it again, sorted,
    if a row shows it is not: :func:`run`), else sorted on disk."""
    sizes = []
    for target in exports:
        try:
            status = os.stat(target.path)
        except OSError:
            return "buffered"
        if not stat.S_ISREG(status.st_mode):
            return "buffered"  # a pipe is read once: nothing to read again
        sizes.append(status.st_size)
    if sum(sizes) < LARGE_INPUT:
        return "buffered"
    return "sorted" if options.sort_exports or len(exports) > 1 else "optimistic"


def judged(sources: Sequence[Source], index: RuleIndex, log: Stats) -> Iterator[Finding]:
    """Every (rule, record) verdict of every source, in order; the files of a pre-deployment
    scan on every core when there are many (policyengine/parallel.py)."""
    for source in sources:
        if isinstance(source, DeclaredSource):
            from policyengine import parallel

            yield from parallel.judged(source, index, log)
        else:
            yield from evaluate_records(index, source.records(index.wanted(), log))


def read_records(sources: Sequence[Source], index: RuleIndex, log: Stats) -> Iterator[Record]:
    """Every record of every source, in order."""
    wanted = index.wanted()
    return chain.from_iterable(source.records(wanted, log) for source in sources)


def verbose(options: ScanOptions, notes: Sequence[str]) -> None:
    if options.verbose:
        for note in notes:
            say(f"policyengine: {note}")


def say(line: str) -> None:
    """One line on stderr; text from the input (a resource id, a file name) cannot move the
    cursor, change colours or fake another line."""
    from policyengine.reports.common import terminal

    print(terminal(line, one_line=True), file=sys.stderr)


# -- stages 4-6: evaluate, report, exit code ---------------------------------------------------

def run(options: ScanOptions) -> int:
    """Run a scan from options to exit code."""
    rules = pick_rules(options.rule_dirs, options.bundled_rules, options.rule_ids, options.skip_rule_ids)
    if options.catalogs:  # a broken catalog is bad usage, whether or not this scan plans queries
        from policyengine.catalog import catalog

        catalog(*(Path(f) for f in options.catalogs))
    chosen = frameworks.framework(rules, options.framework) if options.framework else None
    from policyengine.waivers import load_waivers

    waivers = load_waivers([Path(w) for w in options.waivers])
    baseline = load_baseline(Path(options.baseline)) if options.baseline else frozenset()
    while True:
        sources = open_sources(options, rules)
        if not sources:
            print("policyengine: no templates, Bicep files or plans to scan", file=sys.stderr)
            return 0
        try:
            return _scan(options, rules, sources, chosen=chosen, accepted=waivers, baseline=baseline)
        except OutOfOrder as exc:
            # Nothing was committed (the reports were being written aside): read it again.
            verbose(options, [f"{exc}: the input is not parent-first; reading it again, "
                              "sorted on disk"])
            options = replace(options, sort_exports=True)


def _scan(options: ScanOptions, rules: tuple[ir.Rule, ...], sources: list[Source], *,
          chosen: frameworks.Framework | None, accepted: Sequence[Waiver], baseline: frozenset[str]) -> int:
    """Evaluate every record of ``sources``, write the reports, and say the exit code."""
    from policyengine.cli.outputs import Outputs
    from policyengine.reports import ADVISORY, ReportContext, Summary, reporter_factory
    from policyengine.reports.layout import terminal_width
    from policyengine.waivers import WaiverBook

    waivers = WaiverBook(accepted)  # afresh for each read: it counts what each waiver matched
    index = RuleIndex(rules)
    summary = Summary(rules, options.fail_on, fail_on_unknown=options.fail_on_unknown,
                      advisory=frozenset() if options.gate_all else ADVISORY)
    log = Stats()
    missing = MissingData()
    outputs = Outputs(options.outputs)
    try:
        reporters = [reporter_factory(o.format)(o.handle, rules) for o in outputs.open]
        with _settled_heap():
            for raw in judged(sources, index, log):
                finding = waivers.apply(mark(raw, baseline))
                summary.add(finding)
                missing.add(finding)
                for reporter in reporters:
                    reporter.add(finding)
        status = combined_status(sources)
        status.input_errors = sorted_problems([*status.input_errors, *log.errors])
        status.missing = missing.result()
        names = tuple(name for source in sources for name in source.names)
        context = ReportContext(names, log, status, chosen, waivers.report(), options.baseline,
                                quiet=options.quiet, compact=options.compact, width=terminal_width())
        for reporter in reporters:
            reporter.finish(summary, context)
    except BaseException:
        outputs.abort()
        raise
    outputs.commit()
    for warning in waivers.warnings():
        say(f"policyengine: {warning}")
    if any(o.format != "table" or o.file for o in options.outputs):
        verbose(options, log.notes)  # a table on the terminal lists the notes itself
    if not options.quiet and not table_on_stdout(options):
        for line in missing.lines(terminal_width()):
            say(line)
    return exit_code(status, 0 if options.soft_fail else summary.exit_code, options)


@contextmanager
def _settled_heap() -> Iterator[None]:
    """While records stream past: what is loaded so far (modules, rules, schemas) out of the
    garbage collector's sight, and young objects left to pile up longer before a collection.
    A scan makes and drops millions of short-lived objects and keeps few, so the default
    thresholds spend much of a large scan re-walking a heap that holds no cycles to free
    (https://docs.python.org/3/library/gc.html#gc.freeze). Restored afterwards: a process
    that runs several scans (the tests) keeps its collector as it was."""
    gc.freeze()  # no collection first: in a long-lived process (the tests) it would walk all
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def table_on_stdout(options: ScanOptions) -> bool:
    """Whether the table report goes to a terminal on standard output, which then shows the
    input errors and the missing data itself (stderr, on the same screen, need not repeat them)."""
    return sys.stdout.isatty() and any(o.format == "table" and o.file is None for o in options.outputs)


def exit_code(status: ScanStatus, findings: int, options: ScanOptions) -> int:
    """2 for input errors, 3 for an incomplete scan (unless allowed), else the findings'
    code; each non-zero code but the findings' is explained on stderr."""
    if status.input_errors:
        listed = 0 if table_on_stdout(options) else SHOWN_ERRORS  # else the table lists them
        for problem in status.input_errors[:listed]:
            say(problem.text())
        count = len(status.input_errors)
        more = f" ({count - listed} more in the report)" if 0 < listed < count else ""
        print(f"policyengine: {count} input error{'s' if count > 1 else ''}{more}; everything else was "
              "judged; exit code 2", file=sys.stderr)
        return 2
    if not status.complete and not options.allow_incomplete:
        print("policyengine: the scan is incomplete (see the report); exit code 3 "
              "(--allow-incomplete to exit by the findings)", file=sys.stderr)
        return 3
    return findings
