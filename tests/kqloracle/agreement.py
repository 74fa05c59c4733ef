"""What the agreement tests share: running a rule both ways, ``where`` probes, rebuilding a
record from a query's columns, and building one-resource ARG tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policyengine import ir
from policyengine.evaluator import evaluate
from policyengine.ir import EVERY
from policyengine.kql.plan import Plan, Query, RulePlan, build_plan
from policyengine.records.model import SUBSCRIPTION_TYPE, Origin, Record
from tests.kqloracle import ALL_READINGS, Readings, arg_row, execute
from tests.kqloracle.arg import TABLES, table_of

#: The ``applies`` column's value for each outcome of the ``where`` in Python.
APPLIES = {"pass": 2, "fail": 0, "unknown": 1}
IDENTITY = ("id", "name", "type", "subscriptionId", "resourceGroup", "location")
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
SERVER_TYPE = "Microsoft.DBforPostgreSQL/servers"
SERVER_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/{SERVER_TYPE}/pg1"


def verdict(rule: ir.Rule, record: Record) -> str:
    return evaluate(rule, record).verdict.value


def agrees(column: str | None, python: str) -> bool:
    """The query's verdict column agrees with the evaluator's verdict: the same verdict, or
    the evaluator's ``error`` for a value of a type the query cannot see. A query reports
    ``error`` only where the evaluator certainly does (an array or an object compared as a
    scalar, text that spells no number or boolean); a number or a boolean compared with a
    string is left to the evaluator, because Kusto may type strings inside ``dynamic``
    values (issue 12). So the column never says ``error`` where the evaluator does not."""
    return python in (column, "error")


def where_probe(rule: ir.Rule) -> ir.Rule:
    """A rule whose condition is ``rule``'s ``where``: its verdict is the ``where``'s outcome
    (``error`` where the evaluator cannot compare)."""
    assert rule.where is not None
    return ir.Rule(rule.metadata, rule.resource_type, rule.where, related=rule.related,
                   on_missing=rule.on_missing)


def rebuild(query: Query, row: Mapping[str, Any]) -> Record:
    """The record a client rebuilds from a row: the identity columns, each projected path
    put back where it came from (``Query.paths``), and each joined subscription-scope bag
    (``Query.related``) attached where the evaluator looks for it. A null column is an
    absent value; a null bag is data the query did not see."""
    data: dict[str, Any] = {k: row[k] for k in IDENTITY if row.get(k) is not None}
    for column, path in query.paths:
        value = row.get(column)
        if value is not None:
            put(data, path, value)
    children = {(rel.related_type.lower(), rel.name.lower()): bag for rel in query.related
                if rel.name != EVERY and isinstance(bag := row.get(rel.column), dict)}
    for rel in query.related:  # every resource of a type: the client takes them from the bag
        bag = row.get(rel.column)
        if rel.name == EVERY and isinstance(bag, dict):
            children.update({(rel.related_type.lower(), str(item["name"]).lower()): item for item in bag.values()
                             if isinstance(item, dict) and str(item.get("type", "")).lower() == rel.related_type.lower()})
    origin = Origin("(Resource Graph)")
    rid = str(row["id"])
    if query.resource_type.lower() == SUBSCRIPTION_TYPE:
        return Record(rid, query.resource_type, data, origin, children)
    sid = str(row["subscriptionId"])
    subscription = Record(f"/subscriptions/{sid}", "Microsoft.Resources/subscriptions",
                          {"id": f"/subscriptions/{sid}", "subscriptionId": sid}, origin, children)
    return Record(rid, query.resource_type, data, origin, {}, {}, subscription)


def put(data: dict[str, Any], path: Sequence[str | int], value: Any) -> None:
    """Set ``path`` in ``data``: a key in an object, an index in an array (``rules[1]``
    makes ``rules`` an array, padded with nulls)."""
    node: Any = data
    *parents, last = path
    for seg, following in zip(parents, path[1:], strict=True):
        fresh: Any = [] if isinstance(following, int) else {}
        if isinstance(seg, int):
            node.extend([None] * (seg + 1 - len(node)))
            if node[seg] is None:
                node[seg] = fresh
            node = node[seg]
        else:
            node = node.setdefault(seg, fresh)
    if isinstance(last, int):
        node.extend([None] * (last + 1 - len(node)))
    node[last] = value


def single_plan(rule: ir.Rule) -> tuple[Query, RulePlan]:
    plan: Plan = build_plan([rule])
    (query,) = plan.queries
    (rule_plan,) = plan.rules
    return query, rule_plan


def server(properties: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """A single server in ARM shape (``properties`` None: no properties at all)."""
    data: dict[str, Any] = {"id": SERVER_ID, "name": "pg1", "type": SERVER_TYPE, "location": "westeurope", **extra}
    if properties is not None:
        data["properties"] = dict(properties)
    return data


def server_record(resource: Mapping[str, Any], children: Mapping[tuple[str, str], Any] | None = None) -> Record:
    return Record(SERVER_ID, SERVER_TYPE, dict(resource), Origin("t.json", 1), dict(children or {}))


def tables_of(resources: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for resource in resources:
        table = table_of(str(resource["type"]))
        assert table is not None, resource["type"]
        tables[table].append(arg_row(resource))
    return tables


def column_everywhere(query: Query, tables: Mapping[str, Sequence[Mapping[str, Any]]], column: str,
                      readings: Sequence[Readings] = ALL_READINGS) -> dict[str, Any]:
    """The value of ``column`` by resource id, the same under every reading (or an
    assertion error naming the readings that differ)."""
    results: dict[Readings, dict[str, Any]] = {}
    for reading in readings:
        rows = execute(query.text, tables, readings=reading)
        results[reading] = {str(r["id"]): r[column] for r in rows}
    first = results[readings[0]]
    for reading, values in results.items():
        assert values == first, f"{column} depends on an undocumented behaviour: {readings[0]} gives " \
                                f"{first}, {reading} gives {values}"
    return first
