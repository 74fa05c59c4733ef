"""``match`` runs on RE2: linear time whatever the pattern, ASCII classes as KQL has them, a
bounded input, and a lone surrogate read as U+FFFD. Each outcome is a verdict, never a hang."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine import ir
from policyengine.evaluator import evaluate
from policyengine.loading.rules import load_rules
from policyengine.operators import MAX_MATCH_LENGTH
from policyengine.paths import parse_path
from policyengine.records.model import Origin, Record
from tests.conftest import rule_text

FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"
SERVER_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"


def server(name: Any) -> Record:
    data = {"id": SERVER_ID, "type": FLEX, "name": name, "properties": {}}
    return Record(SERVER_ID, FLEX, data, Origin("t.json", 1, ir.SourceKind.OBSERVED), {}, {}, None)


@pytest.fixture
def match_rule(tmp_path: Path) -> Callable[..., ir.Rule]:
    def build(pattern: str, case_sensitive: bool = False) -> ir.Rule:
        path = tmp_path / "r.yaml"
        flag = ", caseSensitive: true" if case_sensitive else ""
        path.write_text(rule_text(f"resource: {FLEX}\ncondition: {{field: name, match: '{pattern}'{flag}}}"),
                        encoding="utf-8")
        (rule,) = load_rules([path], include_bundled=False)
        return rule

    return build


@pytest.mark.parametrize("pattern", ["(a+)+b", "(a|a)*b", "(.*)*b", "(a|aa)+b", "(?:a*)*b", "(\\w+\\s?)*b"])
def test_patterns_that_backtrack_elsewhere_answer_at_once(match_rule: Callable[..., ir.Rule], pattern: str) -> None:
    """Python's re takes minutes on ``(a+)+b`` against 40 a's and a c (issue 11 measured 75 s)."""
    rule = match_rule(pattern)
    started = time.perf_counter()
    finding = evaluate(rule, server("a" * 40 + "c"))
    assert time.perf_counter() - started < 0.1
    assert finding.verdict.value == "fail"
    assert evaluate(rule, server("a" * 40 + "b")).verdict.value == "pass"


def test_the_longest_string_matched_is_bounded(match_rule: Callable[..., ir.Rule]) -> None:
    rule = match_rule("[a-z]*")
    assert evaluate(rule, server("a" * MAX_MATCH_LENGTH)).verdict.value == "pass"
    finding = evaluate(rule, server("a" * (MAX_MATCH_LENGTH + 1)))
    assert finding.verdict.value == "error"
    assert f"the string is {MAX_MATCH_LENGTH + 1} characters long; match reads at most {MAX_MATCH_LENGTH}" \
        in finding.message


def test_a_worst_case_pattern_on_the_longest_string_stays_under_a_second(match_rule: Callable[..., ir.Rule]) -> None:
    """A pattern large enough to overflow RE2's DFA cache falls back to the NFA, whose cost
    grows with the pattern too: the input bound is what keeps this under a second."""
    rule = match_rule("(?:[ab]*a[ab]{999})" * 5 + "c")
    text = ("ab" * MAX_MATCH_LENGTH)[:MAX_MATCH_LENGTH]
    started = time.perf_counter()
    assert evaluate(rule, server(text)).verdict.value == "fail"
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "name", "verdict"),
    [
        ("\\d+", "٣", "fail"),  # Arabic-Indic digit: \d is ASCII in RE2 and KQL
        ("\\w+", "é", "fail"),
        ("a\\sb", "a\u00a0b", "fail"),
        ("pg\\b.*", "pg-1", "pass"),
        ("PG-[a-z]+", "pg-x", "pass"),  # case-insensitive by default, as every operator
        ("é+", "ÉÉ", "pass"),  # RE2's case folding is Unicode
        ("a{,2}", "a{,2}", "pass"),  # RE2 reads {,n} as text, as KQL does (Python: {0,n})
        ("pg.x", "pg\ud800x", "pass"),  # a lone surrogate is one character, U+FFFD
        ("pg\ufffdx", "pg\ud800x", "pass"),
    ],
)
def test_re2_semantics(match_rule: Callable[..., ir.Rule], pattern: str, name: str, verdict: str) -> None:
    assert evaluate(match_rule(pattern), server(name)).verdict.value == verdict


def test_case_sensitive_match(match_rule: Callable[..., ir.Rule]) -> None:
    assert evaluate(match_rule("PG-[a-z]+", case_sensitive=True), server("pg-x")).verdict.value == "fail"


def test_a_pattern_built_in_memory_that_re2_refuses_is_an_error_verdict() -> None:
    """The loader refuses such a pattern; a rule built as IR reaches the evaluator unchecked,
    and gets an error verdict, never a pass."""
    meta = ir.Metadata("T", "t", ir.Severity.LOW, "d", ir.Remediation("r"))
    rule = ir.Rule(meta, FLEX, ir.Compare(parse_path("name"), "match", "pg-(?=prod)"))
    finding = evaluate(rule, server("pg-prod"))
    assert finding.verdict.value == "error"
    assert "RE2 syntax does not support lookahead" in finding.message
