"""``policyengine export azure-policy``: every definition is valid against Azure's own schemas,
mirrors the built-in definition its rule maps to, and flags exactly what its rule fails (the
rules' inline tests and the shared operator cases, run through an interpreter of the
documented Azure Policy semantics); what Azure Policy cannot say is reported, never weakened."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from policyengine import ir
from policyengine.export import Effect, export_rule, export_rules
from policyengine.export.aliases import AliasTable, alias_table, parse_table
from policyengine.export.azure_policy import NAMESPACE, definition_name
from policyengine.export.conditions import LEAVES, Unsupported
from policyengine.loading.rules import load_rules
from policyengine.operators import OPERATORS
from tests.cases import ABSENT, OPERATOR_CASES, Case
from tests.conftest import Result, rule_text
from tests.export.azure_oracle import AzureOracle
from tests.kql.build import FLEX, SINGLE, compare, field, pricing, rule

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure-policy"
ARM_SCHEMAS = "https://schema.management.azure.com/schemas/"
ALERTS = "Microsoft.DBforPostgreSQL/servers/securityAlertPolicies"
Cli = Callable[..., Result]
Write = Callable[[str, str], Path]

# -- Azure's schemas -----------------------------------------------------------------------------


@cache
def _validators() -> tuple[jsonschema.Draft4Validator, jsonschema.Draft4Validator]:
    """The policy rule schema and PolicyDefinitionProperties, their references resolved to
    the copies in the fixtures (see its README), offline."""
    files = {"2020-10-01/policyDefinition.json": "policyDefinition.json",
             "2021-06-01/Microsoft.Authorization.json": "Microsoft.Authorization.json",
             "common/definitions.json": "common-definitions.json"}
    contents = {uri: json.loads((FIXTURES / "schemas" / name).read_text("utf-8")) for uri, name in files.items()}
    registry: Registry[Any] = Registry().with_resources(
        (ARM_SCHEMAS + uri, Resource.from_contents(body, default_specification=DRAFT4))
        for uri, body in contents.items())
    rule_schema = contents["2020-10-01/policyDefinition.json"]
    properties = {"$ref": ARM_SCHEMAS + "2021-06-01/Microsoft.Authorization.json#/definitions/PolicyDefinitionProperties"}
    return (jsonschema.Draft4Validator(rule_schema, registry=registry),
            jsonschema.Draft4Validator(properties, registry=registry))


def schema_errors(document: dict[str, Any]) -> list[str]:
    rule_validator, properties_validator = _validators()
    properties = document["properties"]
    errors = [*properties_validator.iter_errors(properties), *rule_validator.iter_errors(properties["policyRule"])]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def assert_valid(document: dict[str, Any]) -> None:
    """The schemas, plus what they leave open: the envelope, the name and the effect."""
    assert schema_errors(document) == []
    assert document["type"] == "Microsoft.Authorization/policyDefinitions"
    assert len(document["name"]) <= 64
    properties = document["properties"]
    assert properties["policyType"] == "Custom"
    assert properties["mode"] in ("All", "Indexed")
    assert len(properties["displayName"]) <= 128 and len(properties["description"]) <= 512
    effect = properties["parameters"]["effect"]
    assert effect["defaultValue"] in effect["allowedValues"]
    assert properties["policyRule"]["then"]["effect"] == "[parameters('effect')]"
    assert properties["metadata"]["category"] == "SQL"


# -- the bundled rules ---------------------------------------------------------------------------

BUNDLED = load_rules([], include_bundled=True)
EXPORT = export_rules(BUNDLED)
EXPORTED = {d.rule_id: d.document for d in EXPORT.definitions}
#: Each bundled rule mapped to a built-in, and the built-in's file (fixtures README).
MIRRORS = {
    "PG-FLEX-001": "FlexibleServers_EnableSSL_AINE.json",
    "PG-FLEX-002": "FlexibleServers_MinTLS_AINE.json",
    "PG-FLEX-003": "PostgreSQL_FlexibleServers_DefenderForSQL_Audit.json",
    "PG-SINGLE-001": "PostgreSQL_EnableSSL_Audit.json",
    "PG-SINGLE-003": "DeployAtpOnPostgreSqlServers_DINE.json",
    "PG-SUB-001": "ASC_EnableAzureDefenderOnOpenSourceRelationalDatabases_Audit.json",
}


def built_in(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "built-in" / name).read_text("utf-8"))
    return data


#: The bundled rules Azure Policy cannot say exactly, with the construct that stops each.
NOT_EXPORTED = {
    "PG-FLEX-004": "related",    # the server's ATP setting or the subscription's plan: two related types
    "PG-FLEX-008": "field",      # properties.version (not applicable on 18): no alias in the table
    "PG-FLEX-009": "greater",    # a number read from a string parameter value
    "PG-FLEX-010": "count",      # no firewall rule may match: a definition on the rules themselves
    "PG-FLEX-011": "count",
    "PG-FLEX-015": "field",      # properties.version: no alias in the table
    "PG-FLEX-016": "condition",  # the parameter's default depends on the server's version
    "PG-FLEX-017": "related",
    "PG-SUB-002": "field",
}


def test_bundled_rules_export_all_but_those_azure_policy_cannot_say() -> None:
    assert sorted(EXPORTED) == sorted(r.id for r in BUNDLED if r.id not in NOT_EXPORTED)
    assert {d.rule_id: d.construct for d in EXPORT.diagnostics} == NOT_EXPORTED
    assert all(d.message.startswith(f"{d.rule_id}: cannot export: ") for d in EXPORT.diagnostics)
    (defender,) = [d for d in EXPORT.diagnostics if d.rule_id == "PG-FLEX-004"]
    assert "advancedThreatProtectionSettings" in defender.message and "Microsoft.Security/pricings" in defender.message


@pytest.mark.parametrize("rule_id", sorted(EXPORTED))
def test_bundled_definition_is_valid_against_azure_schemas(rule_id: str) -> None:
    assert_valid(EXPORTED[rule_id])


def test_schema_check_rejects_what_azure_rejects() -> None:
    """The validator is wired to the real schema: a boolean in equals, an unknown
    existenceScope and a lower-case parameter type are each an error."""
    def broken(edit: Callable[[dict[str, Any]], None]) -> list[str]:
        document = json.loads(json.dumps(EXPORTED["PG-SUB-001"]))
        edit(document["properties"])
        return schema_errors(document)

    assert broken(lambda p: p["policyRule"]["if"].update(equals=True))
    assert broken(lambda p: p["policyRule"]["then"]["details"].update(existenceScope="tenant"))
    assert broken(lambda p: p["parameters"]["effect"].update(type="Text"))
    assert broken(lambda p: p["policyRule"]["then"].update(deployment={}))


def leaves(cond: Any) -> Iterator[dict[str, Any]]:
    """Every field condition (not the exists guards), inside counts too."""
    if isinstance(cond, dict):
        if "field" in cond and "exists" not in cond:
            yield cond
        for value in cond.values():
            yield from leaves(value)
    elif isinstance(cond, list):
        for item in cond:
            yield from leaves(item)


def accepted(cond: Any) -> dict[tuple[str, str], frozenset[str]]:
    """Field and operator → the values it names, compared as Azure does (case-insensitively)."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for leaf in leaves(cond):
        (op, value), = ((k, v) for k, v in leaf.items() if k != "field")
        values = value if isinstance(value, list) else [value]
        out[(leaf["field"].lower(), op)] = frozenset(str(v).casefold() for v in values)
    return out


def target_type(rule_if: Any) -> str:
    (found,) = (leaf["equals"] for leaf in leaves(rule_if) if leaf["field"] == "type")
    return str(found).lower()


@pytest.mark.parametrize("rule_id", sorted(MIRRORS))
def test_definition_mirrors_the_built_in_its_rule_maps_to(rule_id: str) -> None:
    ours = EXPORTED[rule_id]["properties"]
    theirs = built_in(MIRRORS[rule_id])["properties"]
    controls = dict(next(r for r in BUNDLED if r.id == rule_id).metadata.controls)
    assert built_in(MIRRORS[rule_id])["name"] in controls["azure-policy"]
    assert ours["mode"] == theirs["mode"]
    ours_rule, their_rule = ours["policyRule"], theirs["policyRule"]
    assert target_type(ours_rule["if"]) == target_type(their_rule["if"])
    our_details, their_details = ours_rule["then"].get("details"), their_rule["then"].get("details")
    if their_details is None:  # an audit built-in: the same field rejects the same values
        assert ours["parameters"]["effect"]["defaultValue"] == theirs["parameters"]["effect"]["defaultValue"]
        assert our_details is None
        assert accepted(their_rule["if"]).items() <= accepted(ours_rule["if"]).items()
        return
    if "deployment" not in their_details:
        assert ours["parameters"]["effect"]["defaultValue"] == theirs["parameters"]["effect"]["defaultValue"]
    assert our_details["type"].lower() == their_details["type"].lower()
    assert our_details["name"] == their_details["name"]
    assert our_details.get("existenceScope") == their_details.get("existenceScope")
    # The same alias accepts the same values; the built-ins' own 'if' fields are ours too.
    assert accepted(our_details["existenceCondition"]) == accepted(their_details["existenceCondition"])
    their_fields = {leaf["field"].lower() for leaf in leaves(their_rule["if"])}
    assert their_fields <= {leaf["field"].lower() for leaf in leaves(ours_rule["if"])}


def test_alias_table_sources_name_the_aliases_they_are_cited_for() -> None:
    """Each alias attributed to a built-in (``source: <id prefix>``) is in that built-in."""
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "policyengine" / "export"
                           / "aliases.yaml").read_text("utf-8"))
    texts = {json.loads(p.read_text("utf-8"))["name"][:8]: p.read_text("utf-8")
             for p in (FIXTURES / "built-in").glob("*.json")}
    cited = [(entry["source"], entry["alias"]) for body in data["types"].values()
             for entry in (body.get("fields") or {}).values() if entry.get("source") != "alias-api"]
    assert len(cited) >= 9
    for source, alias in cited:
        assert f'"{alias}"' in texts[source], f"{alias} is not in built-in {source}"


# -- semantics: the definition flags what the rule fails -------------------------------------------

def related_index(rule_: ir.Rule, test: ir.RuleTest) -> dict[tuple[str, str], Any] | None:
    """The related resources a test gives, as Azure would find them; None if it leaves one
    unread (Azure Policy always reads it: the rule's unknown has no counterpart there)."""
    out: dict[tuple[str, str], Any] = {}
    for rel in rule_.related:
        if rel.name not in test.related:
            return None
        out[rel.key] = test.related[rel.name]
    return out


RULE_TESTS = [(r, t) for r in BUNDLED if r.id in EXPORTED for t in r.tests
              if t.source is ir.SourceKind.OBSERVED and t.expect != "error"]


@pytest.mark.parametrize(("rule_", "test"), RULE_TESTS, ids=[f"{r.id} {t.name}" for r, t in RULE_TESTS])
def test_definition_flags_what_the_rule_fails_in_its_inline_tests(rule_: ir.Rule, test: ir.RuleTest) -> None:
    related = related_index(rule_, test)
    if related is None:
        pytest.skip("the test leaves related data unread; Azure Policy always reads it")
    flagged = AzureOracle(alias_table()).flags(EXPORTED[rule_.id], test.resource, rule_.resource_type, related)
    assert flagged == (test.expect == "fail"), f"expected {test.expect}"


def test_most_inline_tests_are_checked_against_the_oracle() -> None:
    assert sum(related_index(r, t) is not None for r, t in RULE_TESTS) >= 40


def test_operator_table_and_azure_table_name_the_same_operators() -> None:
    assert set(LEAVES) == set(OPERATORS)


def case_table(case: Case) -> AliasTable | None:
    """A table whose ``properties.x`` has the type of the case's actual value (what Azure's
    alias would declare); None where no single type holds it."""
    sample = case.expected if case.actual is ABSENT or case.actual is None else case.actual
    if isinstance(sample, tuple | list) and case.op in ("in", "notIn"):
        sample = case.actual if case.actual not in (ABSENT, None) else sample[0]
    kinds = {bool: "boolean", int: "number", float: "number", str: "string"}
    if isinstance(sample, list):
        element_kinds = {kinds.get(type(e)) for e in sample} or {"string"}
        if len(element_kinds) > 1 or None in element_kinds:
            return None  # mixed or nested elements: no alias type describes them
        entry = {"alias": "Microsoft.Test/things/x", "type": "array",
                 "elements": {"alias": "Microsoft.Test/things/x[*]", "type": element_kinds.pop()}}
    else:
        entry = {"alias": "Microsoft.Test/things/x", "type": kinds[type(sample)]}
    return parse_table({"common": {}, "types": {"Microsoft.Test/things": {
        "mode": "Indexed", "fields": {"properties.x": entry}}}})


EXACT_REASONS = ("case-sensitive", "non-ASCII", "regular expression", "compares a", "raises an evaluation error")
DECIDED = [c for c in OPERATOR_CASES if c.verdict != "error" and c.op != "count"]


@pytest.mark.parametrize("case", DECIDED, ids=[c.id for c in DECIDED])
def test_operator_case_flags_what_the_rule_fails_or_is_reported(case: Case) -> None:
    table = case_table(case)
    if table is None:
        pytest.skip("no single property type holds this value")
    tested = rule(compare("properties.x", case.op, case.expected, case_sensitive=case.case_sensitive),
                  resource_type="Microsoft.Test/things")
    try:
        document = export_rule(tested, table=table)
    except Unsupported as exc:
        assert any(reason in exc.reason for reason in EXACT_REASONS), exc.reason
        return
    assert_valid(document)
    resource = {"properties": {} if case.actual is ABSENT else {"x": case.actual}}
    flagged = AzureOracle(table).flags(document, resource, "Microsoft.Test/things", {})
    assert flagged == (case.verdict == "fail")


def test_most_operator_cases_export() -> None:
    exported = 0
    for case in DECIDED:
        table = case_table(case)
        tested = rule(compare("properties.x", case.op, case.expected, case_sensitive=case.case_sensitive),
                      resource_type="Microsoft.Test/things")
        if table is not None and export_rules([tested], table=table).definitions:
            exported += 1
    assert exported >= 30


def test_regex_that_is_only_text_is_an_equality() -> None:
    document = export_rule(rule(compare("properties.sslEnforcement", "match", r"Enabled\.x")))
    assert {"field": "Microsoft.DBforPostgreSQL/servers/sslEnforcement", "notEquals": "Enabled.x"} in \
        document["properties"]["policyRule"]["if"]["allOf"]


# -- onMissing and the effect ----------------------------------------------------------------------

@pytest.mark.parametrize(("on_missing", "absent_flagged"), [
    (ir.OnMissing.FAIL, True), (ir.OnMissing.UNKNOWN, False), (ir.OnMissing.PASS, False)])
def test_on_missing_decides_whether_an_absent_value_is_flagged(on_missing: ir.OnMissing,
                                                               absent_flagged: bool) -> None:
    tested = rule(compare("properties.sslEnforcement", "equals", "Enabled"), on_missing=on_missing)
    document = export_rule(tested)
    oracle = AzureOracle(alias_table())
    assert oracle.flags(document, {"properties": {}}, SINGLE, {}) is absent_flagged
    assert oracle.flags(document, {"properties": {"sslEnforcement": "Disabled"}}, SINGLE, {})
    assert not oracle.flags(document, {"properties": {"sslEnforcement": "ENABLED"}}, SINGLE, {})


def alerts(name: str = "alerts") -> ir.Related:
    return ir.Related(name, ALERTS, "Default")


def reason(tested: ir.Rule, effect: Effect | None = None, table: AliasTable | None = None) -> str:
    result = export_rules([tested], effect, table)
    assert not result.definitions
    return result.diagnostics[0].message


def test_deny_cannot_look_at_child_resources() -> None:
    tested = rule(compare("related.alerts.properties.state", "equals", "Enabled"), related=(alerts(),))
    assert "deny cannot look at Microsoft.DBforPostgreSQL/servers/securityAlertPolicies" in \
        reason(tested, Effect.DENY)
    assert "audit cannot look at" in reason(tested, Effect.AUDIT)
    own = rule(compare("properties.sslEnforcement", "equals", "Enabled"))
    assert "auditIfNotExists looks for a related resource" in reason(own, Effect.AUDIT_IF_NOT_EXISTS)
    deny = export_rule(own, Effect.DENY)["properties"]["parameters"]["effect"]
    assert deny["defaultValue"] == "Deny" and deny["allowedValues"] == ["Audit", "Deny", "Disabled"]


def test_what_azure_policy_cannot_say_is_reported() -> None:
    state = "related.alerts.properties.state"
    two_related = rule(ir.AnyOf((compare(state, "equals", "Enabled"),
                                 compare("related.plan.properties.pricingTier", "equals", "Standard"))),
                       related=(alerts(), pricing()))
    assert "Microsoft.Security/pricings together" in reason(two_related)
    mixed = rule(ir.AnyOf((compare(state, "equals", "Enabled"), compare("sku.tier", "equals", "Basic"))),
                 related=(alerts(),))
    assert "mixes the resource's own properties" in reason(mixed)
    assert "no Azure Policy alias is known for properties.nope" in reason(rule(compare("properties.nope", "exists", True)))
    assert "normalises locations" in reason(rule(compare("location", "equals", "westeurope")))
    assert "no Azure Policy aliases are known for Microsoft.Web/sites" in \
        reason(rule(compare("name", "exists", True), resource_type="Microsoft.Web/sites"))
    emails = field("related.alerts.properties.emailAddresses")
    undecided = rule(ir.Count(emails, "greater", 0, compare("@", "notEquals", "", on_missing=ir.OnMissing.UNKNOWN)),
                     related=(alerts(),))
    assert "can be unknown for an element" in reason(undecided)
    assert "a case-sensitive 'equals'" in reason(rule(compare("sku.tier", "equals", "Basic", case_sensitive=True)))
    # Without cased letters, case-sensitive and -insensitive comparisons agree.
    assert export_rules([rule(compare("sku.tier", "equals", "1-2", case_sensitive=True))]).definitions


def test_absent_related_resource_must_fail_the_rule_unless_azure_always_has_it() -> None:
    """auditIfNotExists flags a server whose related resource does not exist: faithful only
    if the rule fails then too, or if Azure always has one (the table says which)."""
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "policyengine" / "export"
                           / "aliases.yaml").read_text("utf-8"))
    data["types"][ALERTS]["alwaysExists"] = False
    table = parse_table(data)
    state = "related.alerts.properties.state"
    unknown = rule(compare(state, "equals", "Enabled"), related=(alerts(),))
    assert "where this rule says unknown" in reason(unknown, table=table)
    failing = rule(compare(state, "equals", "Enabled"), related=(alerts(),), on_missing=ir.OnMissing.FAIL)
    assert export_rules([failing], table=table).definitions
    assert export_rules([unknown]).definitions  # Azure always has the security alert policy


# -- the custom rule from the brief, names, determinism ----------------------------------------------

PUBLIC_ACCESS = """
resource: Microsoft.DBforPostgreSQL/flexibleServers
condition:
  anyOf:
    - {field: properties.network.publicNetworkAccess, equals: Disabled}
    - {field: "tags['approved']", exists: true}
onMissing: fail
tests:
  - {name: private, resource: {properties: {network: {publicNetworkAccess: Disabled}}}, expect: pass}
  - {name: public approved, resource: {tags: {approved: "yes"}, properties: {network: {publicNetworkAccess: Enabled}}}, expect: pass}
  - {name: public, resource: {properties: {network: {publicNetworkAccess: Enabled}}}, expect: fail}
  - {name: not set, resource: {properties: {}}, expect: fail}
"""


def test_custom_public_access_rule_exports_a_deny_capable_definition(write: Write, tmp_path: Path) -> None:
    write("mine/pna.yaml", rule_text(PUBLIC_ACCESS, rule_id="ACME-PG-001"))
    (custom,) = load_rules([tmp_path / "mine"], include_bundled=False)
    document = export_rule(custom, Effect.DENY)
    assert_valid(document)
    properties = document["properties"]
    assert properties["parameters"]["effect"]["defaultValue"] == "Deny"
    assert "Deny" in properties["parameters"]["effect"]["allowedValues"]
    fields = {leaf["field"] for leaf in leaves(properties["policyRule"]["if"])}
    assert {"field": "tags['approved']", "exists": "false"} in properties["policyRule"]["if"]["allOf"]
    public = built_in("PostgreSQL_FlexibleServers_DisablePublicNetworkAccess_Audit.json")
    alias = "Microsoft.DBforPostgreSQL/flexibleServers/network.publicNetworkAccess"
    assert alias in fields and alias in json.dumps(public)
    oracle = AzureOracle(alias_table())
    for test in custom.tests:
        assert oracle.flags(document, test.resource, FLEX, {}) == (test.expect == "fail"), test.name


def test_definition_name_is_a_stable_guid_of_the_rule_id() -> None:
    assert definition_name("PG-FLEX-001") == definition_name("pg-flex-001") == EXPORTED["PG-FLEX-001"]["name"]
    assert str(NAMESPACE) == "00f6787b-5782-5dbd-8c53-292eb69a4442"
    assert EXPORTED["PG-FLEX-001"]["name"] == "bfe88be9-2b74-5cbf-b6c0-6ffc570353ac"
    assert len({d["name"] for d in EXPORTED.values()}) == len(EXPORTED)


def test_long_descriptions_are_cut_within_azure_limits() -> None:
    for rule_ in BUNDLED:
        if rule_.id not in EXPORTED:
            continue
        description = EXPORTED[rule_.id]["properties"]["description"]
        whole = " ".join(rule_.metadata.description.split())
        assert len(description) <= 512
        assert description == whole or whole.startswith(description.removesuffix("…"))
    assert EXPORTED["PG-FLEX-001"]["properties"]["description"].endswith("…")


# -- the command line ------------------------------------------------------------------------------

def test_cli_writes_a_json_array_and_lists_what_it_cannot_export(cli: Cli) -> None:
    result = cli("export", "azure-policy")
    assert result.code == 0
    documents = json.loads(result.out)
    assert [d["properties"]["metadata"]["policyengine"]["rule"] for d in documents] == sorted(EXPORTED)
    assert documents == [EXPORTED[k] for k in sorted(EXPORTED)]
    assert "PG-FLEX-004: cannot export: " in result.err
    assert result.err.rstrip().splitlines()[-1] == (
        f"policyengine: {len(EXPORTED)} of {len(BUNDLED)} rules exported as Azure Policy definitions; "
        f"{len(NOT_EXPORTED)} cannot be exported")
    assert (len(EXPORTED), len(BUNDLED)) == (15, 24)


def test_cli_output_dir_holds_one_file_per_rule_and_nothing_else(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "defs"
    first = cli("export", "azure-policy", "--output", str(out))
    assert first.code == 0 and first.out == ""
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{rule_id}.json" for rule_id in EXPORTED)
    written = {p.name: p.read_text("utf-8") for p in out.iterdir()}
    assert json.loads(written["PG-SUB-001.json"]) == EXPORTED["PG-SUB-001"]
    again = cli("export", "azure-policy", "--output", str(out))
    assert again.code == 0 and {p.name: p.read_text("utf-8") for p in out.iterdir()} == written


def test_cli_exit_codes_follow_the_rules_asked_for(cli: Cli) -> None:
    only = cli("export", "azure-policy", "--rule", "PG-FLEX-004")
    assert only.code == 2 and only.out == ""  # no empty array a pipeline would deploy as "nothing to do"
    assert "PG-FLEX-004: cannot export: " in only.err
    both = cli("export", "azure-policy", "--rule", "PG-SINGLE-001", "--rule", "pg-flex-004")
    assert both.code == 2 and [d["name"] for d in json.loads(both.out)] == [EXPORTED["PG-SINGLE-001"]["name"]]
    one = cli("export", "azure-policy", "--rule", "PG-SINGLE-001", "--effect", "DENY")
    assert one.code == 0
    assert json.loads(one.out)[0]["properties"]["parameters"]["effect"]["defaultValue"] == "Deny"
    deny = cli("export", "azure-policy", "--rule", "PG-FLEX-001", "--effect", "deny")
    assert deny.code == 2 and "deny cannot look at" in deny.err
    assert cli("export", "azure-policy", "--rule", "NOPE-1").code == 2
    assert cli("export", "azure-policy", "--effect", "modify").code == 2


def test_cli_exports_custom_rules_alone(cli: Cli, write: Write, tmp_path: Path) -> None:
    write("mine/pna.yaml", rule_text(PUBLIC_ACCESS, rule_id="ACME-PG-001"))
    result = cli("export", "azure-policy", "--rules", str(tmp_path / "mine"), "--no-bundled-rules",
                 "--effect", "deny")
    assert result.code == 0
    (document,) = json.loads(result.out)
    assert document["properties"]["metadata"]["policyengine"] == {"rule": "ACME-PG-001"}
    assert document["properties"]["parameters"]["effect"]["defaultValue"] == "Deny"


def test_cli_help_names_the_format(cli: Cli) -> None:
    result = cli("export", "azure-policy", "--help")
    assert result.code == 0 and "deny cannot look at child resources" in " ".join(result.out.split())
