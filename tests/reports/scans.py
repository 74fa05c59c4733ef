"""Findings from real scans, for the report tests: the bundled example estate (observed
resources) and the template examples (ARM, Bicep and a Terraform plan), plus the findings a
scan produces only with waivers, a baseline or a hostile estate, made from real ones."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from policyengine import ir
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Evidence, Finding, Verdict, Waiver
from policyengine.frameworks import framework
from policyengine.loading.rules import load_rules
from policyengine.pipeline import example_path
from policyengine.records.assemble import assemble
from policyengine.records.model import Origin
from policyengine.reports import ReportContext, Reporter, Summary
from policyengine.sources.declared import TemplateOptions, declared_records, discover
from policyengine.sources.export import open_input
from policyengine.status import Stats

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = "examples/templates"
#: A resource name no one should trust: quotes, markup, a table bar, a formula, control
#: characters, an emoji.
HOSTILE = "pg-\"quoted\" <b>&amp;</b> a|b `tick` =1+2 \x01\x1b[31m \U0001f418"


@functools.cache
def rules() -> tuple[ir.Rule, ...]:
    return load_rules([])


@functools.cache
def estate() -> tuple[Finding, ...]:
    """The verdicts on the bundled example estate, as ``policyengine scan`` gives them."""
    index = RuleIndex(rules())
    source = open_input(example_path(), "examples/estate.json")
    return tuple(evaluate_records(index, assemble([source], index.wanted())))


@functools.cache
def templates() -> tuple[Finding, ...]:
    """The verdicts on ``examples/templates``, named relative to the repository as the CLI
    names them when run from its root."""
    index = RuleIndex(rules())
    with contextlib.chdir(ROOT):
        targets = discover([TEMPLATES]).targets
        records = declared_records(targets, TemplateOptions(), Stats())
        return tuple(evaluate_records(index, records))


def first(findings: Iterable[Finding], verdict: Verdict, **where: Any) -> Finding:
    """The first finding with ``verdict`` whose origin has the given attributes."""
    for finding in findings:
        if finding.verdict is verdict and all(getattr(finding.origin, k) == v for k, v in where.items()):
            return finding
    raise AssertionError(f"no {verdict.value} finding with {where}")


WAIVER = Waiver("PG-FLEX-001", "/subscriptions/*", "Sandbox: no customer data | \"accepted\" <risk>",
                "@platform-team", datetime.date(2031, 3, 31), "waivers.yaml:4:5")


def waived(finding: Finding) -> Finding:
    return dataclasses.replace(finding, verdict=Verdict.WAIVED, waiver=WAIVER)


def hostile(finding: Finding) -> Finding:
    """The finding on a resource named :data:`HOSTILE`, with evidence as hostile."""
    evidence = Evidence("properties.note", 'equals "on"', HOSTILE, True, finding.verdict
                        if finding.verdict in (Verdict.FAIL, Verdict.UNKNOWN) else Verdict.FAIL)
    return dataclasses.replace(finding, resource_id=finding.resource_id + HOSTILE, evidence=(evidence,))


def live(finding: Finding) -> Finding:
    """The finding as a live scan reports it: no file, only the resource."""
    return dataclasses.replace(finding, origin=Origin("azure:tenant", 3))


def with_severity(finding: Finding, severity: ir.Severity) -> Finding:
    rule = finding.rule
    meta = dataclasses.replace(rule.metadata, severity=severity)
    return dataclasses.replace(finding, rule=dataclasses.replace(rule, metadata=meta))


def summary_of(findings: Iterable[Finding]) -> Summary:
    summary = Summary(rules(), ir.Severity.INFO)
    for finding in findings:
        summary.add(finding)
    return summary


def context_of(**given: Any) -> ReportContext:
    """A report context for in-process renders; ``framework`` may be given by id."""
    if isinstance(given.get("framework"), str):
        given["framework"] = framework(rules(), given["framework"])
    return ReportContext(("examples/estate.json",), Stats(rows=1), **given)


def render(factory: Callable[..., Reporter], findings: Iterable[Finding], *,
           rule_set: tuple[ir.Rule, ...] | None = None, **given: Any) -> str:
    """What the reporter writes for ``findings`` (in order), run from the repository root;
    the reporter is given ``rule_set`` (default: the bundled rules)."""
    findings = list(findings)
    out = io.StringIO()
    with contextlib.chdir(ROOT):
        reporter = factory(out, rules() if rule_set is None else rule_set)
        for finding in findings:
            reporter.add(finding)
        reporter.finish(summary_of(findings), context_of(**given))
    return out.getvalue()
