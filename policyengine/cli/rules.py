"""``policyengine rules list|show`` and ``policyengine test``."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from policyengine.errors import UsageError
from policyengine.evaluator.testing import run_tests
from policyengine.frameworks import Framework, framework, known
from policyengine.ir import Rule
from policyengine.loading.rules import TEST_SUFFIXES, load_rules
from policyengine.loading.test_files import load_test_files, test_files
from policyengine.pipeline import selected_rules
from policyengine.reports.json_report import rule_json
from policyengine.reports.layout import columns, row_lines, terminal_width, wrap, wrap_command

#: From this width on, listings add the columns a narrow terminal leaves out.
_WIDE = 120


def run_rules(args: argparse.Namespace) -> int:
    rules = selected_rules(args)
    if args.rules_command == "list":
        width = terminal_width()
        rows = [[r.id, r.metadata.severity.label, r.resource_type.split("/", 1)[-1], r.metadata.title,
                 ",".join(r.metadata.tags)] for r in rules]
        headers = ["id", "severity", "resource", "title", "tags"]
        if width < _WIDE:  # the tags are in `rules show`
            headers, rows = headers[:4], [row[:4] for row in rows]
        print("\n".join(columns(headers, rows, width, flex=3)))
        return 0
    match = [r for r in rules if r.id.lower() == args.rule_id.lower()]
    if not match:
        raise UsageError(f"unknown rule id: {args.rule_id} (see `policyengine rules list`)")
    _show(match[0], terminal_width())
    return 0


def _show(rule: Rule, width: int) -> None:
    """A rule's metadata, a field a paragraph, wrapped under its label."""
    meta = rule.metadata
    fields = [("severity", rule_json(rule)["severity"]), ("resource", rule.resource_type)]
    fields += [("defined at", rule.span.prefix())] if rule.span else []
    fields += [("description", meta.description), ("remediation", meta.remediation.text)]
    fields += [("portal", meta.remediation.portal)] if meta.remediation.portal else []
    fields += [("reference", ref) for ref in meta.references]
    fields += [("control", f"{framework}: {', '.join(controls)}") for framework, controls in meta.controls]
    out = wrap(f"{rule.id}: {meta.title}", width, "", "    ")
    for label, text in fields:
        out += wrap(" ".join(text.split()), width, f"  {label + ':':<13}", " " * 15)
    if meta.remediation.cli:
        out += wrap_command(" ".join(meta.remediation.cli.split()), width, f"  {'az command:':<13}", " " * 17)
    if rule.related:
        out.append("  related:")
        for rel in rule.related:
            default = f", default {json.dumps(rel.default)}" if rel.default is not None else ""
            what = f"every {rel.type}" if rel.is_list else f"{rel.type} '{rel.resource_name}'"
            out += wrap(f"{rel.name}: {what} ({rel.scope.value}{default})", width, "    ", " " * 6)
    out.append(f"  tests:       {len(rule.tests)}")
    print("\n".join(out))


def run_test(args: argparse.Namespace) -> int:
    given = [Path(p) for p in [*args.paths, *args.rules]]
    rule_paths = [p for p in given if p.is_dir() or not p.name.endswith(TEST_SUFFIXES)]
    rules = load_rules(rule_paths, include_bundled=not given)
    extra = load_test_files(test_files(given), {r.id.lower(): r for r in rules})
    rules = tuple(replace(r, tests=(*r.tests, *extra.get(r.id.lower(), []))) for r in rules)
    outcomes = run_tests(rules)
    width = terminal_width()
    for outcome in outcomes:
        where = outcome.test.span.prefix() if outcome.test.span else ""
        line = f"{'ok' if outcome.ok else 'FAILED':<6}  {outcome.rule.id}  {outcome.test.name}"
        if width >= _WIDE:
            line = f"{line}  ({where})" if where else line
        print("\n".join(wrap(line, width, "", " " * 8)))
        if not outcome.ok:
            detail = (f"at {where}\n- expected: {outcome.test.expect}\n+ actual:   "
                      f"{outcome.finding.verdict.value}: {outcome.finding.message}")
            print("\n".join(wrap(detail, width, " " * 8)))
    untested = [r.id for r in rules if not r.tests]
    if untested:
        print(f"rules without tests: {', '.join(untested)}")
    for rule in rules:
        seen = {o.finding.verdict.value for o in outcomes if o.rule is rule}
        missing = [v for v in ("pass", "fail") if v not in seen]
        if rule.tests and missing:
            print(f"{rule.id}: the condition is never exercised both ways: no test makes it "
                  f"{' or '.join(missing)} (verdicts seen: {', '.join(sorted(seen))})")
    failed = sum(not o.ok for o in outcomes)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_frameworks(args: argparse.Namespace) -> int:
    """The frameworks with how many controls the rules cover; with an id, that framework's
    controls, each with its rules or why none covers it."""
    rules = selected_rules(args)
    width = terminal_width()
    if args.framework_id:
        print("\n".join(_controls(framework(rules, args.framework_id), width)))
        return 0
    rows = [[f.id, f"{f.covered} of {len(f.controls)}", f.title if f.scope else f"{f.title} (mapped only)"]
            for f in known(rules).values()]
    table = columns(["framework", "covered", "title"], rows, width, flex=2, right=(1,))
    print("\n".join([*table, "", *wrap("A framework with a bundled definition lists every control of "
                                        "its PostgreSQL part; one without lists only the controls rules map "
                                        "to. `policyengine frameworks ID` lists a framework's controls; "
                                        "`policyengine scan --framework ID` shows how each fares.", width)]))
    return 0


def _controls(chosen: Framework, width: int) -> list[str]:
    """A framework's controls: id and rules, then the title and, for one no rule covers, why."""
    out = wrap(f"{chosen.id}: {chosen.title}: {len(chosen.controls)} controls, {chosen.covered} covered "
               "by the rules", width)
    if chosen.scope:  # its sources are in its definition file and the JSON report
        out += wrap(f"Listed: {chosen.scope}.", width)
    rows = [[c.id, ", ".join(r.id for r in c.rules) or "not covered"] for c in chosen.controls]
    table = columns(["control", "rules"], rows, width, flex=1)
    out += table[:2]
    for lines, control in zip(row_lines(table), chosen.controls, strict=True):
        out += lines
        if control.title:
            out += wrap(control.title, width, "  ", "  ")
        if not control.rules:
            out += wrap(f"why: {control.reason}", width, "  ", "    ")
    return out
