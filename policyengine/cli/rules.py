"""``policyengine rules list|show`` and ``policyengine test``."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

from policyengine.errors import UsageError
from policyengine.evaluator.testing import run_tests
from policyengine.frameworks import known
from policyengine.loading.rules import TEST_SUFFIXES, load_rules
from policyengine.loading.test_files import load_test_files, test_files
from policyengine.pipeline import selected_rules
from policyengine.reports.json_report import rule_json


def run_rules(args: argparse.Namespace) -> int:
    rules = selected_rules(args)
    if args.rules_command == "list":
        rows = [[r.id, r.metadata.severity.label, r.resource_type, r.metadata.title,
                 ",".join(r.metadata.tags)] for r in rules]
        print(tabulate(rows, ["id", "severity", "resource", "title", "tags"], tablefmt="simple"))
        return 0
    match = [r for r in rules if r.id.lower() == args.rule_id.lower()]
    if not match:
        raise UsageError(f"unknown rule id: {args.rule_id} (see `policyengine rules list`)")
    rule = match[0]
    info = rule_json(rule)
    print(f"{rule.id}: {rule.metadata.title}")
    print(f"  severity:    {info['severity']}")
    print(f"  resource:    {rule.resource_type}")
    if rule.span:
        print(f"  defined at:  {rule.span.prefix()}")
    print(f"  description: {rule.metadata.description}")
    print(f"  remediation: {rule.metadata.remediation.text}")
    if rule.metadata.remediation.portal:
        print(f"  portal:      {rule.metadata.remediation.portal}")
    if rule.metadata.remediation.cli:
        print(f"  az command:  {rule.metadata.remediation.cli}")
    for ref in rule.metadata.references:
        print(f"  reference:   {ref}")
    for framework, controls in rule.metadata.controls:
        print(f"  control:     {framework}: {', '.join(controls)}")
    if rule.related:
        print("  related:")
        for rel in rule.related:
            default = f", default {json.dumps(rel.default)}" if rel.default is not None else ""
            print(f"    {rel.name}: {rel.type} '{rel.resource_name}' ({rel.scope.value}{default})")
    print(f"  tests:       {len(rule.tests)}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    given = [Path(p) for p in [*args.paths, *args.rules]]
    rule_paths = [p for p in given if p.is_dir() or not p.name.endswith(TEST_SUFFIXES)]
    rules = load_rules(rule_paths, include_bundled=not given)
    extra = load_test_files(test_files(given), {r.id.lower(): r for r in rules})
    rules = tuple(replace(r, tests=(*r.tests, *extra.get(r.id.lower(), []))) for r in rules)
    outcomes = run_tests(rules)
    rows = []
    for outcome in outcomes:
        status = "ok" if outcome.ok else "FAILED"
        where = outcome.test.span.prefix() if outcome.test.span else ""
        detail = "" if outcome.ok else (
            f"- expected: {outcome.test.expect}\n+ actual:   {outcome.finding.verdict.value}: "
            f"{outcome.finding.message}")
        rows.append([status, outcome.rule.id, outcome.test.name, where, detail])
    if rows:
        print(tabulate(rows, ["", "rule", "test", "at", "detail"], tablefmt="simple"))
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
    rows = []
    for framework in known(selected_rules(args)).values():
        for control in framework.controls:
            rows.append([framework.id, framework.title, control.id, ", ".join(r.id for r in control.rules)])
    print(tabulate(rows, ["framework", "title", "control", "rules"], tablefmt="simple"))
    return 0
