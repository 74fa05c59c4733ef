"""Azure Resource Graph tables as the oracle holds them, built from ARG-shaped rows.

* Columns (the same for every table, as ``arg-schema.json`` beside Microsoft's kqlcheck
  has them): ``id name type tenantId kind location resourceGroup subscriptionId managedBy``
  are strings; ``sku plan properties tags identity zones extendedLocation`` are dynamic.
* ``type`` is lower-case in ARG, whatever the export says.
* Which table holds a type: the resource-type catalog where it names one (flexible and
  single servers in ``resources``, ``microsoft.security/pricings`` in ``securityresources``,
  subscriptions in ``resourcecontainers``); other top-level types by namespace. Child
  resources (server parameters, ATP settings, alert policies: two or more ``/`` in the
  type) are in no ARG table: they are read from ARM only
  (https://learn.microsoft.com/azure/governance/resource-graph/reference/supported-tables-resources).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policyengine.catalog import catalog
from policyengine.records.model import subscription_of, type_from_id
from tests.kqloracle.values import Kind

STRING_COLUMNS = ("id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId",
                  "managedBy")
DYNAMIC_COLUMNS = ("sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation")
ARG_SCHEMA: dict[str, Kind] = {
    **dict.fromkeys(STRING_COLUMNS, Kind.STRING), **dict.fromkeys(DYNAMIC_COLUMNS, Kind.DYNAMIC)}
TABLES = ("resources", "securityresources", "resourcecontainers", "policyresources")
SCHEMAS: dict[str, dict[str, Kind]] = dict.fromkeys(TABLES, ARG_SCHEMA)


def table_of(resource_type: str) -> str | None:
    """The ARG table that holds ``resource_type``; None for a child ARG cannot see."""
    if resource_type.count("/") >= 2:
        return None
    kind = catalog().get(resource_type)
    if kind is not None and kind.arg_table:
        return kind.arg_table
    lowered = resource_type.lower()
    if lowered.startswith("microsoft.security/"):
        return "securityresources"
    if lowered in ("microsoft.resources/subscriptions", "microsoft.resources/resourcegroups"):
        return "resourcecontainers"
    if lowered.startswith("microsoft.policyinsights/"):
        return "policyresources"
    return "resources"


def arg_row(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource as an ARG row: the ARG columns only, ``type`` lower-case, and
    ``subscriptionId``, ``resourceGroup`` and ``name`` taken from the id where not given."""
    rid = str(resource["id"])
    rtype = str(resource.get("type") or type_from_id(rid) or "")
    row = {col: resource.get(col) for col in ARG_SCHEMA}
    row["type"] = rtype.lower()
    if not row.get("subscriptionId"):
        row["subscriptionId"] = subscription_of(rid) or ""
    if not row.get("resourceGroup"):
        parts = rid.split("/")
        lowered = [p.lower() for p in parts]
        row["resourceGroup"] = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""
    if not row.get("name"):
        row["name"] = rid.rstrip("/").rsplit("/", 1)[-1]
    return row


def arg_tables(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The ARG tables an export's rows fill (child rows fill none)."""
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for resource in rows:
        rtype = str(resource.get("type") or type_from_id(str(resource["id"])) or "")
        table = table_of(rtype)
        if table is not None:
            tables[table].append(arg_row(resource))
    return tables
