"""The command line. ``main(argv) -> int`` returns the exit code, so tests call it directly.

Exit codes (docs/architecture.md, "Exit codes"): 0 nothing failing at or above ``--fail-on``;
1 findings at or above it of the rules that gate (posture rules only with ``--gate all``), or
failing rule tests; 2 bad usage, invalid rules or unreadable input; 3 the evaluation could not
complete; 130 interrupted (SIGINT), 143 terminated (SIGTERM), with what was being written
removed.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import importlib
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import NoReturn

from policyengine import __version__
from policyengine.errors import PolicyEngineError, RuleLoadErrors

SEVERITIES = ("critical", "high", "medium", "low", "info")
# The same names as policyengine.reports.FORMAT_NAMES (a test holds them equal); spelled out
# here so that --help imports no report module.
FORMATS = ("table", "json", "sarif", "junit", "csv", "markdown", "html", "script")
CONFIG_NAME = "policyengine.yaml"


def add_azure_options(parser: argparse.ArgumentParser) -> None:
    """The live-scan options (defined here: --help must not import the Azure SDK)."""
    from policyengine.cli.options import add_azure_options as add

    add(parser)


def _add_rule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", metavar="DIR", action="append", default=[],
                        help="a directory (or file) of custom rules, added to the bundled ones; repeatable")
    parser.add_argument("--no-bundled-rules", action="store_true",
                        help="use only the rules given with --rules")


def _add_catalog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", metavar="FILE", action="append", default=[],
                        help="a resource-type catalog file merged over the bundled one (where your own "
                        "types are read from, in Resource Graph or ARM); repeatable")


def _add_template_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("templates (pre-deployment)")
    if parser.prog.endswith("scan"):
        group.add_argument("--pre-deployment", action="store_true",
                           help="scan only templates, Bicep files and plans, skipping other files even "
                           "when named (for pre-commit hooks, which pass every staged file)")
    group.add_argument("--parameters", metavar="FILE",
                       help="a deployment parameters file for the template (default: x.parameters.json "
                       "beside x.json, if there is one)")
    group.add_argument("-p", "--parameter", metavar="NAME=VALUE", action="append", default=[],
                       dest="inline_parameters", help="a parameter value, converted to the parameter's "
                       "declared type (arrays and objects as JSON); repeatable, overrides --parameters")
    group.add_argument("--resource-group", metavar="NAME",
                       help="the resource group the template will be deployed to (default: unknown)")
    group.add_argument("--location", metavar="REGION",
                       help="the resource group's location, for resourceGroup().location (default: unknown)")


class Parser(argparse.ArgumentParser):
    """argparse, with a did-you-mean for a mistyped command, choice or option."""

    #: The command line being parsed, to find the command whose options a mistyped one is near.
    argv: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        hint = did_you_mean(self, message, self.argv)
        super().error(f"{message}{hint}")


def did_you_mean(parser: argparse.ArgumentParser, message: str, argv: Sequence[str]) -> str:
    """`` (did you mean X?)`` for the closest command, choice or option to what was mistyped."""
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if choice:
        return _closest(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
    unknown = re.match(r"unrecognized arguments: (.*)$", message)
    if unknown:
        options = _options(parser, argv)
        for word in unknown.group(1).split():
            if word.startswith("-"):
                hint = _closest(word.split("=", 1)[0], options)
                if hint:
                    return hint
    return ""


def _closest(word: str, candidates: Sequence[str]) -> str:
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not found:
        found = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {found[0]}?)" if found else ""


def _options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The option strings of the (sub)command ``argv`` names."""
    words = iter(argv)
    while True:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        nxt = next((w for w in words if not w.startswith("-")), None)
        if not subparsers or nxt is None or nxt not in subparsers[0].choices:
            break
        parser = subparsers[0].choices[nxt]
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="policyengine",
        description="Policy-as-code security checks for Azure Database for PostgreSQL.",
    )
    parser.add_argument("--version", action="version", version=f"policyengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    scan = sub.add_parser("scan", help="evaluate rules against exports, templates, plans or live Azure",
                          description="Evaluate rules against Azure Resource Graph exports "
                          "(az graph query JSON, a JSON array of rows, or NDJSON), ARM templates, "
                          "Bicep files and Terraform plans (terraform show -json), found by content; "
                          "a directory is searched for templates, Bicep files and plans. With no "
                          "PATH, scans the bundled example estate.")
    scan.add_argument("paths", nargs="*", metavar="PATH",
                      help="export, template, Bicep or plan files, or directories ('-': an export on stdin)")
    _add_rule_options(scan)
    _add_catalog_option(scan)
    scan.add_argument("--rule", metavar="ID", action="append", default=[],
                      help="evaluate only these rules: ids, comma-separated, globs (PG-FLEX-*); repeatable")
    scan.add_argument("--skip-rule", metavar="ID", action="append", default=[],
                      help="leave these rules out: ids, comma-separated, globs; repeatable")
    scan.add_argument("--skip-path", metavar="GLOB", action="append", default=[],
                      help="leave out files and folders matching GLOB, walked or named (a pattern "
                      "without '/' matches a name at any depth); repeatable")
    reports = scan.add_argument_group("reports and exit code")
    reports.add_argument("--format", "-f", type=str.lower, choices=FORMATS, action="append", default=[],
                         metavar="FORMAT", help=f"report format: {', '.join(FORMATS)} (default: from the "
                         "--output file's extension, else table); repeatable, each with its own --output")
    reports.add_argument("--output", "-o", metavar="FILE", action="append", default=[],
                         help="write the report of the matching --format here (default, or -: stdout); "
                         ".json .sarif .xml .csv .md .html .sh .txt choose the format when --format "
                         "is not given")
    reports.add_argument("--fail-on", type=str.lower, choices=SEVERITIES, default=None, metavar="SEVERITY",
                         help="exit 1 if a failure at or above this severity is found "
                         "(critical, high, medium, low, info; default info: any failure)")
    reports.add_argument("--soft-fail", action="store_true",
                         help="exit 0 whatever is found (the reports are still written; input errors "
                         "and an incomplete scan still exit 2 and 3)")
    shown = reports.add_mutually_exclusive_group()
    shown.add_argument("--compact", action="store_true",
                       help="table: one line per failing finding (severity, rule, resource, what was seen)")
    shown.add_argument("--quiet", "-q", action="store_true",
                       help="table: the summary only; nothing on stderr but errors")
    reports.add_argument("--gate", choices=("default", "all"), type=str.lower,
                         help="which rules set the exit code: default, every rule but the bundled posture "
                         "rules (tag posture: reported, not counted); all (default: default)")
    reports.add_argument("--fail-on-unknown", action="store_true",
                         help="count unknown verdicts (values known only at deployment, data not read) "
                         "as failures for --fail-on")
    reports.add_argument("--waivers", metavar="FILE", action="append", default=[],
                         help="a waiver file (YAML): accepted failures, with justification, owner and "
                         "expiry; repeatable")
    reports.add_argument("--baseline", metavar="REPORT",
                         help="a previous JSON report: failures already in it are reported but do not "
                         "count toward the exit code")
    reports.add_argument("--framework", metavar="ID",
                         help="show every control of a framework with its status: failing, passing, "
                         "unknown, or not covered by the rules (see `policyengine frameworks`)")
    reports.add_argument("--config", metavar="FILE",
                         help=f"a configuration file (default: {CONFIG_NAME} in the working directory, "
                         "if there is one)")
    _add_template_options(scan)
    add_azure_options(scan)

    expand = sub.add_parser("expand", help="show a template as the scanner sees it",
                            description="Expand an ARM template (or Bicep file): print, as JSON, every "
                            "resource after copy loops, conditions and nested deployments, with its "
                            "full type and name, its evaluated properties (values known only at "
                            "deployment marked {\"$unknown\": ...}) and where it is in the file, and "
                            "the template's outputs.")
    expand.add_argument("template", metavar="TEMPLATE")
    _add_template_options(expand)

    collect = sub.add_parser("collect", help="write a snapshot of live Azure to replay offline",
                             description="Read live Azure exactly as `scan --azure` does and write "
                             "what it saw as an NDJSON snapshot: `policyengine scan SNAPSHOT` "
                             "replays the same verdicts.")
    collect.add_argument("--output", "-o", metavar="FILE", required=True)
    collect.add_argument("--quiet", "-q", action="store_true", help="nothing on stderr but errors")
    collect.add_argument("--rule", metavar="ID", action="append", default=[],
                         help="collect only what this rule needs; repeatable")
    _add_rule_options(collect)
    _add_catalog_option(collect)
    add_azure_options(collect)

    compile_ = sub.add_parser("compile", help="print the Resource Graph query plan",
                              description="Compile rules into Azure Resource Graph (KQL) queries: "
                              "one query per resource type for all the rules on it, with the ARM "
                              "reads for what Resource Graph cannot see.")
    _add_rule_options(compile_)
    _add_catalog_option(compile_)
    compile_.add_argument("--rule", metavar="ID", action="append", default=[],
                          help="compile only this rule; repeatable")
    compile_.add_argument("--format", choices=("kql", "json"), default="kql")
    compile_.add_argument("--summary", action="store_true",
                          help="print the summary queries: verdict counts per rule and subscription, "
                          "computed by Resource Graph itself")

    explain = sub.add_parser("explain", help="show why a rule gave a resource its verdict",
                             description="Evaluate one rule on one resource and print the rule's "
                             "condition tree: each branch with its verdict, each comparison with the "
                             "value it read, and how related resources were found. The resource comes "
                             "from the same inputs as scan (default: the bundled example).")
    explain.add_argument("rule_id", metavar="RULE")
    explain.add_argument("resource", metavar="RESOURCE",
                         help="a resource id, a name, resourceGroup/name, or a template address")
    explain.add_argument("paths", nargs="*", metavar="PATH", help="exports, templates, plans or directories")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    _add_rule_options(explain)
    _add_template_options(explain)

    new = sub.add_parser("new", help="scaffold a new rule file",
                         description="Write a rule file to start from: the schema line, metadata, a "
                         "condition on a real property of the type, and a passing and a failing test.")
    new_sub = new.add_subparsers(dest="new_command", metavar="WHAT", required=True)
    new_rule = new_sub.add_parser("rule", help="a rule file")
    new_rule.add_argument("id", metavar="ID", help="the rule id, e.g. ACME-PG-001")
    new_rule.add_argument("--resource", default="Microsoft.DBforPostgreSQL/flexibleServers",
                          help="the resource type the rule judges (default: flexible servers)")
    new_rule.add_argument("--title", default="Describe what a compliant resource looks like")
    new_rule.add_argument("--severity", choices=SEVERITIES, default="medium")
    new_rule.add_argument("--output", "-o", metavar="FILE", help="where to write it (default: ID.yaml)")
    new_rule.add_argument("--force", action="store_true", help="overwrite an existing file")

    from policyengine.cli.export import add_export_command

    add_export_command(sub, _add_rule_options)

    frameworks = sub.add_parser("frameworks", help="list the compliance frameworks and how many controls "
                                "the rules cover",
                                description="List the compliance frameworks (those with a bundled "
                                "definition and those the rules' control mappings name) with how many of "
                                "their controls the rules cover; with ID, every control of that framework, "
                                "the rules that cover it, or why none does. Use one with scan --framework "
                                "ID.")
    frameworks.add_argument("framework_id", nargs="?", metavar="ID",
                            help="a framework to list the controls of")
    _add_rule_options(frameworks)

    rules = sub.add_parser("rules", help="list or show rules")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    listing = rules_sub.add_parser("list", help="list the rules")
    _add_rule_options(listing)
    show = rules_sub.add_parser("show", help="show one rule")
    show.add_argument("rule_id", metavar="ID")
    _add_rule_options(show)

    test = sub.add_parser("test", help="run the rules' inline tests",
                          description="Run the inline tests of rules. With no PATH and no "
                          "--rules, tests the bundled rules; otherwise only the rules given.")
    test.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories")
    test.add_argument("--rules", metavar="DIR", action="append", default=[],
                      help="a rule directory to test; repeatable")

    doctor = sub.add_parser("doctor", help="check sign-in, roles and the query dialect for live scans",
                            description="With your credentials, in a few requests: whether sign-in "
                            "works, which subscriptions are visible, whether securityresources and the "
                            "ARM reads of server children are allowed, and whether Resource Graph "
                            "accepts each class of KQL construct the compiled queries use. One line "
                            "per check (ok, FAIL with the fix, skip); exit 3 if any fails.")
    doctor.add_argument("--format", choices=("text", "json"), default="text")
    doctor.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    _add_rule_options(doctor)
    _add_catalog_option(doctor)
    add_azure_options(doctor)

    from policyengine.cli.lint import add_lint_command

    add_lint_command(sub)
    return parser


#: Each command's module (under policyengine.cli) and function, imported when it runs: --help
#: and one command never load the others.
COMMANDS = {
    "scan": ("scan", "run_scan"),
    "collect": ("azure", "run_collect"),
    "expand": ("expand", "run_expand"),
    "compile": ("compile", "run_compile"),
    "explain": ("explain", "run_explain"),
    "new": ("new", "run_new"),
    "export": ("export", "run_export"),
    "frameworks": ("rules", "run_frameworks"),
    "rules": ("rules", "run_rules"),
    "lint": ("lint", "run_lint"),
    "doctor": ("doctor", "run_doctor"),
    "test": ("rules", "run_test"),
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so it unwinds as Ctrl-C does: every ``except
    BaseException`` on the way removes what it was writing (a ``.partial`` report)."""


#: Exit codes for a signal: 128 + its number, as a shell reports a process it killed.
INTERRUPTED = 128 + signal.SIGINT
TERMINATED = 128 + signal.SIGTERM
#: A bug: the evaluation could not complete (docs/architecture.md, "Exit codes").
INTERNAL_ERROR = 3


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated`; the handler before is put back
    after. (Only the main thread can handle signals: elsewhere, nothing changes.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        # Once: a second SIGTERM while the first unwinds must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """The command line parsed, paths allowed anywhere: argparse takes a command's PATH
    arguments in one run, so ``scan a.json --rule X b.json`` would leave ``b.json`` over; a
    word left over that is not an option is one more path."""
    args, extra = parser.parse_known_args(argv)
    paths = getattr(args, "paths", None)
    if extra and (paths is None or any(word.startswith("-") and word != "-" for word in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.paths = [*(paths or ()), *extra]
    return args


@contextlib.contextmanager
def _progress_erased() -> Iterator[None]:
    """A progress line on stderr erased before whatever ends the command is said (an error,
    Ctrl-C): the message starts on a line of its own."""
    try:
        yield
    except BaseException:
        progress = sys.modules.get("policyengine.sources.progress")
        if progress is not None:
            progress.clear_all()
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # `policyengine` alone: what it can do, not an error
        parser.print_help()
        return 0
    Parser.argv = argv
    try:
        args = parse(parser, argv)
    except SystemExit as exc:  # argparse: --help is 0, bad usage is 2
        return int(exc.code or 0)
    try:
        with _sigterm_as_interrupt(), _progress_erased():
            module, function = COMMANDS[args.command]
            run_command: Callable[[argparse.Namespace], int] = getattr(
                importlib.import_module(f"policyengine.cli.{module}"), function)
            return run_command(args)
    except PolicyEngineError as exc:
        from policyengine.reports.common import terminal

        located = exc.span is not None or isinstance(exc, RuleLoadErrors)
        print(terminal(str(exc) if located else f"policyengine: {exc}"), file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("policyengine: terminated", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("policyengine: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # A command's own output (reports handle theirs: cli/outputs.py) on a full disk.
        print(f"policyengine: cannot write: {exc.strerror}", file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point. A bug that escapes :func:`main` is one line, not a
    traceback (``POLICYENGINE_DEBUG=1`` shows it); tests call :func:`main`, which lets it
    through."""
    try:
        code = main()
    except Exception as exc:
        if os.environ.get("POLICYENGINE_DEBUG"):
            raise
        from policyengine.reports.common import terminal

        print(terminal(f"policyengine: internal error, a bug in policyengine ({type(exc).__name__}: {exc}); "
                       "please report it with the command line; POLICYENGINE_DEBUG=1 shows the traceback",
                       one_line=True), file=sys.stderr)
        code = INTERNAL_ERROR
    try:
        sys.stdout.flush()
    except OSError as exc:
        # Standard output cannot take what is left in its buffer: point it at /dev/null, or
        # the interpreter's own flush at exit prints a traceback. A reader that went away
        # (`| head`) is no error; a full disk is, unless already reported.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not isinstance(exc, BrokenPipeError) and code == 0:
            print(f"policyengine: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
            code = 2
    sys.exit(code)
