"""``policyengine compile``: print the query plan — the Resource Graph queries, ready to
paste into Resource Graph Explorer or ``az graph query -q``, and what each rule needs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from policyengine.catalog import catalog
from policyengine.errors import UsageError
from policyengine.kql.plan import Plan, PlanError, RulePlan, build_plan
from policyengine.pipeline import selected_rules


def _comment(text: str) -> str:
    return "\n".join(f"// {line}" if line else "//" for line in text.splitlines())


def render_kql(plan: Plan, *, summary: bool) -> str:
    by_type: dict[str, list[RulePlan]] = {}
    for rule in plan.rules:
        by_type.setdefault(rule.resource_type.lower(), []).append(rule)
    blocks = []
    for query in plan.queries:
        if summary and query.summary is None:
            continue
        lines = [f"{query.resource_type} ({query.table})"]
        for rule in by_type[query.resource_type.lower()]:
            if rule.server_verdict:
                how = "arg: verdict computed in the query"
            elif rule.capability == "arg":
                how = "arg: verdict computed from the query's columns"
            else:
                reads = "; ".join(f"{a.method.upper()} {url}" + (f" (for {', '.join(a.names)})"
                                                                   if a.method == "list" else "")
                                  for a in rule.arm_reads for url in a.urls())
                how = f"arg+arm: needs ARM {reads}"
            lines.append(f"  {rule.rule_id}: {how}")
            lines += [f"  ! {d.message}" for d in rule.diagnostics]
        text = query.summary if summary else query.text
        blocks.append(_comment("\n".join(lines)) + "\n" + str(text))
    if not blocks:
        return _comment("no rule of this selection has its verdict computed in Resource Graph") + "\n"
    return "\n\n".join(blocks) + "\n"


def run_compile(args: argparse.Namespace) -> int:
    rules = selected_rules(args)
    try:
        plan = build_plan(rules, catalog(*(Path(f) for f in args.catalog)))
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(plan.to_json(), indent=2, sort_keys=True))
    else:
        print(render_kql(plan, summary=args.summary), end="")
    return 0
