"""Template and plan fixes: the edit a rule gives for a declared failure (set a value where
the template writes it, add a property to the resource, declare a missing child resource; for
a plan, the azurerm attribute or resource), and nothing where the rule gives no single value.
Checked on examples/templates, on real third-party templates and plans, and by applying the
exact edits (SARIF ``fixes``) to a copy and scanning it again."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policyengine import ir
from policyengine.findings import Finding, Verdict
from policyengine.loading.rules import load_rules
from policyengine.loading.schema import load_schema
from policyengine.reports.json_report import fix_json
from policyengine.reports.template_fixes import DEFAULT_ASSUMED, Action, Change, _targets, exact, template_fix
from tests.conftest import Result
from tests.reports.scans import ROOT, templates

FIXTURES = ROOT / "tests" / "fixtures" / "frameworks"
STAND_INS = ("--no-bundled-rules", "--rules", str(FIXTURES / "rules"))
REALWORLD = Path("/work/shared/realworld")
#: The rules present since before this work: their conditions are fixed, so the edits are.
CORE = "PG-FLEX-001,PG-FLEX-002,PG-FLEX-003,PG-FLEX-004,PG-SINGLE-*,PG-SUB-001"


def failing(findings: tuple[Finding, ...], rule_id: str, **origin: Any) -> list[Finding]:
    return [f for f in findings if f.verdict is Verdict.FAIL and f.rule.id == rule_id
            and all(getattr(f.origin, k) == v for k, v in origin.items())]


def only(changes: tuple[Change, ...]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


def scan_doc(cli: Callable[..., Result], *argv: str) -> dict[str, Any]:
    result = cli("scan", *argv, "-f", "json")
    assert result.code in (0, 1), result.err
    doc: dict[str, Any] = json.loads(result.out)
    jsonschema.Draft202012Validator(load_schema("report.schema.json")).validate(doc)
    return doc


def test_a_wrong_value_is_set_where_the_template_writes_it() -> None:
    finding = failing(templates(), "PG-FLEX-001", file="examples/templates/flexible-insecure.json")[0]
    change = only(template_fix(finding))
    assert (change.action, change.where) == (Action.SET, "examples/templates/flexible-insecure.json:66:18")
    assert change.text == "set properties.value of flexibleServers/configurations 'require_secure_transport' to \"on\""
    assert change.snippet == '"value": "on"'
    # The template writes a parameter there, not the value: an edit, but no exact replacement.
    assert exact(change) is None
    single = only(template_fix(failing(templates(), "PG-SINGLE-001")[0]))
    assert (single.where, single.path, single.snippet) == (
        "examples/templates/single-server.json:42:27", "properties.sslEnforcement", '"sslEnforcement": "Enabled"')


def test_in_sets_the_first_value_and_names_the_others() -> None:
    change = only(template_fix(failing(templates(), "PG-FLEX-002", address="legacyTls")[0]))
    assert change.value == "TLSv1.2" and change.text.endswith('to "TLSv1.2" (or "TLSv1.3")')
    # The Bicep example's compiled template writes the literal: replaced exactly.
    found = exact(change)
    assert found is not None and (found.start_line, found.start_column, found.end_column) == (96, 18, 27)
    with contextlib.chdir(ROOT):
        line = Path(change.file).read_text().splitlines()[95]
    assert line[found.start_column - 1:found.end_column - 1] == '"TLSv1.1"' and found.text == '"TLSv1.2"'


def test_a_missing_child_is_declared_with_the_catalog_s_api_version() -> None:
    finding = failing(templates(), "PG-FLEX-003", file="examples/templates/flexible-insecure.json")[0]
    # How the evaluator notes a child the template does not declare: the fix relies on it.
    assert DEFAULT_ASSUMED in (finding.evidence[0].note or "")
    change = only(template_fix(finding))
    assert (change.action, change.where) == (Action.DECLARE, "examples/templates/flexible-insecure.json:32:5")
    assert json.loads(change.snippet) == {
        "type": "Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings",
        "apiVersion": "2024-08-01",
        "name": "pg-legacy-app-1/Default",
        "dependsOn": ["[resourceId('Microsoft.DBforPostgreSQL/flexibleServers', 'pg-legacy-app-1')]"],
        "properties": {"state": "Enabled"},
    }


@pytest.mark.parametrize("rule_id", ["PG-SINGLE-004", "PG-SINGLE-005"])
def test_count_and_any_of_give_no_value_so_no_fix(rule_id: str) -> None:
    (rule,) = [r for r in load_rules([]) if r.id == rule_id]
    assert _targets(rule) == {}
    for finding in failing(templates(), rule_id):
        assert template_fix(finding) == ()


def test_a_greater_comparison_gives_no_fix_and_json_says_nothing(cli: Callable[..., Result]) -> None:
    doc = scan_doc(cli, str(FIXTURES / "template.json"), *STAND_INS)
    retention = [f for f in doc["findings"] if f["rule"]["id"] == "PG-FLEX-009"]
    assert retention and all(f["verdict"] == "fail" and "fix" not in f for f in retention)
    checkpoints = {f["resource"]["source"]["line"]: f["fix"] for f in doc["findings"] if f["rule"]["id"] == "PG-FLEX-005"}
    assert checkpoints[5] == {"kind": "template", "changes": [{
        "action": "set", "file": str(FIXTURES / "template.json"), "line": 17, "column": 31,
        "path": "properties.value", "value": "on", "language": "json", "snippet": '"value": "on"',
        "text": "set properties.value of flexibleServers/configurations 'log_checkpoints' to \"on\""}]}
    declared = checkpoints[19]["changes"][0]
    assert declared["action"] == "declare" and json.loads(declared["snippet"])["name"] == "pg-quiet/log_checkpoints"


def test_an_absent_property_is_added_to_the_resource(cli: Callable[..., Result]) -> None:
    source = REALWORLD / "checkov/example_PostgreSQLServerSSLEnforcementEnabled/postgreSQL-SSL-FAILED2.json"
    if not source.exists():
        pytest.skip("the real-world corpus is not here")
    doc = scan_doc(cli, str(source), "--rule", CORE)
    fixes = {f["rule"]["id"]: f["fix"]["changes"] for f in doc["findings"] if f["verdict"] == "fail"}
    (tls,) = fixes["PG-SINGLE-002"]
    assert (tls["action"], tls["line"], tls["snippet"]) == ("add", 176, '{"properties": {"minimalTlsVersion": "TLS1_2"}}')
    (alerts,) = fixes["PG-SINGLE-003"]
    # The server's name is a parameter: the child is named by the same expression.
    assert json.loads(alerts["snippet"])["name"] == "[format('{0}/Default', parameters('serverName'))]"
    assert json.loads(alerts["snippet"])["dependsOn"] == [
        "[resourceId('Microsoft.DBforPostgreSQL/servers', parameters('serverName'))]"]
    (ssl,) = fixes["PG-SINGLE-001"]
    assert (ssl["action"], ssl["line"], ssl["column"]) == ("set", 197, 27)


def test_a_plan_is_fixed_in_the_provider_s_terms(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    plan = "examples/templates/terraform/plan.json"
    findings = {(f["rule"]["id"], f["resource"]["source"]["address"]): f.get("fix")
                for f in scan_doc(cli, plan, "--rule", CORE)["findings"] if f["verdict"] == "fail"}
    (setting,) = findings[("PG-FLEX-001", "azurerm_postgresql_flexible_server.reports")]["changes"]
    assert setting == {"action": "set", "file": plan, "path": "value", "value": "on", "language": "hcl",
                       "snippet": 'value = "on"',
                       "text": 'set value = "on" in the azurerm_postgresql_flexible_server_configuration named '
                               '"require_secure_transport" of azurerm_postgresql_flexible_server.reports'}
    # What the provider mapping does not know is named by its ARM path.
    (atp,) = findings[("PG-FLEX-003", "azurerm_postgresql_flexible_server.orders")]["changes"]
    assert atp["language"] == "json" and "its ARM path" in atp["text"]
    # A server parameter the plan does not declare: the resource to add.
    stand_in = {f["resource"]["source"]["address"]: f["fix"]["changes"][0]
                for f in scan_doc(cli, plan, *STAND_INS)["findings"] if f["rule"]["id"] == "PG-FLEX-005"}
    assert stand_in["azurerm_postgresql_flexible_server.orders"]["snippet"] == "\n".join([
        'resource "azurerm_postgresql_flexible_server_configuration" "orders_log_checkpoints" {',
        '  name      = "log_checkpoints"',
        "  server_id = azurerm_postgresql_flexible_server.orders.id",
        '  value     = "on"',
        "}"])


def test_a_single_server_plan_sets_its_threat_detection_block(cli: Callable[..., Result]) -> None:
    plan = REALWORLD / "tfplan/zodiacae/fme-server-iac-templates-main_Azure_terraform.plan.json"
    if not plan.exists():
        pytest.skip("the real-world corpus is not here")
    (finding,) = [f for f in scan_doc(cli, str(plan), "--rule", CORE)["findings"] if f["verdict"] == "fail"]
    (change,) = finding["fix"]["changes"]
    assert change["snippet"] == "threat_detection_policy {\n  enabled = true\n}"
    assert change["text"].endswith("in module.database.azurerm_postgresql_server.fme_flow")


def test_exact_edits_applied_to_a_copy_make_the_finding_pass(cli: Callable[..., Result], tmp_path: Path) -> None:
    """SARIF's fixes are replacements a viewer applies: applied here, the scan passes."""
    copy = tmp_path / "template.json"
    shutil.copy(FIXTURES / "template.json", copy)
    result = cli("scan", str(copy), *STAND_INS, "-f", "sarif", "--rule", "PG-FLEX-005")
    from tests.reports.test_sarif import validator

    log = json.loads(result.out)
    assert list(validator().iter_errors(log)) == []
    with_fix = [r for r in log["runs"][0]["results"] if "fixes" in r]
    assert len(with_fix) == 1  # the other server lacks the parameter: an edit, but no replacement
    (fix,) = with_fix[0]["fixes"]
    (artifact,) = fix["artifactChanges"]
    (replacement,) = artifact["replacements"]
    assert replacement == {"deletedRegion": {"startLine": 17, "startColumn": 31, "endLine": 17, "endColumn": 36},
                           "insertedContent": {"text": '"on"'}}
    lines = copy.read_text().splitlines(keepends=True)
    region = replacement["deletedRegion"]
    line = lines[region["startLine"] - 1]
    lines[region["startLine"] - 1] = (line[:region["startColumn"] - 1] + replacement["insertedContent"]["text"]
                                      + line[region["endColumn"] - 1:])
    copy.write_text("".join(lines))
    after = json.loads(cli("scan", str(copy), *STAND_INS, "-f", "json", "--rule", "PG-FLEX-005").out)
    verdicts = {f["resource"]["source"]["line"]: f["verdict"] for f in after["findings"]}
    assert verdicts == {5: "pass", 19: "fail"}


def test_every_real_world_fix_points_at_its_file_and_exact_ones_fix(cli: Callable[..., Result],
                                                                   tmp_path: Path) -> None:
    """On the third-party corpus: each edit names a line of the file (a SET, the line that
    writes the wrong value), and each exact replacement, applied, makes its finding pass."""
    if not REALWORLD.exists():
        pytest.skip("the real-world corpus is not here")
    applied = 0
    for source in sorted(REALWORLD.rglob("*.json")):
        doc = json.loads(cli("scan", str(source), "--rule", CORE, "-f", "json").out or "{}")
        for finding in doc.get("findings", []):
            fix = finding.get("fix")
            if finding["verdict"] != "fail" or not isinstance(fix, dict):
                continue
            for change in fix["changes"]:
                assert change["file"] == str(source)
                if "line" in change:
                    lines = source.read_text().splitlines()
                    assert 1 <= change["line"] <= len(lines)
                if change["action"] == "set" and "line" in change:
                    key = json.loads("{" + change["snippet"] + "}")
                    assert f'"{next(iter(key))}"' in lines[change["line"] - 1]
        sarif = json.loads(cli("scan", str(source), "--rule", CORE, "-f", "sarif").out or "{}")
        for result in (sarif.get("runs") or [{}])[0].get("results", []):
            for fix in result.get("fixes", []):
                copy = tmp_path / source.name
                text = source.read_text()
                for artifact in fix["artifactChanges"]:
                    for replacement in artifact["replacements"]:
                        text = _apply(text, replacement)
                copy.write_text(text)
                again = json.loads(cli("scan", str(copy), "--rule", result["ruleId"], "-f", "json").out)
                assert [f["verdict"] for f in again["findings"]] == ["pass"], source
                applied += 1
    assert applied >= 1  # the corpus has at least one literal wrong value (a Defender pricing "Free")


def _apply(text: str, replacement: dict[str, Any]) -> str:
    region = replacement["deletedRegion"]
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[:region["startLine"] - 1]) + region["startColumn"] - 1
    end = sum(len(line) for line in lines[:region["endLine"] - 1]) + region["endColumn"] - 1
    inserted: str = replacement["insertedContent"]["text"]
    return text[:start] + inserted + text[end:]


def test_an_observed_finding_keeps_its_command_and_a_declared_one_never_gets_one() -> None:
    for finding in templates():
        fix = fix_json(finding)
        if finding.origin.kind is ir.SourceKind.DECLARED:
            assert fix is None or (isinstance(fix, dict) and fix["kind"] == "template")


def test_the_table_gives_the_edit_instead_of_a_command(cli: Callable[..., Result],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "80")
    out = cli("scan", "examples/templates", "--rule", CORE).out
    failing_part = out[out.index("Failing ("):out.index("Unknown (")]
    assert "az " not in failing_part
    assert ("    fix at examples/templates/single-server.json:42:27: set\n"
            '      properties.sslEnforcement to "Enabled":\n'
            '        "sslEnforcement": "Enabled"\n') in failing_part
    # A snippet with a line wider than the terminal (a resource type in a JSON string) is left
    # to the formats that hold it whole; every other line fits.
    assert "its snippet is wider than 80 columns: -o fix.sh or --format json holds it" in " ".join(
        failing_part.split())
    assert max(len(line) for line in failing_part.splitlines()) <= 80


def test_markdown_and_the_script_give_each_edit_with_its_place(cli: Callable[..., Result], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    markdown, script = tmp_path / "r.md", tmp_path / "fix.sh"
    cli("scan", "examples/templates", "--rule", CORE, "-o", str(markdown), "-o", str(script))
    text = markdown.read_text()
    assert ("- examples/templates/single-server.json:42:27: set properties.sslEnforcement to \"Enabled\"\n\n"
            '  ```json\n  "sslEnforcement": "Enabled"\n  ```\n') in text
    assert '  ```hcl\n  value = "on"\n  ```' in text
    shell = script.read_text()
    assert ("#   fix at examples/templates/single-server.json:42:27: set properties.sslEnforcement to "
            '"Enabled":\n#     "sslEnforcement": "Enabled"\n') in shell
    assert '#       "apiVersion": "2024-08-01",\n' in shell  # a declared child, whole
    assert "#   No single edit follows from the rule: see `policyengine rules show PG-SINGLE-004`." in shell
    from tests.reports.test_script import run_script

    assert run_script(shell).calls == []  # comments only: nothing runs


def test_a_change_of_a_list_value_can_be_grouped() -> None:
    """The script and Markdown group findings by their edits: a list or object value (a rule
    may expect one) must not make an edit unhashable."""
    change = Change(Action.SET, "t.json", 3, 5, "properties.x", ["a"], "set x", '"x": ["a"]', was=["b"])
    assert {(change,): 1}[(change,)] == 1


def test_the_reports_page_shows_real_template_fixes(cli: Callable[..., Result],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_docs import REPORTS, assert_shown_is_real, shown_after_prompt

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "80")
    command = ("scan examples/templates/single-server.json examples/templates/flexible-insecure.json "
               "--rule PG-SINGLE-002,PG-FLEX-003")
    page = REPORTS.read_text("utf-8")
    assert_shown_is_real(shown_after_prompt(page, f"$ policyengine {command}"), cli(*command.split()).out,
                         "docs/reports.md's template fixes")
    shown = json.loads(page.split("the child of the example above is\n\n```json\n", 1)[1].split("```", 1)[0])
    finding = failing(templates(), "PG-FLEX-003", address="resources[0][0]")[0]
    assert json.loads(only(template_fix(finding)).snippet) == shown


def test_the_html_page_gives_a_template_finding_its_edit_not_a_command() -> None:
    from tests.reports.test_html import island, parse, render

    findings = templates()
    rows = island(parse(render(findings, load_rules([]))), "findings")
    declared = [r for r in rows if r["verdict"] == "fail" and "fix" not in r]
    assert declared and not any("fix" in r for r in rows)  # every finding here is declared
    edits = [r["edit"] for r in rows if "edit" in r]
    assert ("examples/templates/single-server.json:42:27: set properties.sslEnforcement to \"Enabled\"\n"
            '"sslEnforcement": "Enabled"') in edits


def test_a_junit_failure_of_a_template_carries_its_edit() -> None:
    import xml.etree.ElementTree as ET

    from policyengine.reports.junit import JunitReporter
    from tests.reports.scans import render

    xml = ET.fromstring(render(JunitReporter, templates()))
    texts = [f.text or "" for f in xml.iter("failure")]
    assert any("Fix in the file:\nexamples/templates/single-server.json:42:27: set properties.sslEnforcement "
               'to "Enabled"\n"sslEnforcement": "Enabled"' in t for t in texts)
