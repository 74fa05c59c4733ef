"""docs/authoring.md stays true: its walkthrough, followed step by step, works."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

DOC = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"


def walkthrough_spec() -> str:
    section = DOC.read_text("utf-8").split("**2. Write the condition.**", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_walkthrough_works(cli: Callable[..., Result], tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    target = rules / "public-access.yaml"
    # 1. Scaffold, and the scaffold tests green.
    made = cli("new", "rule", "ACME-PG-001", "--severity", "high", "--title",
               "Flexible servers allow public network access only when approved", "-o", str(target))
    assert made.code == 0, made.err
    assert "2 passed, 0 failed" in cli("test", str(target)).out
    # 2. Replace the scaffold's spec with the walkthrough's.
    text = target.read_text()
    target.write_text(text.split("spec:\n", 1)[0] + walkthrough_spec())
    # 3. It lints clean, strictly, and its four tests pass.
    linted = cli("lint", "--strict", str(rules))
    assert linted.code == 0, linted.out + linted.err
    tested = cli("test", str(rules))
    assert tested.code == 0 and "4 passed, 0 failed" in tested.out, tested.out
    # 4. It runs on the example estate, alone.
    report = json.loads(cli("scan", "--rules", str(rules), "--rule", "ACME-PG-001", "--format", "json").out)
    verdicts = {f["verdict"] for f in report["findings"]}
    assert report["findings"] and verdicts <= {"pass", "fail", "unknown"}
    # 5. explain shows the tree for one of them.
    resource = report["findings"][0]["resource"]["id"]
    explained = cli("explain", "ACME-PG-001", resource, "--rules", str(rules))
    assert explained.code == 0 and "anyOf (one item must hold)" in explained.out


def test_the_walkthrough_rule_exports_to_azure_policy(cli: Callable[..., Result], tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    target = rules / "public-access.yaml"
    assert cli("new", "rule", "ACME-PG-001", "-o", str(target)).code == 0
    target.write_text(target.read_text().split("spec:\n", 1)[0] + walkthrough_spec())
    out = tmp_path / "defs"
    result = cli("export", "azure-policy", "--rules", str(rules), "--rule", "ACME-PG-001", "--effect", "deny",
                 "-o", str(out))
    assert result.code == 0, result.err
    definition = json.loads((out / "ACME-PG-001.json").read_text())
    text = json.dumps(definition["properties"]["policyRule"])
    assert "Microsoft.DBforPostgreSQL/flexibleServers/network.publicNetworkAccess" in text
    assert "tags['approved-public']" in text
    assert definition["properties"]["parameters"]["effect"]["defaultValue"] == "Deny"


def test_the_lint_example_shows_real_output(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DOC.parent / "examples")
    shown = DOC.read_text("utf-8").split("$ policyengine lint first-attempt.yaml\n", 1)[1].split("```", 1)[0]
    result = cli("lint", "first-attempt.yaml")
    assert result.code == 1
    assert result.out + result.err == shown


def test_the_catalog_example_extends_the_catalog(cli: Callable[..., Result], tmp_path: Path) -> None:
    text = DOC.read_text("utf-8").split("# my-catalog.yaml", 1)[1].split("\n", 1)[1].split("```", 1)[0]
    catalog = tmp_path / "my-catalog.yaml"
    catalog.write_text(text)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cluster.yaml").write_text("""\
apiVersion: policyengine/v1
kind: Rule
metadata:
  id: ACME-PG-010
  title: Elastic clusters have at least two nodes
  severity: low
  description: One node is no cluster.
  remediation: {text: Add nodes.}
spec:
  resource: Microsoft.DBforPostgreSQL/flexibleServers
  condition: {field: properties.cluster.clusterSize, greaterOrEquals: 2}
  tests:
    - {name: two, resource: {properties: {cluster: {clusterSize: 2}}}, expect: pass}
    - {name: one, resource: {properties: {cluster: {clusterSize: 1}}}, expect: fail}
""")
    plain = cli("lint", "--strict", str(rules))
    assert plain.code == 1 and "PE101" in plain.out + plain.err
    checked = cli("lint", "--strict", "--catalog", str(catalog), str(rules))
    assert checked.code == 0, checked.out + checked.err


def test_the_test_file_example_runs(cli: Callable[..., Result], tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    target = rules / "public-access.yaml"
    assert cli("new", "rule", "ACME-PG-001", "-o", str(target)).code == 0
    target.write_text(target.read_text().split("spec:\n", 1)[0] + walkthrough_spec())
    example = DOC.read_text("utf-8").split("kind: RuleTests\n", 1)[1].split("```", 1)[0]
    (rules / "public-access.tests.yaml").write_text("apiVersion: policyengine/v1\nkind: RuleTests\n" + example)
    result = cli("test", str(rules))
    assert result.code == 0 and "5 passed, 0 failed" in result.out, result.out
