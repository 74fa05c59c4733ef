"""A user catalog file adds a type: lint knows its properties, compile knows where to read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result, rule_text

CATALOG = """\
version: 1
types:
  Microsoft.KeyVault/vaults:
    arg: {table: resources}
    arm: {get: "{id}", apiVersion: "2023-07-01"}
    properties:
      properties.enablePurgeProtection: {type: boolean}
"""

SPEC = """\
resource: Microsoft.KeyVault/vaults
condition: {field: properties.enablePurgeProtection, equals: true}
tests:
  - {name: protected, resource: {properties: {enablePurgeProtection: true}}, expect: pass}
  - {name: not protected, resource: {properties: {enablePurgeProtection: false}}, expect: fail}
"""


def test_a_user_type_is_planned_and_linted_with_the_user_catalog(cli: Callable[..., Result],
                                                                  write: Callable[[str, str], Path]) -> None:
    catalog = write("my-catalog.yaml", CATALOG)
    rules = write("rules/kv.yaml", rule_text(SPEC, rule_id="ACME-KV-001")).parent
    without = cli("compile", "--rules", str(rules), "--no-bundled-rules")
    assert without.code == 2 and "the catalog knows no Resource Graph table" in without.err
    planned = cli("compile", "--rules", str(rules), "--no-bundled-rules", "--catalog", str(catalog))
    assert planned.code == 0 and 'where type =~ "microsoft.keyvault/vaults"' in planned.out
    assert cli("lint", "--strict", "--catalog", str(catalog), str(rules)).code == 0
