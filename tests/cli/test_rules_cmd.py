"""``policyengine rules`` and ``policyengine test``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result, rule_text

Cli = Callable[..., Result]
Write = Callable[[str, str], Path]

SPEC = """
resource: Microsoft.DBforPostgreSQL/flexibleServers
condition: {field: properties.network.publicNetworkAccess, equals: Disabled}
onMissing: fail
tests:
  - {name: private, resource: {properties: {network: {publicNetworkAccess: Disabled}}}, expect: pass}
  - {name: public, resource: {properties: {network: {publicNetworkAccess: Enabled}}}, expect: %s}
"""


def test_test_command_runs_only_the_given_rules(cli: Cli, write: Write, tmp_path: Path) -> None:
    write("mine/pna.yaml", rule_text(SPEC % "fail", rule_id="ACME-001"))
    result = cli("test", str(tmp_path / "mine"))
    assert result.code == 0
    assert "2 passed, 0 failed" in result.out
    assert "PG-FLEX" not in result.out


def test_failing_rule_test_exits_1_with_expected_and_actual(cli: Cli, write: Write, tmp_path: Path) -> None:
    write("mine/pna.yaml", rule_text(SPEC % "pass", rule_id="ACME-001"))
    result = cli("test", "--rules", str(tmp_path / "mine"))
    assert result.code == 1
    assert "1 passed, 1 failed" in result.out
    assert "FAILED  ACME-001  public" in result.out
    assert "- expected: pass" in result.out and "+ actual:   fail" in result.out


def test_bundled_rule_tests_all_pass(cli: Cli) -> None:
    result = cli("test")
    assert result.code == 0, result.out
    assert " 0 failed" in result.out
    assert "rules without tests" not in result.out


def test_rules_show(cli: Cli) -> None:
    result = cli("rules", "show", "pg-flex-002")
    assert result.code == 0
    assert result.out.startswith("PG-FLEX-002: ")
    assert "ssl_min_protocol_version" in result.out
