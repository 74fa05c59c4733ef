"""The rule's inline tests: PE105 (none) and PE106 (they never see the condition both pass
and fail, or a ``where`` both hold and not hold). The tests are run through the real
evaluator, as ``policyengine test`` runs them: what counts is the verdicts they produce, not
the verdicts they expect."""

from __future__ import annotations

from collections.abc import Iterator

from policyengine.evaluator.testing import run_tests
from policyengine.lint.context import RuleContext
from policyengine.lint.problems import Problem


def check_tests(ctx: RuleContext) -> Iterator[Problem]:
    rule = ctx.rule
    if not rule.tests:
        yield ctx.problem("PE105", ("metadata", "id"), f"{rule.id} has no tests: add spec.tests with "
                          "at least one resource that passes and one that fails")
        return
    verdicts = {outcome.finding.verdict.value for outcome in run_tests((rule,))}
    seen = ", ".join(sorted(verdicts))
    missing = [v for v in ("pass", "fail") if v not in verdicts]
    if missing:
        yield ctx.problem("PE106", ("spec", "tests"), f"no test makes the condition {' or '.join(missing)} "
                          f"(the tests' verdicts: {seen}): add one that does", key=True)
    if rule.where is not None and "not_applicable" not in verdicts:
        yield ctx.problem("PE106", ("spec", "tests"), "no test makes spec.where false (no not_applicable "
                          f"verdict; the tests' verdicts: {seen}): add one that does", key=True)
