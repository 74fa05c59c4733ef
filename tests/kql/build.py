"""Rules built directly as IR for the KQL tests, and the queries of a plan by name."""

from __future__ import annotations

from typing import Any

from policyengine import ir
from policyengine.kql.plan import IDENTITY, VERDICTS, Plan, Query
from policyengine.paths import FieldPath, parse_path

#: Single Server: in ARG's ``resources`` table, with no ARM reads in its rules below, so a
#: rule on it gets its verdict computed inside the query.
SINGLE = "Microsoft.DBforPostgreSQL/servers"
FLEX = "Microsoft.DBforPostgreSQL/flexibleServers"
SUBSCRIPTIONS = "Microsoft.Resources/subscriptions"
PRICINGS = "Microsoft.Security/pricings"
ATP = "Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings"
DEFENDER_PLAN = "OpenSourceRelationalDatabases"


def field(path: str | FieldPath) -> FieldPath:
    return path if isinstance(path, FieldPath) else parse_path(path)


def compare(path: str | FieldPath, op: str, value: Any = None, *, case_sensitive: bool = False,
            on_missing: ir.OnMissing | None = None) -> ir.Compare:
    """A comparison as the loader builds it (lists become tuples)."""
    frozen = tuple(value) if isinstance(value, list) else value
    return ir.Compare(field(path), op, frozen, case_sensitive, on_missing)


def rule(condition: ir.Condition, *, rule_id: str = "T-001", resource_type: str = SINGLE,
         where: ir.Condition | None = None, related: tuple[ir.Related, ...] = (),
         on_missing: ir.OnMissing = ir.OnMissing.UNKNOWN) -> ir.Rule:
    meta = ir.Metadata(rule_id, "A test rule", ir.Severity.LOW, "A rule built by a test.", ir.Remediation("Fix it."))
    return ir.Rule(meta, resource_type, condition, where=where, related=related, on_missing=on_missing)


def pricing(name: str = DEFENDER_PLAN, key: str = "plan") -> ir.Related:
    """The subscription's Defender pricing (ARG table securityresources: joined in)."""
    return ir.Related(key, PRICINGS, name, ir.Scope.SUBSCRIPTION)


def queries_of(plan: Plan, label: str) -> dict[str, str]:
    """Every query and summary query of ``plan``, named ``label type`` / ``label type summary``."""
    out: dict[str, str] = {}
    for query in plan.queries:
        out[f"{label} {query.resource_type}"] = query.text
        if query.summary is not None:
            out[f"{label} {query.resource_type} summary"] = query.summary
    return out


def promised_columns(query: Query) -> list[str]:
    """The columns the plan tells the client its query returns, in projection order."""
    return [*IDENTITY, *(c for c, _ in query.paths), *(r.column for r in query.related),
            *(c for _, c in query.verdicts), *(c for _, c in query.applies)]


def promised_summary_columns(query: Query) -> list[str]:
    return ["subscriptionId", *(f"{rule} {v}" for rule, _ in query.verdicts for v in VERDICTS)]
