"""Terraform plans -> records, judged by the real bundled rules through the evaluator.

The fixtures in tests/fixtures/terraform/ are hand-written in the `terraform show -json`
format (https://developer.hashicorp.com/terraform/internals/json-format):

* flexible.json: flexible servers created in the root module (secure, insecure, no parameter
  declared, a parameter known only after apply, one from a sensitive variable), a deleted
  server, a parameter of a server outside the plan, a data source.
* modules.json: joins through a for_each module, count, for_each over the servers, a module
  output, a module input variable, and a server updated in place (ids known).
* single.json: single servers, Defender pricings, a second provider configuration (alias),
  a deleted pricing, azurerm_advanced_threat_protection.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
from pathlib import Path
from typing import Any

import pytest

from policyengine.cli import main
from policyengine.errors import InputError
from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Finding
from policyengine.loading.rules import load_rules
from policyengine.sources.jsonpos import loads
from policyengine.sources.terraform import PlanResult, is_plan, plan_records
from policyengine.sources.terraform.addresses import ResourceAddr, Step, parse_address, parse_reference
from policyengine.sources.terraform.mapping import FLEXIBLE_SERVER, SINGLE_SERVER, apply
from policyengine.status import Unit
from policyengine.unknown import Unknown

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terraform"
SECRETS = ("Sup3r-S3cret-Pa55!", "L3gacy-Pa55w0rd!", "c2VjcmV0LXN0b3JhZ2Uta2V5")


@functools.cache
def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def doc(name: str) -> Any:
    return loads(text(name), f"plans/{name}")


@functools.cache
def index() -> RuleIndex:
    return RuleIndex(load_rules([]))


@functools.cache
def result(name: str) -> PlanResult:
    return plan_records(doc(name), f"plans/{name}")


def findings(res: PlanResult) -> dict[tuple[str, str | None], Finding]:
    return {(f.rule.id, f.origin.address): f for f in evaluate_records(index(), res.records)}


FLEX = "azurerm_postgresql_flexible_server"
DEFAULT = "the platform default was assumed"

VERDICTS = [
    # flexible.json
    ("flexible.json", "PG-FLEX-001", f"{FLEX}.insecure", "fail", '"off"'),
    ("flexible.json", "PG-FLEX-002", f"{FLEX}.insecure", "fail", '"TLSv1.1"'),
    ("flexible.json", "PG-FLEX-001", f"{FLEX}.secure", "pass", '"on"'),
    ("flexible.json", "PG-FLEX-002", f"{FLEX}.secure", "pass", '"TLSv1.3"'),
    ("flexible.json", "PG-FLEX-001", f"{FLEX}.plain", "pass", DEFAULT),
    ("flexible.json", "PG-FLEX-002", f"{FLEX}.plain", "pass", DEFAULT),
    ("flexible.json", "PG-FLEX-003", f"{FLEX}.plain", "fail", DEFAULT),
    ("flexible.json", "PG-FLEX-001", f"{FLEX}.pending", "unknown",
     f"{FLEX}_configuration.pending_transport.value (known after apply)"),
    ("flexible.json", "PG-FLEX-001", f"{FLEX}.hidden", "unknown",
     f"{FLEX}_configuration.hidden_transport.value (sensitive)"),
    ("flexible.json", "PG-FLEX-004", f"{FLEX}.plain", "unknown", "not declared: the subscription's pricings"),
    # modules.json: each join decides a verdict that differs from the platform default
    ("modules.json", "PG-FLEX-001", f'module.db["prod"].{FLEX}.main', "pass", '"on"'),
    ("modules.json", "PG-FLEX-001", f'module.db["staging"].{FLEX}.main', "fail", '"off"'),
    ("modules.json", "PG-FLEX-002", f"{FLEX}.replica[0]", "pass", '"TLSv1.2"'),
    ("modules.json", "PG-FLEX-002", f"{FLEX}.replica[1]", "fail", '"TLSv1.1"'),
    ("modules.json", "PG-FLEX-001", f'{FLEX}.tenant["alpha"]', "pass", '"on"'),
    ("modules.json", "PG-FLEX-001", f'{FLEX}.tenant["beta"]', "fail", '"off"'),
    ("modules.json", "PG-FLEX-002", f"module.ledger.{FLEX}.main", "fail", '"TLSv1.1"'),
    ("modules.json", "PG-FLEX-001", f"{FLEX}.replica[0]", "fail", '"off"'),
    ("modules.json", "PG-FLEX-002", f"{FLEX}.app", "pass", '"TLSv1.3"'),
    # single.json
    ("single.json", "PG-SINGLE-001", "azurerm_postgresql_server.legacy", "fail", '"Disabled"'),
    ("single.json", "PG-SINGLE-002", "azurerm_postgresql_server.legacy", "fail", '"TLSEnforcementDisabled"'),
    ("single.json", "PG-SINGLE-003", "azurerm_postgresql_server.legacy", "fail", DEFAULT),
    ("single.json", "PG-SINGLE-002", "azurerm_postgresql_server.old_tls", "fail", '"TLS1_0"'),
    ("single.json", "PG-SINGLE-001", "azurerm_postgresql_server.old_tls", "pass", '"Enabled"'),
    ("single.json", "PG-SINGLE-003", "azurerm_postgresql_server.old_tls", "pass", '"Enabled"'),
    ("single.json", "PG-SINGLE-005", "azurerm_postgresql_server.old_tls", "pass", "dba@contoso.com"),
    ("single.json", "PG-SINGLE-003", "azurerm_postgresql_server.basic", "not_applicable", '"Basic"'),
    ("single.json", "PG-SUB-001", 'provider["registry.terraform.io/hashicorp/azurerm"]', "pass", '"Standard"'),
    ("single.json", "PG-SUB-001", 'provider["registry.terraform.io/hashicorp/azurerm"].analytics', "fail", '"Free"'),
    ("single.json", "PG-FLEX-004", f"{FLEX}.analytics", "fail", '"Free"'),
]


@pytest.mark.parametrize(("fixture", "rule", "address", "verdict", "evidence"), VERDICTS,
                         ids=[f"{v[0]}:{v[1]}:{v[2]}" for v in VERDICTS])
def test_bundled_rules_on_plans(fixture: str, rule: str, address: str, verdict: str, evidence: str) -> None:
    finding = findings(result(fixture))[(rule, address)]
    assert finding.verdict.value == verdict, finding.message
    assert evidence in finding.message


def test_findings_point_at_the_plan_entry() -> None:
    finding = findings(result("flexible.json"))[("PG-FLEX-001", f"{FLEX}.insecure")]
    assert finding.origin.file == "plans/flexible.json"
    assert text("flexible.json").splitlines()[finding.origin.line - 1].strip() == "{"
    assert f'"address": "{FLEX}.insecure"' in text("flexible.json").splitlines()[finding.origin.line]
    assert finding.origin.kind.value == "declared"


def test_deleted_resources_are_not_evaluated_and_are_noted() -> None:
    res = result("flexible.json")
    assert all("pg-old-weu" not in r.id for r in res.records)
    assert any(f"{FLEX}.old: the plan deletes it" in n for n in res.notes)


def test_a_parameter_of_a_server_outside_the_plan_is_a_note() -> None:
    notes = result("flexible.json").notes
    assert any("shared_log: configures /subscriptions/" in n and "pg-shared, a server not in this plan" in n
               for n in notes)


def test_unmapped_resources_and_data_sources_are_counted() -> None:
    assert result("flexible.json").ignored == {
        "azurerm_resource_group": 1, "data.azurerm_private_dns_zone": 1, "terraform_data": 1}
    # The ATP setting of a storage account is not PostgreSQL's.
    assert result("single.json").ignored == {"azurerm_advanced_threat_protection": 1, "azurerm_storage_account": 1}


def test_record_ids_and_subscriptions() -> None:
    res = result("flexible.json")
    ids = [r.id for r in res.records]
    assert len(ids) == len(set(ids)) == 5
    secure = res.records[0]
    assert secure.id == ("/subscriptions/[azurerm provider subscription]/resourceGroups/rg-data/providers/"
                         "Microsoft.DBforPostgreSQL/flexibleServers/pg-secure-weu")
    assert secure.subscription is not None and secure.subscription.id == "/subscriptions/[azurerm provider subscription]"
    # No pricing declared: no subscription record to evaluate, but every server has one.
    assert all(r.type == "Microsoft.DBforPostgreSQL/flexibleServers" for r in res.records)
    assert secure.subscription.children == {}
    assert secure.subscription.origin.kind.value == "declared"
    # A literal subscription_id in the provider block; a root variable; an alias.
    assert {r.subscription_id for r in result("modules.json").records} == {"8c3f2a91-5d4e-4b7a-9e21-6f0c3d8a7b12"}
    subs = {r.id for r in result("single.json").records if r.type == "Microsoft.Resources/subscriptions"}
    assert subs == {"/subscriptions/1e7b4c60-2a9f-4d35-8c18-93b5e0f6a2d4",
                    "/subscriptions/d5a09e37-6c2b-48f1-a7e4-0b9c2f8d1e53"}


def test_server_data_is_arm_shaped() -> None:
    secure = result("flexible.json").records[0]
    assert secure.data["sku"] == {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"}
    props = secure.data["properties"]
    assert props["version"] == "16"
    assert props["network"]["publicNetworkAccess"] == "Disabled"
    assert props["network"]["delegatedSubnetResourceId"].endswith("/subnets/snet-postgres")
    assert props["storage"]["storageSizeGB"] == 64
    assert props["storage"]["tier"] == Unknown(f"{FLEX}.secure.storage_tier", "known after apply")
    legacy = next(r for r in result("single.json").records if r.id.endswith("/psql-legacy"))
    assert legacy.data["sku"] == {"name": "GP_Gen5_4", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 4}
    assert legacy.data["properties"]["storageProfile"]["storageAutogrow"] == "Enabled"
    old_tls = next(r for r in result("single.json").records if r.id.endswith("/psql-old-tls"))
    policy = old_tls.children[("microsoft.dbforpostgresql/servers/securityalertpolicies", "default")]
    assert policy is not None and policy["properties"] == {
        "state": "Enabled", "disabledAlerts": [], "emailAddresses": ["dba@contoso.com"],
        "emailAccountAdmins": False, "retentionDays": 30,
        "storageEndpoint": "https://stauditlogs.blob.core.windows.net/"}
    assert old_tls.children[("microsoft.dbforpostgresql/servers/configurations", "log_checkpoints")] is not None


def test_sensitive_values_never_reach_output() -> None:
    for name in ("flexible.json", "modules.json", "single.json"):
        assert any(secret in text(name) for secret in SECRETS)  # the plans do hold them
        res = result(name)
        shown = json.dumps([f.to_json() for f in evaluate_records(index(), res.records)])
        shown += json.dumps([(r.id, r.data, list(r.children.values())) for r in res.records], default=repr)
        shown += "\n".join(res.notes)
        for secret in SECRETS:
            assert secret not in shown


def test_azurerm_advanced_threat_protection_on_a_server_is_noted() -> None:
    notes = result("single.json").notes
    assert any("azurerm_advanced_threat_protection.old_tls: sets Microsoft.Security/advancedThreatProtectionSettings"
               in n and "declares its own setting too" in n for n in notes)


def test_a_flexible_server_targeted_by_azurerm_advanced_threat_protection_is_unknown() -> None:
    plan = doc("flexible.json")
    add_resource(plan, "azurerm_advanced_threat_protection.plain", {"enabled": True, "timeouts": None},
                 {"id": True, "target_resource_id": True},
                 {"enabled": {"constant_value": True},
                  "target_resource_id": {"references": [f"{FLEX}.plain.id", f"{FLEX}.plain"]}})
    finding = findings(plan_records(plan, "p.json"))[("PG-FLEX-003", f"{FLEX}.plain")]
    assert finding.verdict.value == "unknown"
    assert "azurerm_advanced_threat_protection.plain.enabled" in finding.message


def test_a_deleted_pricing_resets_the_tier_to_free() -> None:
    assert any("analytics_oss: the plan deletes it, which resets the tier to Free" in n
               for n in result("single.json").notes)


def test_planned_values_alone_are_read() -> None:
    plan = doc("flexible.json")
    del plan["resource_changes"]
    res = plan_records(plan, "p.json")
    got = findings(res)
    assert got[("PG-FLEX-001", f"{FLEX}.insecure")].verdict.value == "fail"
    assert got[("PG-FLEX-002", f"{FLEX}.secure")].verdict.value == "pass"
    assert got[("PG-FLEX-001", f"{FLEX}.pending")].verdict.value == "unknown"
    assert len(res.records) == 5


def test_a_state_is_read_too() -> None:
    plan = doc("modules.json")
    state = {"format_version": "1.0", "terraform_version": "1.9.5", "values": plan["planned_values"]}
    assert is_plan(state)
    assert len(plan_records(state, "state.json").records) == 8


def add_resource(plan: dict[str, Any], address: str, after: dict[str, Any], unknown: dict[str, Any],
                 expressions: dict[str, Any], **extra: Any) -> None:
    """Add one created resource to a plan, with its configuration (root module only)."""
    addr = parse_address(address)
    assert addr is not None and not addr.module
    plan["resource_changes"].append({
        "address": address, "mode": "managed", "type": addr.type, "name": addr.name,
        "provider_name": "registry.terraform.io/hashicorp/azurerm",
        "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown,
                   "before_sensitive": False, "after_sensitive": {}}})
    config = plan["configuration"]["root_module"]["resources"]
    if not any(r["address"] == addr.local for r in config):
        config.append({"address": addr.local, "mode": "managed", "type": addr.type, "name": addr.name,
                       "provider_config_key": "azurerm", "expressions": expressions, "schema_version": 0, **extra})


def test_an_ambiguous_reference_makes_each_instance_it_may_name_unknown() -> None:
    plan = doc("modules.json")
    # for_each = toset(["x"]), server_id = azurerm_postgresql_flexible_server.tenant[each.value].id:
    # Terraform keeps ["...tenant", "each.value"], which does not say which tenant.
    add_resource(plan, f'{FLEX}_configuration.floor["x"]', {"name": "ssl_min_protocol_version", "value": "TLSv1.0"},
                 {"id": True, "server_id": True},
                 {"name": {"constant_value": "ssl_min_protocol_version"}, "value": {"constant_value": "TLSv1.0"},
                  "server_id": {"references": [f"{FLEX}.tenant", "each.value"]}},
                 for_each_expression={"constant_value": ["x"]})
    res = plan_records(plan, "p.json")
    got = findings(res)
    for tenant in ("alpha", "beta"):
        finding = got[("PG-FLEX-002", f'{FLEX}.tenant["{tenant}"]')]
        assert finding.verdict.value == "unknown"
        assert "which server it configures cannot be told" in finding.message
    assert got[("PG-FLEX-002", f"{FLEX}.replica[0]")].verdict.value == "pass"
    assert any('floor["x"]: its server_id is known after apply' in n and "which has 2 instances" in n
               for n in res.notes)


def test_a_parameter_whose_name_is_unknown_makes_defaulted_parameters_unknown() -> None:
    plan = doc("flexible.json")
    add_resource(plan, f"{FLEX}_configuration.mystery", {"value": "off"},
                 {"id": True, "server_id": True, "name": True},
                 {"name": {"references": ["terraform_data.tls_policy.output", "terraform_data.tls_policy"]},
                  "value": {"constant_value": "off"},
                  "server_id": {"references": [f"{FLEX}.plain.id", f"{FLEX}.plain"]}})
    got = findings(plan_records(plan, "p.json"))
    assert got[("PG-FLEX-001", f"{FLEX}.plain")].verdict.value == "unknown"
    assert got[("PG-FLEX-002", f"{FLEX}.plain")].verdict.value == "unknown"
    assert got[("PG-FLEX-001", f"{FLEX}.insecure")].verdict.value == "fail"


def test_a_pricing_whose_resource_type_is_unknown_leaves_the_plan_unknown() -> None:
    plan = doc("flexible.json")
    add_resource(plan, "azurerm_security_center_subscription_pricing.later", {"tier": "Standard"},
                 {"id": True, "resource_type": True},
                 {"tier": {"constant_value": "Standard"},
                  "resource_type": {"references": ["terraform_data.tls_policy.output"]}})
    res = plan_records(plan, "p.json")
    sub = [r for r in res.records if r.type == "Microsoft.Resources/subscriptions"]
    assert len(sub) == 1
    finding = findings(res)[("PG-SUB-001", 'provider["registry.terraform.io/hashicorp/azurerm"]')]
    assert finding.verdict.value == "unknown"
    assert "resource_type is known after apply" in finding.message


def test_two_resources_declaring_one_azure_resource_are_evaluated_once() -> None:
    plan = doc("flexible.json")
    twin = copy.deepcopy(next(rc for rc in plan["resource_changes"] if rc["address"] == f"{FLEX}.plain"))
    twin["address"], twin["name"] = f"{FLEX}.twin", "twin"
    plan["resource_changes"].append(twin)
    res = plan_records(plan, "p.json")
    assert len(res.records) == 5
    assert any(f"{FLEX}.twin: declares the same Azure resource as {FLEX}.plain" in n for n in res.notes)


def test_two_resources_setting_one_parameter_differently_leave_it_unknown() -> None:
    plan = doc("flexible.json")
    add_resource(plan, f"{FLEX}_configuration.second_transport", {"name": "require_secure_transport", "value": "on"},
                 {"id": True, "server_id": True},
                 {"name": {"constant_value": "require_secure_transport"}, "value": {"constant_value": "on"},
                  "server_id": {"references": [f"{FLEX}.insecure.id", f"{FLEX}.insecure"]}})
    finding = findings(plan_records(plan, "p.json"))[("PG-FLEX-001", f"{FLEX}.insecure")]
    assert finding.verdict.value == "unknown"
    assert f"declared by both {FLEX}_configuration.insecure_transport and {FLEX}_configuration.second_transport" \
        in finding.message


def test_without_a_configuration_section_no_server_passes_on_a_default() -> None:
    plan = doc("flexible.json")
    del plan["configuration"]
    res = plan_records(plan, "p.json")
    got = findings(res)
    for server in ("secure", "insecure", "plain", "pending", "hidden"):
        assert got[("PG-FLEX-001", f"{FLEX}.{server}")].verdict.value == "unknown"
        assert got[("PG-FLEX-002", f"{FLEX}.{server}")].verdict.value == "unknown"
    assert any("the plan has no configuration section" in n for n in res.notes)


# -- malformed plans ------------------------------------------------------------------------

def mutate(path: str, value: Any) -> str:
    """flexible.json with the value at a /-separated path replaced (or deleted for ...)."""
    plan = json.loads(text("flexible.json"))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
    node = plan
    for p in parents:
        node = node[p]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return json.dumps(plan, indent=1)


def plan_index(address: str) -> int:
    return next(i for i, rc in enumerate(json.loads(text("flexible.json"))["resource_changes"])
                if rc["address"] == address)


INSECURE = plan_index(f"{FLEX}.insecure")
#: Problems of the document itself: the whole file is an input error.
FILE_ERRORS = [
    ("[]", "plan.json:1:1: not a Terraform plan: expected a JSON object, found an array"),
    ('{"resource_changes": []}', "plan.json:1:1: not a Terraform plan: no format_version"),
    ('{"format_version": "2.0", "resource_changes": []}', "plan.json:1:20: format_version: unsupported "
                                                          "Terraform JSON format '2.0'"),
    ('{"format_version": 1.2, "resource_changes": []}', "plan.json:1:20: format_version: expected a string"),
    ('{"format_version": "1.2"}', "plan.json:1:1: not a Terraform plan: no resource_changes"),
    ('{"format_version": "1.2", "resource_changes": {}}', "resource_changes: expected an array, found an object"),
    (mutate("planned_values/root_module", []).replace('"resource_changes"', '"ignored_changes"'),
     "planned_values.root_module: expected an object, found an array"),
]


@pytest.mark.parametrize(("source", "message"), FILE_ERRORS, ids=[m[1][:50] for m in FILE_ERRORS])
def test_a_malformed_plan_is_an_input_error_of_the_file(source: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        plan_records(loads(source, "plan.json"), "plan.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("plan.json:")


#: Problems of one resource entry: that resource is an input error, the rest of the plan is judged.
#: (source, the address the error names, message)
RESOURCE_ERRORS = [
    ('{"format_version": "1.2", "resource_changes": [3]}', "resource_changes[0]",
     "plan.json:1:48: resource_changes[0]: expected an object, found a number"),
    ('{"format_version": "1.2", "resource_changes": [{"address": "not an address"}]}', "resource_changes[0]",
     "resource_changes[0].address: not a resource address: 'not an address'"),
    (mutate(f"resource_changes/{INSECURE}/change/actions", "create"), f"{FLEX}.insecure",
     f"resource_changes[{INSECURE}] ({FLEX}.insecure).change.actions: expected an array"),
    (mutate(f"resource_changes/{INSECURE}/change/after", ...), f"{FLEX}.insecure",
     f"resource_changes[{INSECURE}] ({FLEX}.insecure).change.after: expected an object for actions ['create']"),
    (mutate(f"resource_changes/{INSECURE}/change/after", "pg"), f"{FLEX}.insecure",
     f"resource_changes[{INSECURE}] ({FLEX}.insecure).change.after: expected an object, found a string"),
    (mutate(f"resource_changes/{INSECURE}/change/after/public_network_access_enabled", "yes"), f"{FLEX}.insecure",
     f"{FLEX}.insecure: public_network_access_enabled: expected true or false"),
    (mutate(f"resource_changes/{INSECURE}/change/after/name", 7), f"{FLEX}.insecure",
     f"{FLEX}.insecure: name: expected a non-empty string"),
    (mutate(f"resource_changes/{INSECURE}/change/after/resource_group_name", None), f"{FLEX}.insecure",
     f"{FLEX}.insecure: resource_group_name: expected a non-empty string"),
    (mutate(f"resource_changes/{INSECURE + 1}/change/after/value", False), f"{FLEX}_configuration.insecure_transport",
     f"{FLEX}_configuration.insecure_transport: value: expected a string"),
]


@pytest.mark.parametrize(("source", "address", "message"), RESOURCE_ERRORS, ids=[m[2][:50] for m in RESOURCE_ERRORS])
def test_a_malformed_resource_is_an_input_error_of_that_resource_only(source: str, address: str,
                                                                       message: str) -> None:
    res = plan_records(loads(source, "plan.json"), "plan.json")
    (problem,) = res.problems
    assert problem.unit is Unit.RESOURCE and problem.resource == address
    assert message in problem.text() and problem.text().startswith("plan.json:") and problem.span.line > 0
    assert "this resource is not evaluated, the rest of the plan is" in problem.message
    if len(json.loads(source)["resource_changes"]) > 1:
        got = findings(res)  # the rest of the plan is judged as before
        assert got[("PG-FLEX-001", f"{FLEX}.secure")].verdict.value == "pass"
        assert got[("PG-FLEX-002", f"{FLEX}.secure")].verdict.value == "pass"
        assert {f"{FLEX}.secure", f"{FLEX}.plain", f"{FLEX}.pending", f"{FLEX}.hidden"} <= {
            address for _, address in got}


def test_a_malformed_server_is_not_evaluated_and_its_children_say_why() -> None:
    source = mutate(f"resource_changes/{INSECURE}/change/after/public_network_access_enabled", "yes")
    res = plan_records(loads(source, "plan.json"), "plan.json")
    assert f"{FLEX}.insecure" not in {address for _, address in findings(res)}
    # Its parameters name it through a reference, which now points at an invalid resource.
    assert any(f"{FLEX}_configuration.insecure_transport: refers to {FLEX}.insecure, which is invalid in this "
               "plan" in n for n in res.notes), res.notes


def test_a_malformed_parameter_leaves_that_parameter_unknown_on_its_server() -> None:
    source = mutate(f"resource_changes/{INSECURE + 1}/change/after/value", False)
    got = findings(plan_records(loads(source, "plan.json"), "plan.json"))
    transport = got[("PG-FLEX-001", f"{FLEX}.insecure")]
    assert transport.verdict.value == "unknown"  # neither its 'off' nor the platform default 'on'
    assert f"{FLEX}_configuration.insecure_transport is invalid in the plan" in transport.message
    assert got[("PG-FLEX-002", f"{FLEX}.insecure")].verdict.value == "fail"  # its TLSv1.1 is still read


def test_a_malformed_pricing_leaves_the_subscription_plan_unknown() -> None:
    plan = doc("single.json")
    oss = next(rc for rc in plan["resource_changes"] if rc["address"].endswith("pricing.oss"))
    oss["change"]["after"]["tier"] = 1
    res = plan_records(plan, "p.json")
    (problem,) = res.problems
    assert problem.unit is Unit.RESOURCE and problem.resource == oss["address"]
    assert "tier: expected a string" in problem.message
    got = findings(res)
    default = got[("PG-SUB-001", 'provider["registry.terraform.io/hashicorp/azurerm"]')]
    assert default.verdict.value == "unknown"  # was pass on Standard; never a guess now
    assert f"{oss['address']} is invalid in the plan" in default.message
    # The other provider's subscription, and its deleted (Free) pricing, are judged as before.
    assert got[("PG-SUB-001", 'provider["registry.terraform.io/hashicorp/azurerm"].analytics')].verdict.value \
        == "fail"


def test_a_hostile_depth_is_an_input_error_of_that_resource() -> None:
    plan = json.loads(text("flexible.json"))
    deep: Any = "x"
    for _ in range(400):
        deep = {"a": deep}
    plan["resource_changes"][INSECURE]["change"]["after"]["tags"] = deep
    res = plan_records(plan, "plan.json")
    (problem,) = res.problems
    assert "nested more than 256 deep" in problem.message and problem.resource == f"{FLEX}.insecure"
    assert ("PG-FLEX-001", f"{FLEX}.secure") in findings(res)


def test_plain_json_gives_errors_without_lines() -> None:
    with pytest.raises(InputError, match=r"^plan.json: format_version: unsupported"):
        plan_records({"format_version": "0.1", "planned_values": {}}, "plan.json")


@pytest.mark.parametrize(("value", "expected"), [
    ({"format_version": "1.2", "planned_values": {}, "resource_changes": []}, True),
    ({"format_version": "1.0", "values": {"root_module": {}}}, True),
    ({"format_version": "1.2"}, False),
    ({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "resources": []}, False),
    ({"count": 1, "data": []}, False),
    ([], False),
    ("plan", False),
])
def test_is_plan(value: Any, expected: bool) -> None:
    assert is_plan(value) is expected


# -- addresses and mapping --------------------------------------------------------------------

@pytest.mark.parametrize(("address", "expected"), [
    ("azurerm_x.main", ResourceAddr((), "azurerm_x", "main")),
    ("azurerm_x.main[0]", ResourceAddr((), "azurerm_x", "main", 0)),
    ('module.db["prod.eu"].module.inner[2].azurerm_x.main["a\\"b"]',
     ResourceAddr((Step("db", "prod.eu"), Step("inner", 2)), "azurerm_x", "main", 'a"b')),
    ("data.azurerm_client_config.current", ResourceAddr((), "azurerm_client_config", "current", None, "data")),
    ("module.db.data.azurerm_y.z", ResourceAddr((Step("db"),), "azurerm_y", "z", None, "data")),
    ("azurerm_x", None),
    ("azurerm_x.main.extra", None),
    ("azurerm_x.main[", None),
    ("module.db", None),
])
def test_parse_address(address: str, expected: ResourceAddr | None) -> None:
    assert parse_address(address) == expected
    if expected is not None:
        assert str(expected) == address


@pytest.mark.parametrize(("reference", "kind", "fields"), [
    ("azurerm_x.main.id", "resource", {"type": "azurerm_x", "name": "main", "keyed": False}),
    ('azurerm_x.main["k"].id', "resource", {"type": "azurerm_x", "name": "main", "key": "k", "keyed": True}),
    ("module.db.server_id", "module", {"name": "db", "output": "server_id", "keyed": False}),
    ("module.db[1]", "module", {"name": "db", "key": 1, "keyed": True, "output": None}),
    ("var.server_id", "var", {"name": "server_id"}),
    ("each.key", "other", {}),
    ("count.index", "other", {}),
    ("data.azurerm_x.y.id", "other", {}),
    ("local.servers", "other", {}),
])
def test_parse_reference(reference: str, kind: str, fields: dict[str, Any]) -> None:
    ref = parse_reference(reference)
    assert ref.kind == kind
    assert {k: getattr(ref, k) for k in fields} == fields


def test_sku_names_split_as_the_provider_does() -> None:
    out: dict[str, Any] = {}
    apply(FLEXIBLE_SERVER, {"sku_name": "MO_Standard_E4s_v3", "storage_mb": 32768}, out)
    assert out == {"sku": {"name": "Standard_E4s_v3", "tier": "MemoryOptimized"},
                   "properties": {"storage": {"storageSizeGB": 32}}}
    out = {}
    apply(SINGLE_SERVER, {"sku_name": "B_Gen5_1", "ssl_enforcement": "Enabled"}, out)
    assert out == {"sku": {"name": "B_Gen5_1", "tier": "Basic", "family": "Gen5", "capacity": 1},
                   "properties": {"sslEnforcement": "Enabled"}}
    out = {}
    apply(FLEXIBLE_SERVER, {"sku_name": "XX_odd"}, out)  # a tier the provider rejects: no guess
    assert out == {}


def test_a_scan_names_the_line_of_a_malformed_plan_resource_and_judges_the_rest(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(mutate(f"resource_changes/{INSECURE + 1}/change/after/value", False), encoding="utf-8")
    out = tmp_path / "report.json"
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(["scan", str(plan), "--format", "json", "-o", str(out)])
    assert code == 2 and "Traceback" not in err.getvalue()
    report = json.loads(out.read_text(encoding="utf-8"))
    (error,) = report["scan"]["inputErrors"]
    lines = plan.read_text(encoding="utf-8").splitlines()
    assert error["unit"] == "resource" and error["resource"] == f"{FLEX}_configuration.insecure_transport"
    assert f'"address": "{FLEX}_configuration.insecure_transport"' in lines[error["line"]]  # the entry's line
    verdicts = {(f["rule"]["id"], f["resource"]["source"]["address"]): f["verdict"] for f in report["findings"]}
    assert verdicts[("PG-FLEX-001", f"{FLEX}.insecure")] == "unknown"
    assert verdicts[("PG-FLEX-001", f"{FLEX}.secure")] == "pass"
