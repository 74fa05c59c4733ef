"""``policyengine explain RULE RESOURCE [PATH ...]``: why a rule gave a resource its verdict."""

from __future__ import annotations

import argparse
import json
import sys

from policyengine.errors import UsageError
from policyengine.evaluator import RuleIndex
from policyengine.evaluator.explain import explain, render
from policyengine.pipeline import ScanOptions, file_sources, read_records, selected_rules, template_options
from policyengine.records.model import Record
from policyengine.reports.layout import terminal_width, wrap
from policyengine.status import Stats


def run_explain(args: argparse.Namespace) -> int:
    rules = [r for r in selected_rules(args) if r.id.lower() == args.rule_id.lower()]
    if not rules:
        raise UsageError(f"unknown rule id: {args.rule_id} (see `policyengine rules list`)")
    rule = rules[0]
    options = ScanOptions(paths=tuple(args.paths), templates=template_options(args), quiet=True)
    log = Stats()
    records = list(read_records(file_sources(options), RuleIndex([rule]), log))
    for problem in log.errors:
        print(f"policyengine: {problem.text()}", file=sys.stderr)
    target = rule.resource_type.lower()
    candidates = [r for r in records if r.type.lower() == target and _names(r, args.resource)]
    if not candidates:
        raise UsageError(f"no {rule.resource_type} matching {args.resource!r} in the input (give its id, "
                         "its name, resourceGroup/name, or a template address)")
    exact = [r for r in candidates if r.id.lower() == args.resource.lower()]
    if len(exact) != 1 and len(candidates) > 1:
        shown = "\n  ".join(r.id for r in candidates[:10])
        raise UsageError(f"{args.resource!r} matches {len(candidates)} resources; give one id:\n  {shown}")
    explanation = explain(rule, (exact or candidates)[0])
    if args.format == "json":
        json.dump(explanation.to_json(), sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_fitted(render(explanation), terminal_width()))
    return 0


def _fitted(text: str, width: int) -> str:
    """Each line of the tree wrapped to ``width``, continuing under its own indentation."""
    out = []
    for line in text.splitlines():
        body = line.lstrip(" ")
        lead = line[:len(line) - len(body)]
        out += wrap(body, width, lead, lead + "    ") if body else [""]
    return "\n".join(out) + "\n"


def _names(record: Record, wanted: str) -> bool:
    """Whether ``wanted`` names the record: its id, its name, ``group/name``, or its address."""
    lowered = wanted.lower().strip("/")
    rid = record.id.lower().strip("/")
    if lowered == rid or ("/" not in lowered and rid.endswith("/" + lowered)):
        return True
    parts = rid.split("/")
    if len(parts) >= 4 and parts[2] == "resourcegroups" and lowered == f"{parts[3]}/{parts[-1]}":
        return True
    return record.origin.address is not None and record.origin.address.lower() == lowered
