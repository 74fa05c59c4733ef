"""Paths into a resource as the query reads them, and the places where the compiled query and
the evaluator part. Each disagreement is a strict xfail naming its fix: when the fix lands,
the test passes, the run fails as XPASS, and the marker goes."""

from __future__ import annotations

from typing import Any

import pytest

from policyengine import ir
from policyengine.paths import parse_path
from tests.kqloracle import execute
from tests.kqloracle.agreement import (
    column_everywhere,
    rebuild,
    server,
    server_record,
    single_plan,
    tables_of,
    verdict,
)

META = ir.Metadata("P", "p", ir.Severity.LOW, "d", ir.Remediation("r"))
SERVER_TYPE = "Microsoft.DBforPostgreSQL/servers"


def both(path: str, op: str, value: Any, resource: dict[str, Any], *,
         on_missing: ir.OnMissing = ir.OnMissing.UNKNOWN, case_sensitive: bool = False) -> tuple[str, str, str]:
    """(query verdict, evaluator verdict, evaluator verdict on the record rebuilt from the row)."""
    rule = ir.Rule(META, SERVER_TYPE, ir.Compare(parse_path(path), op, value, case_sensitive),
                   on_missing=on_missing)
    query, plan = single_plan(rule)
    assert not plan.diagnostics, plan.diagnostics
    (_, column), = query.verdicts
    tables = tables_of([resource])
    got = column_everywhere(query, tables, column)[resource["id"]]
    (row,) = execute(query.text, tables)
    return got, verdict(rule, server_record(resource)), verdict(rule, rebuild(query, row))


@pytest.mark.parametrize(
    ("path", "op", "value", "extra", "expected"),
    [
        ("tags['cost-center']", "equals", "CC-1", {"tags": {"cost-center": "cc-1"}}, "pass"),
        ("tags['we\"ird\\\\key']", "equals", "x", {"tags": {'we"ird\\key': "X"}}, "pass"),
        ("properties.rules[1].port", "greater", 10, {"properties": {"rules": [{"port": 1}, {"port": "22"}]}}, "pass"),
        ("properties.rules[5].port", "greater", 10, {"properties": {"rules": []}}, "unknown"),
        ("properties.state.deep", "equals", "x", {"properties": {"state": "Ready"}}, "unknown"),
        ("properties.list[0]", "equals", "x", {"properties": {"list": {"0": "x"}}}, "unknown"),
        ("sku.tier", "notEquals", "Basic", {"sku": None}, "unknown"),
        ("name", "startsWith", "PG", {}, "pass"),
        ("location", "exists", True, {}, "pass"),
        ("Properties.x", "equals", "a", {"properties": {"x": "A"}}, "pass"),
    ],
)
def test_paths_read_the_same_value(path: str, op: str, value: Any, extra: dict[str, Any], expected: str) -> None:
    props = extra.pop("properties", {})
    resource = server(props, **extra)
    assert both(path, op, value, resource) == (expected, expected, expected)


@pytest.mark.parametrize(("path", "node"), [
    ("kind", ir.Compare(parse_path("kind"), "hasValue", True)),
    ("name", ir.Count(parse_path("name"), "greater", 0)),
])
def test_presence_and_count_on_a_string_column(path: str, node: ir.Condition) -> None:
    rule = ir.Rule(META, SERVER_TYPE, node)
    query, _ = single_plan(rule)
    resource = server({}, kind="")
    (_, column), = query.verdicts
    got = column_everywhere(query, tables_of([resource]), column)[resource["id"]]
    assert got == verdict(rule, server_record(resource))


@pytest.mark.xfail(strict=True, reason=(
    "a property whose name differs in case only: the evaluator matches keys case-insensitively "
    "(paths.lookup), KQL's properties.sslEnforcement matches exactly and reads null"))
def test_property_name_in_another_case() -> None:
    resource = server({"SslEnforcement": "Enabled"})
    assert both("properties.sslEnforcement", "equals", "Enabled", resource) == ("pass", "pass", "pass")


@pytest.mark.xfail(strict=True, reason=(
    "an integer beyond 2^53: the evaluator compares JSON integers exactly, todouble() in the "
    "query rounds 9007199254740993 to 9007199254740992.0"))
@pytest.mark.parametrize(("op", "value"), [("equals", 2**53), ("greater", 2**53)])
def test_integers_beyond_double_precision(op: str, value: int) -> None:
    resource = server({"x": 2**53 + 1})
    python = "fail" if op == "equals" else "pass"
    assert both("properties.x", op, value, resource) == (python, python, python)


@pytest.mark.parametrize(("pattern", "text"), [(r"\d+", "٣"), (r"\w+", "é"), (r"a\sb", "a\u00a0b")])
def test_regex_classes_are_ascii_in_kql(pattern: str, text: str) -> None:
    resource = server({"x": text})
    # ASCII classes in both, as RE2 has them. Case-sensitive: a case-insensitive pattern with
    # escapes is left to the evaluator ("(?i)" has no evidence in Resource Graph).
    assert both("properties.x", "match", pattern, resource, case_sensitive=True) == ("fail", "fail", "fail")


def test_the_live_scan_rebuilds_indexed_paths() -> None:
    from policyengine.sources.azure.live import rebuild as live_rebuild

    rule = ir.Rule(META, SERVER_TYPE, ir.Compare(parse_path("properties.rules[1].port"), "greater", 10))
    query, _ = single_plan(rule)
    resource = server({"rules": [{"port": 1}, {"port": 22}]})
    (row,) = execute(query.text, tables_of([resource]))
    assert live_rebuild(query, row) == rebuild(query, row).data
