"""A resource ARM would reject, inside a template that is otherwise valid: an input error of
that resource only, the rest judged, and what depends on it unknown (never a guess)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Finding
from policyengine.loading.rules import load_rules
from policyengine.sources import jsonpos
from policyengine.sources.arm.expand import Expansion, expand
from policyengine.sources.arm.records import TemplateRecords, template_records
from policyengine.sources.arm.scope import TemplateError
from policyengine.status import Unit
from policyengine.unknown import Unknown

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
SUB_SCHEMA = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"
FILE = "t.json"


def template(*resources: Any, schema: str = SCHEMA, **sections: Any) -> str:
    return json.dumps({"$schema": schema, "contentVersion": "1.0.0.0", **sections, "resources": list(resources)},
                      indent=2)


def server(name: str = "pg-a", **extra: Any) -> dict[str, Any]:
    return {"type": FLEX, "apiVersion": "2024-08-01", "name": name, "location": "westeurope",
            "properties": {"version": "16"}, **extra}


def config(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": f"{FLEX}/configurations", "apiVersion": "2024-08-01", "name": name,
            "properties": {"value": value}, **extra}


def expanded(text: str, **values: Any) -> Expansion:
    return expand(jsonpos.loads(text, FILE), FILE, values)


@functools.cache
def index() -> RuleIndex:
    return RuleIndex(load_rules([]))


def judged(text: str, **values: Any) -> tuple[Expansion, TemplateRecords, dict[tuple[str, str], Finding]]:
    """The expansion, its records and their findings by (rule id, last segment of the id)."""
    expansion = expanded(text, **values)
    built = template_records(expansion)
    found = {(f.rule.id, f.resource_id.rsplit("/", 1)[-1]): f for f in evaluate_records(index(), built.records)}
    return expansion, built, found


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_child_with_a_short_name_is_an_error_of_that_child_and_its_server_is_judged() -> None:
    # The Checkov fixture's shape: a nested child written with its full type but its own name only.
    text = template(server(resources=[config("require_secure_transport", "off")]), server("pg-b"))
    expansion, built, found = judged(text)
    (problem,) = expansion.problems
    assert problem.unit is Unit.RESOURCE and problem.resource == "resources[0].resources[0]"
    assert problem.span.file == FILE and problem.span.line == line_of(text, '"require_secure_transport"')
    assert problem.message.startswith("ARM rejects this template: the name 'require_secure_transport' has 1 "
                                      "segment(s); type Microsoft.DBforPostgreSQL/flexibleServers/configurations "
                                      "needs 2")
    assert "not judged: resources[0].resources[0]; the rest of the template is judged" in problem.message
    # Its server is judged: what the bad child sets is unknown (not the platform default on),
    # what it does not touch is judged as ever.
    transport = found[("PG-FLEX-001", "pg-a")]
    assert transport.verdict.value == "unknown"
    assert ("flexibleServers/configurations may be set by resources[0].resources[0], which ARM rejects (see the "
            f"input error at {FILE}:") in transport.message
    assert found[("PG-FLEX-003", "pg-a")].verdict.value == "fail"  # ATP: the default, Disabled
    assert found[("PG-FLEX-001", "pg-b")].verdict.value == "pass"  # the other server: its default
    assert built.problems == []


def test_a_top_level_child_whose_parent_cannot_be_told_makes_that_child_unknown_on_every_server() -> None:
    # The quickstart's shape: a top-level firewall rule named 'rule1', in a copy loop.
    rules = [{"Name": "rule1"}, {"Name": "rule2"}]
    text = template(server(), {**config("[variables('rules')[copyIndex()].Name]", "off"),
                               "copy": {"name": "c", "count": "[length(variables('rules'))]"}},
                    variables={"rules": rules})
    expansion, _, found = judged(text)
    (problem,) = expansion.problems  # one per resource as written; its copies are counted
    assert problem.resource == "resources[1][0]"
    assert "the name 'rule1' has 1 segment(s)" in problem.message
    assert "not judged: resources[1][0] (and 1 more of its copies)" in problem.message
    assert [r.address for r in expansion.rejected] == ["resources[1][0]", "resources[1][1]"]
    assert found[("PG-FLEX-001", "pg-a")].verdict.value == "unknown"
    assert found[("PG-FLEX-003", "pg-a")].verdict.value == "fail"


def test_an_invalid_expression_takes_out_its_resource_only() -> None:
    text = template(server("bad", location="[azurerm_resource_group.example.location]"), server("good"))
    expansion, _, found = judged(text)
    (problem,) = expansion.problems
    assert problem.resource == "resources[0]" and problem.span.line == line_of(text, "azurerm_resource_group")
    assert "invalid expression: expected '(' after the function name 'azurerm_resource_group'" in problem.message
    assert {name for _, name in found} == {"good"}


def test_a_child_with_a_bad_value_is_unknown_on_its_server_and_the_others_are_read() -> None:
    text = template(server(), config("pg-a/require_secure_transport", "[concat('on']"),
                    config("pg-a/ssl_min_protocol_version", "TLSv1"))
    expansion, _, found = judged(text)
    (problem,) = expansion.problems
    assert problem.resource == "resources[1]" and "invalid expression" in problem.message
    assert found[("PG-FLEX-001", "pg-a")].verdict.value == "unknown"
    assert found[("PG-FLEX-002", "pg-a")].verdict.value == "fail"  # TLSv1, declared beside it


def test_a_value_naming_a_rejected_resource_is_unknown() -> None:
    server_id = f"[resourceId('{FLEX}', 'bad')]"
    text = template(server("bad", tags="[concat('a']"),
                    {"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview",
                     "name": "diag", "properties": {"serverId": server_id, "child": f"[concat({server_id[1:-1]}, "
                                                    "'/configurations/x')]", "other": "kept"}})
    expansion = expanded(text)
    (diag,) = expansion.resources
    props = diag.body["properties"]
    for key in ("serverId", "child"):
        assert isinstance(props[key], Unknown), props
        assert props[key].reason.startswith(f"names resources[0], which ARM rejects (see the input error at {FILE}:")
    assert props["other"] == "kept"


def test_children_of_a_rejected_server_are_not_judged_and_say_why() -> None:
    text = template(server(tags="[concat('a']"), config("pg-a/require_secure_transport", "off"))
    expansion, built, found = judged(text)
    assert len(expansion.problems) == 1 and found == {}  # no bare "changed but not deployed" server
    assert any("resources[1] is not judged: it belongs to resources[0], which ARM rejects" in n
               for n in built.notes), built.notes


@pytest.mark.parametrize(("resource", "message"), [
    ({"type": "firewallRules", "apiVersion": "2017-12-01", "name": "x"},
     "the resource type 'firewallRules' is not 'Namespace/type'"),
    ({"name": "no-type"}, "the resource has no 'type'"),
    ({**server(), "copy": {"name": "c", "count": 801}}, "the copy count must be an integer from 0 to 800"),
    ({**server(), "condition": "yes"}, "the condition must be true or false"),
    ({**server(), "resources": {"a": 1}}, "a resource's 'resources' must be an array"),
    ({**server(), "name": "[parameters('missing')]"}, "the template declares no parameter 'missing'"),
    ("not an object", "a resource must be a JSON object"),
])
def test_each_kind_of_resource_error_is_that_resource_s_own(resource: Any, message: str) -> None:
    text = template(resource, server("pg-other"))
    expansion, _, found = judged(text)
    (problem,) = expansion.problems
    assert problem.unit is Unit.RESOURCE and problem.resource == "resources[0]"
    assert message in problem.message and problem.message.startswith("ARM rejects this template: ")
    assert problem.span.line > 0
    assert ("PG-FLEX-001", "pg-other") in found


def test_a_resource_whose_type_cannot_be_told_makes_every_undeclared_child_unknown() -> None:
    text = template(server(), config("pg-a/ssl_min_protocol_version", "TLSv1.2"), {"name": "mystery"})
    _, _, found = judged(text)
    assert found[("PG-FLEX-001", "pg-a")].verdict.value == "unknown"  # it may be require_secure_transport
    assert found[("PG-FLEX-002", "pg-a")].verdict.value == "pass"  # declared: read as written


def test_a_parameter_value_its_declaration_refuses_is_an_error_of_the_whole_template() -> None:
    text = template(server("[parameters('name')]"), parameters={"name": {"type": "string", "maxLength": 3}})
    with pytest.raises(TemplateError) as caught:
        expanded(text, name="toolong")
    assert str(caught.value).startswith(f"{FILE}:")
    assert caught.value.message == ("ARM rejects this template: parameter 'name': the value 'toolong' is longer "
                                    "than maxLength 3 (length 7) (an error of the whole template: none of its "
                                    "resources is judged)")


def test_a_parameter_checked_even_if_no_resource_reads_it() -> None:
    text = template(server(), parameters={"unused": {"type": "string", "allowedValues": ["a"]}})
    with pytest.raises(TemplateError, match="is not one of the allowed values"):
        expanded(text, unused="b")


def test_a_nested_deployment_whose_parameter_breaks_its_max_length_is_rejected_alone() -> None:
    # The ResourceModules test template's shape: an unreplaced <<namePrefix>> in a nested parameter.
    nested = {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "deps",
              "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                             "parameters": {"storageAccountName": {"value": "dep<<namePrefix>>diasapvt01"}},
                             "template": json.loads(template(
                                 {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                                  "name": "[parameters('storageAccountName')]"},
                                 parameters={"storageAccountName": {"type": "string", "maxLength": 24}}))}}
    text = template(nested, server())
    expansion, _, found = judged(text)
    (problem,) = expansion.problems
    assert problem.resource == "resources[0]"
    assert "parameter 'storageAccountName': the value 'dep<<namePrefix>>diasapvt01' is longer than maxLength 24" \
        in problem.message
    assert "not judged: resources[0] with the resources of its nested template" in problem.message
    declared = [i for i, line in enumerate(text.splitlines(), 1) if '"storageAccountName": {' in line][1]
    assert problem.span.line == declared  # the nested template's declaration of the parameter
    assert found[("PG-FLEX-001", "pg-a")].verdict.value == "pass"  # storage accounts set nothing on it


def test_an_output_that_cannot_be_evaluated_is_its_own_error() -> None:
    text = template(server(), outputs={"bad": {"type": "int", "value": "[concat('a', 'b')]"},
                                       "good": {"type": "string", "value": "ok"}})
    expansion, _, found = judged(text)
    (problem,) = expansion.problems
    assert problem.resource == "outputs.bad" and problem.unit is Unit.RESOURCE
    assert "output 'bad' is declared int" in problem.message and "outputs are never judged" in problem.message
    assert expansion.outputs == {"good": "ok"}
    assert ("PG-FLEX-001", "pg-a") in found


def test_a_server_declared_twice_is_an_error_and_neither_is_judged() -> None:
    text = template(server(), server(), server("pg-b"))
    _, built, found = judged(text)
    (problem,) = built.problems
    assert problem.resource == "resources[1]" and problem.unit is Unit.RESOURCE
    assert "is declared twice (first as resources[0] at t.json:" in problem.message
    assert "neither declaration is judged" in problem.message
    assert {name for _, name in found} == {"pg-b"}


def test_a_rejected_pricing_leaves_the_subscription_plan_unknown() -> None:
    pricing = {"type": "Microsoft.Security/pricings", "apiVersion": "2024-01-01",
               "name": "OpenSourceRelationalDatabases", "properties": {"pricingTier": "[concat('Stan']"}}
    _, _, found = judged(template(pricing, schema=SUB_SCHEMA))
    sub = found[("PG-SUB-001", "[subscription().subscriptionId]")]
    assert sub.verdict.value == "unknown" and "set by resources[0], which ARM rejects" in sub.message


def test_a_subscription_finding_points_at_the_pricing_that_decided_it() -> None:
    def pricing(name: str, tier: str) -> dict[str, Any]:
        return {"type": "Microsoft.Security/pricings", "apiVersion": "2024-01-01", "name": name,
                "properties": {"pricingTier": tier}}

    text = template(pricing("Containers", "Standard"), pricing("OpenSourceRelationalDatabases", "Free"),
                    schema=SUB_SCHEMA)
    _, _, found = judged(text)
    finding = found[("PG-SUB-001", "[subscription().subscriptionId]")]
    assert finding.verdict.value == "fail"
    assert finding.origin.file == FILE and finding.origin.line > 0  # where the template declares in it
    (evidence,) = finding.evidence
    line = [i for i, line in enumerate(text.splitlines(), 1) if '"pricingTier"' in line][1]
    column = text.splitlines()[line - 1].index('"Free"') + 1
    assert evidence.site == f"{FILE}:{line}:{column}"
