"""``policyengine test`` with test files beside rules: located errors, diffs, coverage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, rule_text

SPEC = """\
resource: Microsoft.DBforPostgreSQL/flexibleServers
related:
  ssl: {type: Microsoft.DBforPostgreSQL/flexibleServers/configurations, name: require_secure_transport}
condition: {field: related.ssl.properties.value, equals: "on"}
tests:
  - {name: on passes, resource: {name: a}, related: {ssl: {properties: {value: "on"}}}, expect: pass}
"""

TESTS = """\
apiVersion: policyengine/v1
kind: RuleTests
rule: T-001
tests:
  - name: off fails
    resource: {name: a}
    related: {ssl: {properties: {value: "off"}}}
    expect: fail
  - name: not read is unknown
    resource: {name: a}
    expect: unknown
"""


def test_test_files_beside_rules_run_with_the_inline_tests(cli: Callable[..., Result],
                                                           write: Callable[[str, str], Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # wide enough for each test's place beside it
    rule = write("rules/ssl.yaml", rule_text(SPEC))
    write("rules/ssl.tests.yaml", TESTS)
    result = cli("test", str(rule.parent))
    assert result.code == 0, result.out
    assert "3 passed, 0 failed" in result.out
    assert f"{rule.parent / 'ssl.tests.yaml'}:5:5" in result.out
    assert "never exercised" not in result.out


def test_a_failing_case_shows_expected_and_actual(cli: Callable[..., Result],
                                                  write: Callable[[str, str], Path]) -> None:
    rule = write("rules/ssl.yaml", rule_text(SPEC))
    write("rules/ssl.tests.yaml", TESTS.replace("expect: fail", "expect: pass"))
    result = cli("test", str(rule.parent))
    assert result.code == 1
    assert "- expected: pass" in result.out and "+ actual:   fail" in result.out
    assert '"off"' in result.out  # the evidence of the actual verdict


def test_rules_never_exercised_both_ways_are_reported(cli: Callable[..., Result],
                                                      write: Callable[[str, str], Path]) -> None:
    rule = write("rules/ssl.yaml", rule_text(SPEC))
    result = cli("test", str(rule))
    assert result.code == 0
    assert "T-001: the condition is never exercised both ways: no test makes it fail" in result.out


@pytest.mark.parametrize(("text", "message"), [
    (TESTS.replace("rule: T-001", "rule: T-404"), ":3:7: rule: no rule 'T-404' is loaded"),
    (TESTS.replace("related: {ssl:", "related: {tls:"), ":7:15: tests[0].related: 'tls' is not declared"),
    (TESTS.replace("expect: unknown", "expect: maybe"), ":11:13: tests[1].expect"),
    (TESTS.replace("kind: RuleTests", "kind: Tests"), ":2:7: kind"),
])
def test_bad_test_files_are_located(cli: Callable[..., Result], write: Callable[[str, str], Path],
                                    text: str, message: str) -> None:
    rule = write("rules/ssl.yaml", rule_text(SPEC))
    tests = write("rules/ssl.tests.yaml", text)
    result = cli("test", str(rule.parent))
    assert result.code == 2 and f"{tests}{message}" in result.err, result.err


def test_the_tests_schema_holds_the_inline_test_shape() -> None:
    from policyengine.loading.schema import load_schema

    assert load_schema("tests.schema.json")["$defs"]["test"] == load_schema("rule.schema.json")["$defs"]["test"]
