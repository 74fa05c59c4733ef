"""The query plan: one ARG query per resource type for all rules, ARM reads merged, verdict
columns only where the data is all in Resource Graph, diagnostics for what KQL cannot say."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.kql.plan import build_plan
from policyengine.loading.rules import load_rules
from tests.conftest import Result, rule_text


def test_one_query_per_type_for_all_bundled_rules() -> None:
    rules = load_rules([])
    plan = build_plan(rules)
    assert [q.resource_type for q in plan.queries] == [
        "Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.DBforPostgreSQL/servers",
        "Microsoft.Resources/subscriptions"]
    assert sum(len(q.rules) for q in plan.queries) == len(rules)
    for query in plan.queries:
        assert " take " not in query.text and " limit " not in query.text
        assert query.text.count("| join") <= 3


def test_capabilities_and_arm_reads() -> None:
    plan = build_plan(load_rules([]))
    caps = {r.rule_id: (r.capability, r.server_verdict) for r in plan.rules}
    assert caps["PG-SINGLE-001"] == ("arg", True)
    assert caps["PG-SUB-001"] == ("arg", True)
    assert caps["PG-FLEX-001"] == ("arg+arm", False)
    flex = plan.queries[0]
    reads = {r.related_type: (r.method, r.names, r.urls()) for r in flex.arm_reads}
    # one LIST of configurations per server serves every parameter of every rule
    assert reads["Microsoft.DBforPostgreSQL/flexibleServers/configurations"] == (
        "list", ("require_secure_transport", "ssl_min_protocol_version", "log_checkpoints", "log_connections",
                 "log_disconnections", "connection_throttle.enable", "logfiles.retention_days", "password_encryption"),
        ["{parentId}/configurations?api-version=2024-08-01"])
    assert reads["Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings"][2] == [
        "{parentId}/advancedThreatProtectionSettings/Default?api-version=2024-08-01"]
    # the pricing is joined in ARG, not read from ARM
    assert "Microsoft.Security/pricings" not in reads
    assert "join kind=leftouter (securityresources" in flex.text


def test_unsupported_construct_is_a_diagnostic_not_a_weaker_query(
        write: Callable[[str, str], Path], tmp_path: Path) -> None:
    write("r/count.yaml", rule_text("""
        resource: Microsoft.DBforPostgreSQL/servers
        condition: {field: properties.rules, count: {where: {field: "@.port", equals: 22}, greater: 0}}
    """, rule_id="X-1"))
    plan = build_plan(load_rules([tmp_path / "r"], include_bundled=False))
    (rule,) = plan.rules
    assert not rule.server_verdict
    assert rule.diagnostics[0].construct.startswith("count with a where condition")
    assert "verdict X-1" not in plan.queries[0].text
    assert "properties.rules" in plan.queries[0].text  # still projected for the evaluator


def test_compile_command(cli: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path) -> None:
    result = cli("compile", "--rule", "PG-SINGLE-001")
    assert result.code == 0
    assert result.out.startswith("// Microsoft.DBforPostgreSQL/servers (resources)\n"
                                 "//   PG-SINGLE-001: arg: verdict computed in the query\nresources\n")
    as_json = json.loads(cli("compile", "--format", "json").out)
    assert {r["id"] for r in as_json["rules"]} >= {"PG-FLEX-001", "PG-SUB-001"}
    summary = cli("compile", "--summary").out
    assert '["PG-SINGLE-001 fail"] = countif(["verdict PG-SINGLE-001"] == "fail")' in summary
    assert "// Microsoft.Resources/subscriptions (resourcecontainers)" in summary
    # only the flexible-server rules on the server's own properties have their verdict in ARG;
    # the others' data needs ARM reads
    flexible = summary.split("// Microsoft.DBforPostgreSQL/flexibleServers (resources)\n", 1)[1].split("\n// Microsoft.", 1)[0]
    in_arg = sorted(set(re.findall(r'\["(PG-FLEX-\d+) fail"\]', flexible)))
    assert in_arg == ["PG-FLEX-012", "PG-FLEX-013", "PG-FLEX-014", "PG-FLEX-015"]
    write("mine/pna.yaml", rule_text("""
        resource: Microsoft.DBforPostgreSQL/flexibleServers
        condition: {field: properties.network.publicNetworkAccess, equals: Disabled}
    """, rule_id="ACME-1"))
    custom = cli("compile", "--rules", str(tmp_path / "mine"), "--no-bundled-rules")
    assert custom.code == 0
    assert '["verdict ACME-1"]' in custom.out
    assert 'tostring(properties.network.publicNetworkAccess) =~ "Disabled"' in custom.out


@pytest.mark.parametrize("rule_type", ["Microsoft.Compute/virtualMachines/extensions"])
def test_unknown_type_is_a_usage_error(cli: Callable[..., Result], write: Callable[[str, str], Path],
                                       tmp_path: Path, rule_type: str) -> None:
    write("r/x.yaml", rule_text(f"resource: {rule_type}\ncondition: {{field: name, exists: true}}", rule_id="X-2"))
    result = cli("compile", "--rules", str(tmp_path / "r"), "--no-bundled-rules")
    assert result.code == 2
    assert "the catalog knows no Resource Graph table" in result.err
