"""The catalog: its schema, its query API, user files merged over it (what they may add,
what they may only change with ``override: true``) and located errors for bad files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from policyengine.catalog import catalog, known_paths, property_info
from policyengine.errors import RuleLoadErrors
from policyengine.lint import lint
from policyengine.loading.catalog import read_catalog
from policyengine.loading.schema import load_schema
from policyengine.loading.yaml_nodes import load_documents
from tests.conftest import rule_text

Write = Callable[[str, str], Path]

FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"
CONFIGURATIONS = f"{FLEX}/configurations"


def test_bundled_catalog_is_valid_against_its_schema() -> None:
    text = (Path(__file__).parents[2] / "policyengine" / "catalog.yaml").read_text("utf-8")
    (doc,) = load_documents(text, "catalog.yaml")
    jsonschema.Draft202012Validator(load_schema("catalog.schema.json")).validate(doc.data)
    assert read_catalog()  # and loads: includes, counterparts and shapes resolve


def test_existing_keys_still_read_as_before() -> None:
    cat = catalog()
    flex = cat.get(FLEX)
    assert flex is not None and flex.arg_table == "resources" and flex.arm is not None
    assert (flex.arm.method, flex.arm.path, flex.arm.api_version) == ("get", "{id}", "2024-08-01")
    configurations = cat.get(CONFIGURATIONS)
    assert configurations is not None and configurations.arm is not None
    assert configurations.arm.method == "list" and configurations.arg_table is None
    assert configurations.defaults["require_secure_transport"] == {"properties": {"value": "on"}}
    pricings = cat.get("microsoft.security/pricings")
    assert pricings is not None and pricings.scope == "subscription"


@pytest.mark.parametrize(("rtype", "path", "name", "kind", "values"), [
    (FLEX, ("properties", "network", "publicNetworkAccess"), None, "string", ("Enabled", "Disabled")),
    (FLEX, ("Properties", "Network", "PublicNetworkAccess"), None, "string", ("Enabled", "Disabled")),
    (FLEX, ("tags", "cost-center"), None, "string", None),
    (FLEX, ("properties", "network"), None, "object", None),
    (CONFIGURATIONS, ("properties", "value"), "require_secure_transport", "string", ("on", "off")),
    (CONFIGURATIONS, ("properties", "value"), "ssl_min_protocol_version", "string",
     ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")),
    (CONFIGURATIONS, ("properties", "value"), "work_mem", "string", None),
    ("Microsoft.DBforPostgreSQL/servers", ("properties", "minimalTlsVersion"), None, "string",
     ("TLS1_0", "TLS1_1", "TLS1_2", "TLSEnforcementDisabled")),
    (f"{'Microsoft.DBforPostgreSQL/servers'}/securityAlertPolicies", ("properties", "disabledAlerts", 0), "Default",
     "string", ("", "Sql_Injection", "Sql_Injection_Vulnerability", "Access_Anomaly")),
    ("Microsoft.Security/pricings", ("properties", "pricingTier"), None, "string", ("Free", "Standard")),
])
def test_property_info(rtype: str, path: tuple[str | int, ...], name: str | None, kind: str,
                       values: tuple[str, ...] | None) -> None:
    info = property_info(rtype, path, name)
    assert info is not None and (info.type, info.values) == (kind, values)


@pytest.mark.parametrize(("rtype", "path"), [
    (FLEX, ("properties", "sslEnforcement")),
    (FLEX, ("properties", "state", "x")),
    ("Microsoft.Storage/storageAccounts", ("name",)),
])
def test_property_info_of_unknown_paths_is_none(rtype: str, path: tuple[str, ...]) -> None:
    assert property_info(rtype, path) is None


def test_known_paths() -> None:
    paths = known_paths(FLEX)
    assert "properties.network.publicNetworkAccess" in paths and paths == sorted(paths)
    assert "properties.value" in known_paths(CONFIGURATIONS, "ssl_min_protocol_version")
    assert known_paths("Microsoft.Nope/nothing") == []


def test_catalog_is_cached_per_set_of_files(write: Write) -> None:
    assert catalog() is catalog()
    extra = write("c.yaml", "version: 1\n")
    assert catalog(extra) is catalog(extra) and catalog(extra) is not catalog()


STORAGE = """
version: 1
types:
  Microsoft.Storage/storageAccounts:
    arg: {table: resources}
    arm: {get: "{id}", apiVersion: "2023-05-01"}
    include: [resource, tracked]
    properties:
      properties.minimumTlsVersion: {type: string, values: [TLS1_0, TLS1_1, TLS1_2, TLS1_3]}
      properties.supportsHttpsTrafficOnly: {type: boolean}
"""
STORAGE_RULE = """
resource: Microsoft.Storage/storageAccounts
condition:
  allOf:
    - {field: properties.minimumTlsVersion, in: [TLS1_2, TLS1_3]}
    - {field: properties.supportsHttpsTrafficOnly, equals: true}
    - {field: tags.owner, exists: true}
tests:
  - {name: ok, resource: {tags: {owner: me}, properties: {minimumTlsVersion: TLS1_2, supportsHttpsTrafficOnly: true}}, expect: pass}
  - {name: old, resource: {tags: {owner: me}, properties: {minimumTlsVersion: TLS1_0, supportsHttpsTrafficOnly: true}}, expect: fail}
"""


def test_a_custom_type_and_a_rule_on_it_lint_clean(write: Write) -> None:
    rule = write("storage.yaml", rule_text(STORAGE_RULE))
    assert [p.code for p in lint([rule])] == ["PE100"]  # unknown without the user catalog
    extra = write("catalog.yaml", STORAGE)
    assert lint([rule], [extra]) == []
    info = catalog(extra).property_info("microsoft.storage/storageaccounts", ("properties", "minimumTlsVersion"))
    assert info is not None and info.values == ("TLS1_0", "TLS1_1", "TLS1_2", "TLS1_3")


def test_a_user_file_adds_properties_and_values_to_a_bundled_type(write: Write) -> None:
    rule = write("rule.yaml", rule_text("""
resource: Microsoft.DBforPostgreSQL/flexibleServers
condition:
  allOf:
    - {field: properties.version, in: ["17", "19"]}
    - {field: properties.cluster.clusterSize, greater: 1}
tests:
  - {name: ok, resource: {properties: {version: "19", cluster: {clusterSize: 2}}}, expect: pass}
  - {name: old, resource: {properties: {version: "16", cluster: {clusterSize: 2}}}, expect: fail}
"""))
    assert sorted(p.code for p in lint([rule])) == ["PE101", "PE102"]
    extra = write("catalog.yaml", f"""
version: 1
types:
  {FLEX}:
    properties:
      properties.version: {{type: string, values: ["19"], description: a future major}}
      properties.cluster.clusterSize: {{type: integer}}
""")
    assert lint([rule], [extra]) == []
    info = catalog(extra).property_info(FLEX, ("properties", "version"))
    assert info is not None and info.values is not None and info.values[-2:] == ("18", "19")
    assert info.description == "a future major"


def test_override_replaces_what_the_bundled_catalog_says(write: Write) -> None:
    extra = write("catalog.yaml", f"""
version: 1
types:
  {CONFIGURATIONS}:
    override: true
    arm: {{list: "{{parentId}}/configurations", apiVersion: "2025-08-01"}}
    properties:
      properties.value: {{type: string, values: ["on", "off", TLSv1.2, TLSv1.3]}}
""")
    kind = catalog(extra).get(CONFIGURATIONS)
    assert kind is not None and kind.arm is not None and kind.arm.api_version == "2025-08-01"
    info = catalog(extra).property_info(CONFIGURATIONS, ("properties", "value"))
    assert info is not None and info.values == ("on", "off", "TLSv1.2", "TLSv1.3")


BAD_CATALOGS = [
    # name, the file's types (or whole text), the token the error points at, what it says
    ("a change of where a bundled type is read, without override",
     f"types:\n  {CONFIGURATIONS}:\n    arm: {{list: \"{{parentId}}/configurations\", apiVersion: \"2025-08-01\"}}\n",
     "{list", "does not change its arm (set override: true on the type to replace it)"),
    ("a Resource Graph table for a type read from ARM only",
     f"types:\n  {CONFIGURATIONS}:\n    arg: {{table: resources}}\n", "{table", "does not change its arg"),
    ("a changed default", f"types:\n  {CONFIGURATIONS}:\n    defaults:\n      require_secure_transport: "
     "{properties: {value: \"off\"}}\n", "{properties", "a catalog file adds defaults, it does not change them"),
    ("a changed property type", f"types:\n  {FLEX}:\n    properties:\n      properties.version: {{type: integer}}\n",
     "properties.version", "declared a string at policyengine/catalog.yaml:"),
    ("an unknown key", "types:\n  Microsoft.X/y:\n    arg: {tabel: resources}\n", "tabel",
     "unknown key 'tabel' (did you mean 'table'?)"),
    ("an ARM read with both get and list", "types:\n  Microsoft.X/y:\n    arm: {get: a, list: b, apiVersion: "
     "\"2024-01-01\"}\n", "{get", "more than one key (get, list); use one only"),
    ("a bad type name", "types:\n  storageAccounts:\n    arg: {table: resources}\n", "storageAccounts",
     "does not match"),
    ("a bad property path", "types:\n  Microsoft.X/y:\n    properties:\n      'properties..x': {type: string}\n",
     "'properties..x'", "bad property path 'properties..x'"),
    ("an index in a path", "types:\n  Microsoft.X/y:\n    properties:\n      'properties.x[0]': {type: string}\n",
     "'properties.x[0]'", "describe an array's elements with items"),
    ("a value of the wrong type", "types:\n  Microsoft.X/y:\n    properties:\n      properties.n: "
     "{type: integer, values: [1, two]}\n", "two", "'two' is not an integer"),
    ("values of an object", "types:\n  Microsoft.X/y:\n    properties:\n      properties.o: "
     "{type: object, values: [a]}\n", "values", "an object has no values"),
    ("items on a string", "types:\n  Microsoft.X/y:\n    properties:\n      properties.s: "
     "{type: string, items: {type: string}}\n", "items", "items belongs to an array, not to a string"),
    ("a path below a string", "types:\n  Microsoft.X/y:\n    properties:\n      properties.s: {type: string}\n"
     "      properties.s.t: {type: string}\n", "properties.s.t", "only an object has properties"),
    ("one path twice", "types:\n  Microsoft.X/y:\n    properties:\n      properties.s: {type: string}\n"
     "      Properties.S: {type: string}\n", "Properties.S", "is the same path as 'properties.s'"),
    ("a name's property of another type", f"types:\n  {CONFIGURATIONS}:\n    names:\n      work_mem:\n"
     "        properties:\n          properties.value: {type: integer}\n", "properties.value",
     "is a string on every"),
    ("an unknown property set", "types:\n  Microsoft.X/y:\n    include: [resource, trakced]\n", "trakced",
     "no property set 'trakced'"),
    ("an unknown counterpart", "types:\n  Microsoft.X/y:\n    counterpart: Microsoft.X/z\n", "Microsoft.X/z",
     "'Microsoft.X/z' is not a type of the catalog"),
    ("not YAML", "types: [\n", "", "invalid YAML"),
    ("not a mapping", None, "- a list", "a catalog file is one YAML mapping"),
]


def position(text: str, needle: str) -> tuple[int, int]:
    """The 1-based line and column of ``needle``'s first occurrence (the end of ``text`` if empty)."""
    offset = text.index(needle) if needle else len(text)
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


@pytest.mark.parametrize(("name", "body", "at", "message"), BAD_CATALOGS, ids=[c[0] for c in BAD_CATALOGS])
def test_bad_catalog_files_give_located_errors(name: str, body: str | None, at: str, message: str,
                                               write: Write) -> None:
    text = "- a list\n" if body is None else "# a user catalog\nversion: 1\n" + textwrap.dedent(body)
    path = write("bad-catalog.yaml", text)
    with pytest.raises(RuleLoadErrors) as info:
        catalog(path)
    matching = [e for e in info.value.errors if message in e.message]
    assert len(matching) == 1, [str(e) for e in info.value.errors]
    span = matching[0].span
    assert span is not None and (span.file, span.line, span.col) == (str(path), *position(text, at))
    # The linter reports every one as PE002 at the same place, and checks no rule.
    problems = lint([], [path])
    assert {(p.code, p.severity) for p in problems} == {("PE002", "error")}
    assert str(matching[0]) in {f"{p.span.prefix()}: {p.message}" for p in problems}


def test_an_unreadable_catalog_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadErrors) as info:
        catalog(tmp_path / "missing.yaml")
    assert str(info.value) == f"{tmp_path / 'missing.yaml'}: cannot read the catalog file: No such file or directory"
