"""Every related resource of a type, from every source: a server's firewall rules read as an
array with ``count`` (PG-FLEX-010, PG-FLEX-011). An export that holds a server's rules is
judged on them; one that holds none for a server does not say there are none (unknown, with the
collect command); a template's are what it declares; a Terraform plan's firewall-rule resources
are children of the server they name. The evidence names the rules that matched and the fix
deletes each of them."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Result

Cli = Callable[..., Result]
SUB = "11111111-2222-3333-4444-555555555555"
SERVER = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-a"
TERRAFORM = Path(__file__).resolve().parents[1] / "fixtures" / "terraform" / "flexible.json"


def rule_row(name: str, start: str, end: str) -> dict[str, Any]:
    return {"id": f"{SERVER}/firewallRules/{name}", "name": name,
            "type": "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
            "properties": {"startIpAddress": start, "endIpAddress": end}}


SERVER_ROW = {"id": SERVER, "name": "pg-a", "type": "microsoft.dbforpostgresql/flexibleservers",
              "subscriptionId": SUB, "resourceGroup": "rg-a",
              "properties": {"state": "Ready", "network": {"publicNetworkAccess": "Enabled"}}}


def scan(cli: Cli, path: Path, *extra: str) -> tuple[Result, dict[str, Any]]:
    result = cli("scan", str(path), "--rule", "PG-FLEX-010,PG-FLEX-011", "-f", "json", *extra)
    return result, json.loads(result.out)


def by_rule(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["rule"]["id"]: f for f in report["findings"]}


def test_an_export_with_the_rules_is_judged_and_the_fix_names_each_match(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([SERVER_ROW, rule_row("office", "203.0.113.0", "203.0.113.255"),
                                rule_row("any-azure", "0.0.0.0", "0.0.0.0"),
                                rule_row("any-azure-2", "0.0.0.0", "0.0.0.0")]), "utf-8")
    _, report = scan(cli, path)
    found = by_rule(report)
    assert found["PG-FLEX-011"]["verdict"] == "pass"
    azure = found["PG-FLEX-010"]
    assert azure["verdict"] == "fail"
    (evidence,) = azure["evidence"]
    assert evidence["matched"] == ["any-azure", "any-azure-2"] and evidence["note"] == "2 matching: any-azure, any-azure-2"
    # Shown by name and properties, in name order.
    assert [r["name"] for r in evidence["actual"]] == ["any-azure", "any-azure-2", "office"]
    assert set(evidence["actual"][0]) == {"name", "properties"}
    assert azure["fix"].splitlines() == [
        f"az postgres flexible-server firewall-rule delete --resource-group rg-a --server-name pg-a --name {n} --yes"
        for n in ("any-azure", "any-azure-2")]


def test_an_export_without_any_rule_of_a_server_is_unknown_with_the_collect_command(cli: Cli,
                                                                                  tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([SERVER_ROW]), "utf-8")
    result, report = scan(cli, path)
    found = by_rule(report)
    assert {f["verdict"] for f in found.values()} == {"unknown"}
    (evidence,) = found["PG-FLEX-010"]["evidence"]
    assert evidence["note"] == ("not read: the resource's flexibleServers/firewallRules (every one) are not in "
                                "the input, and nothing says they were listed")
    assert "policyengine collect --azure" in result.err and "firewallrules" in result.err.lower()


def test_a_template_is_judged_on_the_rules_it_declares(cli: Cli, tmp_path: Path) -> None:
    server = {"type": "Microsoft.DBforPostgreSQL/flexibleServers", "apiVersion": "2024-08-01", "name": "pg-t",
              "location": "westeurope", "properties": {"version": "16"}}
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [server]}
    path = tmp_path / "none.json"
    path.write_text(json.dumps(template), "utf-8")
    assert {f["verdict"] for f in scan(cli, path)[1]["findings"]} == {"pass"}
    template["resources"] = [server, {
        "type": "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules", "apiVersion": "2024-08-01",
        "name": "pg-t/everyone", "dependsOn": ["pg-t"],
        "properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"}}]
    path.write_text(json.dumps(template, indent=1), "utf-8")
    found = by_rule(scan(cli, path)[1])
    assert found["PG-FLEX-011"]["verdict"] == "fail" and found["PG-FLEX-010"]["verdict"] == "pass"
    (evidence,) = found["PG-FLEX-011"]["evidence"]
    assert evidence["matched"] == ["everyone"]
    # Where the rule that matched is declared, and the fix: remove it there.
    lines = path.read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if '"pg-t/everyone"' in text)
    column = lines[line - 1].index('"pg-t/everyone"') + 1
    assert evidence["site"] == f"{path}:{line}:{column}"
    (change,) = found["PG-FLEX-011"]["fix"]["changes"]
    assert change["action"] == "remove" and (change["file"], change["line"]) == (str(path), line)
    assert change["text"] == "remove the firewallRules 'everyone' (declared here), which the rule wants none of"


def test_a_terraform_firewall_rule_is_a_child_of_the_server_it_names(cli: Cli, tmp_path: Path) -> None:
    plan = json.loads(TERRAFORM.read_text("utf-8"))
    address = "azurerm_postgresql_flexible_server_firewall_rule.everyone"
    values = {"name": "everyone", "start_ip_address": "0.0.0.0", "end_ip_address": "255.255.255.255",
              "timeouts": None}
    common = {"address": address, "mode": "managed", "type": "azurerm_postgresql_flexible_server_firewall_rule",
              "name": "everyone", "provider_name": "registry.terraform.io/hashicorp/azurerm"}
    plan["planned_values"]["root_module"]["resources"].append(
        {**common, "schema_version": 0, "values": values, "sensitive_values": {}})
    plan["resource_changes"].append({**common, "change": {
        "actions": ["create"], "before": None, "after": copy.deepcopy(values),
        "after_unknown": {"id": True, "server_id": True}, "before_sensitive": False, "after_sensitive": {}}})
    plan["configuration"]["root_module"]["resources"].append({
        "address": address, "mode": "managed", "type": common["type"], "name": "everyone",
        "provider_config_key": "azurerm", "schema_version": 0, "expressions": {
            "name": {"constant_value": "everyone"},
            "server_id": {"references": ["azurerm_postgresql_flexible_server.insecure.id",
                                         "azurerm_postgresql_flexible_server.insecure"]},
            "start_ip_address": {"constant_value": "0.0.0.0"},
            "end_ip_address": {"constant_value": "255.255.255.255"}}})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), "utf-8")
    _, report = scan(cli, path)
    internet = {f["resource"]["source"].get("address"): f["verdict"] for f in report["findings"]
                if f["rule"]["id"] == "PG-FLEX-011"}
    assert internet["azurerm_postgresql_flexible_server.insecure"] == "fail"
    assert internet["azurerm_postgresql_flexible_server.plain"] == "pass"  # declares none
    assert internet["azurerm_postgresql_flexible_server.secure"] == "not_applicable"  # no public access


def test_a_terraform_security_contact_is_judged_in_the_shape_the_provider_sends(cli: Cli, tmp_path: Path) -> None:
    # azurerm_security_center_contact writes the 2017-08-01-preview shape, which mails
    # high-severity alerts only: PG-SUB-002 fails, with the contact as evidence.
    plan = json.loads(TERRAFORM.read_text("utf-8"))
    address = "azurerm_security_center_contact.main"
    values = {"email": "secops@contoso.com", "phone": None, "alert_notifications": True,
              "alerts_to_admins": True, "timeouts": None}
    common = {"address": address, "mode": "managed", "type": "azurerm_security_center_contact", "name": "main",
              "provider_name": "registry.terraform.io/hashicorp/azurerm"}
    plan["planned_values"]["root_module"]["resources"].append(
        {**common, "schema_version": 0, "values": values, "sensitive_values": {}})
    plan["resource_changes"].append({**common, "change": {
        "actions": ["create"], "before": None, "after": copy.deepcopy(values), "after_unknown": {"id": True},
        "before_sensitive": False, "after_sensitive": {}}})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), "utf-8")
    result = cli("scan", str(path), "--rule", "PG-SUB-002", "-f", "json")
    (finding,) = json.loads(result.out)["findings"]
    assert finding["verdict"] == "fail"
    assert finding["evidence"][0]["actual"] == [{"name": "default1", "properties": {
        "email": "secops@contoso.com", "alertNotifications": "On", "alertsToAdmins": "On"}}]


def test_a_count_that_wants_one_match_says_why_each_resource_does_not(cli: Cli, tmp_path: Path) -> None:
    # The bundled example's production subscription: a contact in use that mails nobody.
    result = cli("scan", "--rule", "PG-SUB-002", "-f", "json")
    prod = next(f for f in json.loads(result.out)["findings"]
                if f["resource"]["id"] == "/subscriptions/8c3f2a91-5d4e-4b7a-9e21-6f0c3d8a7b12")
    (evidence,) = prod["evidence"]
    # What the contact holds that fails, not the properties of the other API shapes it lacks.
    assert evidence["note"] == (
        '0 matching; default does not: @.properties.emails is "" (expected: matches the pattern ".*@.*"), '
        '@.properties.notificationsByRole.state is "Off" (expected: equals "On"), '
        "@.properties.notificationsByRole.roles is [] (expected: count is greater than 0)")
    assert "matched" not in evidence


def test_a_row_without_a_name_is_named_by_its_id(cli: Cli, tmp_path: Path) -> None:
    # Exports from other tools may leave out "name": the id's last segment names the rule, so
    # the evidence and the fix still say which one.
    row = rule_row("NoNameRow", "0.0.0.0", "0.0.0.0")
    del row["name"]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([SERVER_ROW, row]), "utf-8")
    found = by_rule(scan(cli, path)[1])["PG-FLEX-010"]
    assert found["evidence"][0]["matched"] == ["NoNameRow"]
    assert found["fix"].endswith("--name NoNameRow --yes")
