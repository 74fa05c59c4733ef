"""The ``script`` report: a shell script of the Azure CLI commands that fix the failures.

For people who review and then run it; policyengine runs nothing. Each failing finding's fix
(:func:`~policyengine.reports.fixes.fix_command`, with the real names, shell-quoted) is written
under comments that say which rule failed on which resource and what was seen. Commands are
grouped by subscription, each group opening with ``az account set``: the ``az postgres``
commands act on the signed-in subscription. A command that two findings share (the Defender
plan fixes a server's PG-FLEX-004 and its subscription's PG-SUB-001) is written once. Every
command sets the value a rule expects, so running the script twice changes nothing more.

What the script cannot fix is said in comments: a template's or plan's resource (fix the file:
``file:line:col`` is given, with the edit the rule gives and the JSON or HCL to write, from
:mod:`~policyengine.reports.template_fixes`), a rule without a CLI fix, or a command with a
value the input does not hold (still a placeholder), which is commented out. Text from the
input appears only in comments, made one line by :func:`~policyengine.reports.common.terminal`,
or in a command, shell-quoted, so no resource name can run anything.
"""

from __future__ import annotations

import shlex
from typing import IO

from policyengine import __version__, ir
from policyengine.findings import Finding, Verdict
from policyengine.reports import ReportContext, Summary
from policyengine.reports.common import place, terminal
from policyengine.reports.fixes import fix_command, unfilled
from policyengine.reports.layout import wrap_command
from policyengine.reports.template_fixes import Change, template_fix
from policyengine.status import sorted_problems

#: The width commands are wrapped at (with `` \\`` continuations): a reviewer reads them.
WIDTH = 100
_NO_SUBSCRIPTION = ""


def _comment(text: str) -> str:
    return f"# {terminal(text, one_line=True)}\n"


class ScriptReporter:
    def __init__(self, out: IO[str], rules: tuple[ir.Rule, ...]) -> None:
        self.out = out
        self.rules = rules
        self.failing: list[Finding] = []
        self.waived = 0

    def add(self, finding: Finding) -> None:
        if finding.verdict is Verdict.FAIL:
            self.failing.append(finding)
        elif finding.verdict is Verdict.WAIVED:
            self.waived += 1

    def finish(self, summary: Summary, context: ReportContext) -> None:
        write = self.out.write
        write("#!/bin/sh\n")
        write(f"# Remediation written by policyengine {__version__} for {len(self.failing)} failing "
              "finding(s).\n")
        write("# Review every command before you run it: policyengine has run none of them. Each sets\n"
              "# the value a rule expects, so running the script again changes nothing more.\n")
        if self.waived:
            write(f"# {self.waived} waived finding(s) are left as they are.\n")
        if not context.complete:
            write("# The scan was incomplete: what it did not see is not fixed here.\n")
        problems = sorted_problems(context.scan.input_errors)
        if problems:
            write(f"# {len(problems)} input error(s): what could not be read is not fixed here:\n")
            for problem in problems:
                write(_comment(f"  {problem.text()}"))
        write("set -eu\n")
        observed = [f for f in self.failing if f.origin.kind is not ir.SourceKind.DECLARED]
        declared = [f for f in self.failing if f.origin.kind is ir.SourceKind.DECLARED]
        groups: dict[str, list[Finding]] = {}
        for finding in sorted(observed, key=_by_place):
            groups.setdefault((finding.subscription_id or _NO_SUBSCRIPTION).lower(), []).append(finding)
        for subscription, findings in groups.items():
            write("\n")
            if subscription:
                write(_comment(f"Subscription {findings[0].subscription_id}"))
                shown = terminal(findings[0].subscription_id or "", one_line=True)
                write(f"az account set --subscription {shlex.quote(shown)}\n")
            self._commands(findings)
        if declared:
            self._declared(declared)

    def _declared(self, declared: list[Finding]) -> None:
        """Template and plan failures, fixed by editing the file: each with the edit the rule
        gives (where, what, and the snippet to write), an edit that fixes several written once
        under them; a rule that gives none says so."""
        write = self.out.write
        write("\n# Declared in templates and plans: fix the file, then deploy it. Each edit is\n"
              "# file:line:col (a plan: its file, and the resource by address), what to do, and\n"
              "# the JSON (template) or HCL (plan) to write there.\n")
        by_fix: dict[tuple[Change, ...], list[Finding]] = {}
        unfixed: list[Finding] = []
        for finding in sorted(declared, key=lambda f: (f.origin.file, f.origin.line, f.rule.id)):
            changes = template_fix(finding)
            if changes:
                by_fix.setdefault(changes, []).append(finding)
            else:
                unfixed.append(finding)
        for changes, findings in by_fix.items():
            write("\n")
            for finding in findings:
                write(_declared_comment(finding))
            for change in changes:
                write(_comment(f"  fix at {change.where}: {change.text}" + (":" if change.snippet else "")))
                for line in change.snippet.splitlines():
                    write(_comment(f"    {line}"))
        for finding in unfixed:
            write("\n" + _declared_comment(finding))
            write(_comment(f"  No single edit follows from the rule: see `policyengine rules show "
                           f"{finding.rule.id}`."))

    def _commands(self, findings: list[Finding]) -> None:
        """One command per distinct fix, under the findings it fixes."""
        by_command: dict[str, list[Finding]] = {}
        without: list[Finding] = []
        for finding in findings:
            command = fix_command(finding)
            if command is None:
                without.append(finding)
            else:
                by_command.setdefault(command, []).append(finding)
        write = self.out.write
        for command, fixed in by_command.items():
            write("\n")
            for finding in fixed:
                write(_comment(f"{finding.rule.id} ({finding.rule.metadata.severity.label}) "
                               f"{finding.resource_id}: {finding.rule.metadata.title}"))
                write(_comment(f"seen: {'; '.join(e.sentence() for e in finding.evidence)}"))
            shown = terminal(command, one_line=True)
            lines = wrap_command(shown, WIDTH, "", "    ")
            if unfilled(command):
                write("# Not run: the input does not hold every value this command needs; fill them in.\n")
                lines = [f"# {line}" for line in lines]
            elif shown != command:
                # A name with control characters is written escaped, which names another
                # resource: the command is shown, never run as it stands.
                write("# Not run: a value holds control characters, shown escaped here; check the name.\n")
                lines = [f"# {line}" for line in lines]
            write("\n".join(lines) + "\n")
        for finding in without:
            write("\n")
            write(_comment(f"{finding.rule.id} {finding.resource_id}: no CLI command; "
                           f"see `policyengine rules show {finding.rule.id}`"))


def _declared_comment(finding: Finding) -> str:
    severity = finding.rule.metadata.severity.label
    return _comment(f"{place(finding)} {finding.rule.id} ({severity}): {finding.message}")


def _by_place(finding: Finding) -> tuple[str, str, str]:
    return ((finding.subscription_id or "").lower(), finding.resource_id.lower(), finding.rule.id)


