"""``policyengine explain``: the condition tree with each branch's verdict and the values read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]


def explained(cli: Callable[..., Result], *argv: str) -> dict[str, Any]:
    result = cli("explain", *argv, "--format", "json")
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def test_explains_an_either_or_failure_branch_by_branch(cli: Callable[..., Result]) -> None:
    doc = explained(cli, "PG-FLEX-004", "rg-payments-dev/pg-payments-dev-01")
    assert doc["finding"]["verdict"] == "fail"
    assert doc["where"]["verdict"] == "pass"
    tree = doc["condition"]
    assert tree["condition"].startswith("anyOf") and tree["verdict"] == "fail"
    leaves = {item["condition"]: item for item in tree["items"]}
    atp = leaves['related.atp.properties.state equals "Enabled" (onMissing: fail)']
    assert atp["verdict"] == "fail" and atp["evidence"][0]["actual"] == "Disabled"
    assert atp["rule"].endswith("rules/flexible-server-defender.yaml:66:9")
    assert {r["name"]: r["state"] for r in doc["related"]} == {"atp": "found", "plan": "found"}


def test_explain_agrees_with_scan_for_every_finding(cli: Callable[..., Result]) -> None:
    report = json.loads(cli("scan", "--format", "json").out)
    for finding in report["findings"][:40]:
        doc = explained(cli, finding["rule"]["id"], finding["resource"]["id"])
        assert doc["finding"]["verdict"] == finding["verdict"]
        assert doc["finding"]["fingerprint"] == finding["fingerprint"]


def test_explains_a_template_resource_with_defaults_and_unknowns(cli: Callable[..., Result]) -> None:
    corpus = ROOT / "tests" / "fixtures" / "templates"
    doc = explained(cli, "PG-FLEX-003", "pg-defaults", str(corpus / "defaults.json"))
    assert doc["finding"]["verdict"] == "fail"
    assert doc["related"][0]["state"] == "default assumed"
    doc = explained(cli, "PG-FLEX-002", "[parameters('server')]", str(corpus / "unknowns.json"))
    leaf = doc["condition"]
    assert leaf["verdict"] == "unknown" and "parameters('tls')" in leaf["evidence"][0]["note"]
    text = cli("explain", "PG-FLEX-001", "resources[0]", str(corpus / "parameter-driven.json")).out
    assert "→ FAIL" in text and "set at" in text and "parameter-driven.json:" in text


def test_not_applicable_stops_at_the_where(cli: Callable[..., Result]) -> None:
    report = json.loads(cli("scan", "--format", "json").out)
    na = next(f for f in report["findings"] if f["verdict"] == "not_applicable")
    doc = explained(cli, na["rule"]["id"], na["resource"]["id"])
    assert doc["where"]["verdict"] == "fail" and doc["condition"] is None
    text = cli("explain", na["rule"]["id"], na["resource"]["id"]).out
    assert "the rule does not apply" in text


def test_explain_usage_errors(cli: Callable[..., Result]) -> None:
    assert "unknown rule id" in cli("explain", "NOPE-1", "x").err
    missing = cli("explain", "PG-FLEX-001", "pg-does-not-exist")
    assert missing.code == 2 and "no Microsoft.DBforPostgreSQL/flexibleServers matching" in missing.err
