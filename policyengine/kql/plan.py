"""The query plan: for a set of rules, the fewest Azure Resource Graph queries — one per
target resource type, for all the rules on that type together — and the ARM reads for what
Resource Graph cannot see.

Each query

* selects the type (``where type =~ ...``) and never uses ``take``/``limit``, so ARG pages
  it with ``$skipToken``;
* joins the subscription-scope data its rules relate to (Defender pricings in
  ``securityresources``) with one ``leftouter`` join per table, within ARG's limit of three;
* computes, for every rule whose data is all in ARG, the verdict as a column
  (``['verdict RULE']``), and for a rule that also needs ARM reads, whether its ``where``
  holds (``['applies RULE']``), so a scan skips the ARM reads of resources it does not apply to;
* projects ``id``, the resource's identity columns, and only the paths the rules read, each
  as a column named by its path (``['properties.state']``), so the client can rebuild the
  resource for the Python evaluator.

ARG tables and limits: docs/architecture.md, "Azure facts"; the query-language page lists the
operators ARG allows (https://learn.microsoft.com/azure/governance/resource-graph/concepts/query-language).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from policyengine import ir
from policyengine.catalog import Catalog, catalog
from policyengine.ir import EVERY
from policyengine.kql import quote
from policyengine.kql.quote import KqlUnsupported
from policyengine.kql.render import Operand, render, verdict_columns
from policyengine.paths import FieldPath

#: Columns every query returns, as ARG names them.
IDENTITY = ("id", "name", "type", "subscriptionId", "resourceGroup", "location")
#: ARG's columns of type string (the others are dynamic).
STRING_COLUMNS = frozenset({"id", "name", "type", "tenantId", "kind", "location", "resourceGroup",
                            "subscriptionId", "managedBy"})
#: The columns of ARG's resource tables (arg-schema.json beside Microsoft's kqlcheck; the ARG
#: docs' result samples): a rule path must start with one of them to be read from ARG.
ARG_COLUMNS = {c.lower(): c for c in (
    "id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId",
    "managedBy", "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation")}
MAX_JOINS = 3
VERDICTS = ("pass", "fail", "unknown", "not_applicable", "error")


@dataclass(frozen=True)
class Diagnostic:
    """Something a rule says that KQL cannot express; the rule's verdict is then computed
    by the Python evaluator from the columns the query returns, never by a weaker query."""

    rule_id: str
    construct: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule_id, "construct": self.construct, "message": self.message}


@dataclass(frozen=True)
class ArmRead:
    """An ARM request per resource for a related child ARG cannot see."""

    related_type: str
    names: tuple[str, ...]
    method: str
    path: str
    api_version: str

    @property
    def url_template(self) -> str:
        return f"{self.path}?api-version={self.api_version}"

    def urls(self) -> list[str]:
        """The request per resource: one LIST for all names, or one GET per name."""
        if "{name}" not in self.path:
            return [self.url_template]
        return [self.url_template.replace("{name}", name) for name in self.names]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.related_type, "names": list(self.names), "method": self.method.upper(),
                "path": self.url_template}


@dataclass(frozen=True)
class RulePlan:
    rule_id: str
    resource_type: str
    capability: str  # "arg": all its data is in ARG; "arg+arm": it also needs ARM reads
    server_verdict: bool
    arm_reads: tuple[ArmRead, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.rule_id, "resourceType": self.resource_type, "capability": self.capability,
                "serverVerdict": self.server_verdict, "armReads": [a.to_json() for a in self.arm_reads],
                "diagnostics": [d.to_json() for d in self.diagnostics]}


@dataclass(frozen=True)
class RelatedColumn:
    """A column holding a subscription-scope resource joined in (the ARM shape as a bag)."""

    column: str
    related_type: str
    name: str


@dataclass(frozen=True)
class Query:
    resource_type: str
    table: str
    text: str
    rules: tuple[str, ...]
    paths: tuple[tuple[str, tuple[str | int, ...]], ...]  # column -> resource path
    related: tuple[RelatedColumn, ...] = ()
    verdicts: tuple[tuple[str, str], ...] = ()  # rule id -> column
    applies: tuple[tuple[str, str], ...] = ()  # rule id -> column
    summary: str | None = None
    #: The ARM reads per resource this query's rules need, merged: one configurations LIST
    #: serves every parameter every rule reads.
    arm_reads: tuple[ArmRead, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type, "table": self.table, "query": self.text,
            "rules": list(self.rules),
            "columns": {c: ".".join(map(str, p)) for c, p in self.paths},
            "relatedColumns": {r.column: {"type": r.related_type, "name": r.name} for r in self.related},
            "verdictColumns": dict(self.verdicts), "appliesColumns": dict(self.applies),
            "summaryQuery": self.summary, "armReads": [a.to_json() for a in self.arm_reads],
        }


@dataclass(frozen=True)
class Plan:
    queries: tuple[Query, ...]
    rules: tuple[RulePlan, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"queries": [q.to_json() for q in self.queries], "rules": [r.to_json() for r in self.rules],
                "diagnostics": [d.to_json() for d in self.diagnostics]}


class PlanError(Exception):
    """A rule set that cannot be planned (an unknown type, too many joins)."""


def _arg_path(segments: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The path with its first segment as ARG spells the column; unsupported if none."""
    first = ARG_COLUMNS.get(str(segments[0]).lower())
    if first is None:
        raise KqlUnsupported(f"'{segments[0]}' is not a Resource Graph column")
    return (first, *segments[1:])


_SAFE_COLUMN = re.compile(r"[A-Za-z0-9_. \-\[\]']{1,200}")


def _column_of(path: tuple[str | int, ...], index: int) -> str:
    """The column a path lands in: its text (``properties.state``, ``tags['cost-center']``),
    unambiguous per path; ``path_N`` where that text would not make a column name (Kusto
    entity names hold letters, digits, ``_ . -``, spaces, at most 1024 characters)."""
    if len(path) == 1 and path[0] in IDENTITY:
        return str(path[0])
    text = ""
    for seg in path:
        if isinstance(seg, int):
            text += f"[{seg}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", seg):
            text += f".{seg}" if text else seg
        else:
            text += f"['{seg}']"
    return text if _SAFE_COLUMN.fullmatch(text) else f"path_{index}"


class _TypePlanner:
    """Plans the one query of one resource type."""

    def __init__(self, resource_type: str, rules: Sequence[ir.Rule], cat: Catalog) -> None:
        self.resource_type = resource_type
        self.rules = rules
        self.catalog = cat
        kind = cat.get(resource_type)
        if kind is None or kind.arg_table is None:
            raise PlanError(f"{resource_type}: the catalog knows no Resource Graph table for it")
        self.table = kind.arg_table
        self.paths: dict[str, tuple[str | int, ...]] = {}
        self.related: dict[tuple[str, str], RelatedColumn] = {}
        self.joins: dict[str, list[RelatedColumn]] = {}

    # -- operands ---------------------------------------------------------------------------
    def _may_join(self, table: str) -> bool:
        """ARG allows at most three joins, and one cross-table join per query unless all are
        between resources and resourcecontainers (query-language page, join limitations)."""
        if table in self.joins:
            return True
        tables = [*self.joins, table]
        if len(tables) > MAX_JOINS:
            return False
        others = [t for t in tables if t != self.table]
        return len(others) <= 1 or set(others) | {self.table} <= {"resources", "resourcecontainers"}

    def related_column(self, rel: ir.Related) -> RelatedColumn | None:
        """The column of a subscription-scope resource joined in, or None if the query cannot
        have it (ARG has no table for it, or the join limits are reached): ARM reads it then."""
        kind = self.catalog.get(rel.type)
        if rel.scope is not ir.Scope.SUBSCRIPTION or kind is None or kind.arg_table is None:
            return None
        key = (rel.type.lower(), rel.resource_name.lower())
        column = self.related.get(key)
        if column is None:
            if not self._may_join(kind.arg_table):
                return None
            suffix = "all" if rel.is_list else rel.resource_name
            base = re.sub(r"[^A-Za-z0-9_]", "_", f"{rel.type.rsplit('/', 1)[-1]}_{suffix}")
            taken = {c.column for c in self.related.values()}
            name, number = base, 1
            while name in taken:
                number += 1
                name = f"{base}_{number}"
            column = RelatedColumn(name, rel.type, rel.resource_name)
            self.related[key] = column
            self.joins.setdefault(kind.arg_table, []).append(column)
        return column

    def resolve(self, rule: ir.Rule) -> Any:
        def operand(path: FieldPath) -> Operand:
            if path.is_related:
                rel = rule.related_named(path.related_name)
                assert rel is not None
                column = self.related_column(rel)
                if column is None:
                    raise KqlUnsupported(f"related data {rel.type} is not in Resource Graph")
                if rel.is_list:
                    # The column holds the subscription's whole bag; the evaluator takes every
                    # resource of the type from it (see join()).
                    raise KqlUnsupported(f"every {rel.type} as an array")
                return Operand(quote.access(column.column, path.segments[2:]),
                               f"isnotnull({column.column})")
            segments = _arg_path(path.segments)
            return Operand(quote.path(segments), string_column=len(segments) == 1 and
                           str(segments[0]) in STRING_COLUMNS)

        return operand

    def arm_reads(self, rule: ir.Rule) -> tuple[ArmRead, ...]:
        reads: dict[str, list[str]] = {}
        for rel in rule.related:
            if self.related_column(rel) is None:
                reads.setdefault(rel.type, []).append(rel.resource_name)
        out = []
        for rtype, names in reads.items():
            kind = self.catalog.get(rtype)
            if kind is None or kind.arm is None:
                raise PlanError(f"{rule.id}: the catalog cannot fetch {rtype} (no ARM read for it)")
            out.append(ArmRead(kind.name, tuple(names), kind.arm.method, kind.arm.path, kind.arm.api_version))
        return tuple(out)

    # -- the query --------------------------------------------------------------------------
    def plan(self) -> tuple[Query, list[RulePlan]]:
        rule_plans: list[RulePlan] = []
        bound: list[tuple[int, str, str]] = []
        extends: list[str] = []
        decisions: list[str] = []
        verdicts: list[tuple[str, str]] = []
        applies: list[tuple[str, str]] = []
        for rule in self.rules:
            for path in ir.condition_paths(rule):
                if path.element or path.is_related or path.segments in self.paths.values():
                    continue
                if str(path.segments[0]).lower() in ARG_COLUMNS:
                    self.paths[_column_of(path.segments, len(self.paths))] = path.segments
            arm = self.arm_reads(rule)
            resolve = self.resolve(rule)
            diagnostics: list[Diagnostic] = []
            server = False
            try:
                if arm:
                    if rule.where is not None and not any(p.is_related for p in _where_paths(rule)):
                        column = quote.name(f"applies {rule.id}")
                        rendered = render(rule.where, rule, resolve, f"applies {rule.id}")
                        bound += rendered.bindings
                        extends.append(f"{column} = {rendered.value}")
                        applies.append((rule.id, f"applies {rule.id}"))
                else:
                    bindings, values, (column, text) = verdict_columns(rule, resolve)
                    bound += bindings
                    extends += [f"{quote.name(c)} = {v}" for c, v in values]
                    decisions.append(f"{quote.name(column)} = {text}")
                    verdicts.append((rule.id, column))
                    server = True
            except KqlUnsupported as exc:
                diagnostics.append(Diagnostic(rule.id, str(exc),
                                              f"{rule.id}: KQL cannot express {exc}; the verdict is "
                                              "computed by the evaluator from the query's columns"))
            rule_plans.append(RulePlan(rule.id, rule.resource_type, "arg+arm" if arm else "arg",
                                       server, arm, tuple(diagnostics)))
        lines = [self.table, f"| where type =~ {quote.string(self.resource_type.lower())}"]
        for table, columns in self.joins.items():
            lines.append(self.join(table, columns))
        levels = [[f"{quote.name(c)} = {v}" for n, c, v in bound if n == level]
                  for level in sorted({n for n, _, _ in bound})]
        for group in (*levels, extends, decisions):
            if group:
                lines.append("| extend " + ",\n    ".join(group))
        projected = list(IDENTITY)
        projected += [f"{quote.column(c)} = {quote.path(_arg_path(p))}"
                      for c, p in self.paths.items() if c not in IDENTITY]
        projected += [c.column for c in self.related.values()]
        projected += [quote.name(c) for _, c in verdicts + applies]
        lines.append("| project " + ",\n    ".join(projected))
        text = "\n".join(lines)
        summary = self.summary(lines[:-1], verdicts) if verdicts else None
        query = Query(self.resource_type, self.table, text, tuple(r.id for r in self.rules),
                      tuple((c, p) for c, p in self.paths.items() if c not in IDENTITY),
                      tuple(self.related.values()), tuple(verdicts), tuple(applies), summary,
                      _merge(read for p in rule_plans for read in p.arm_reads))
        return query, rule_plans

    def join(self, table: str, columns: list[RelatedColumn]) -> str:
        """The subscription's rows of ``table`` gathered into one bag keyed by lower-case name
        (by type and name where the rules relate to several types), then each related
        resource taken from it by key. Microsoft's own Resource Graph queries read Defender
        pricings this way; ``take_anyif``/``bag_pack`` have no public evidence that Resource
        Graph accepts them (docs/architecture.md, "Azure facts")."""
        types = sorted({c.related_type.lower() for c in columns})
        # Keyed by type and name where the rules relate to several types, or want every
        # resource of one (the client then tells the types apart by the key).
        by_type = len(types) > 1 or any(c.name == EVERY for c in columns)
        taken = {c.column for c in self.related.values()}
        bag = f"bag_{table}"
        while bag in taken:
            bag += "_"
        key = 'strcat(tolower(type), "/", tolower(name))' if by_type else "tolower(name)"
        where = " or ".join(f"type =~ {quote.string(t)}" for t in types)

        def lookup(column: RelatedColumn) -> str:
            if column.name == EVERY:
                # Every resource of a type: no function with public evidence picks a bag's
                # entries by a key prefix, so the client takes them from the whole bag.
                return f"{column.column} = {bag}"
            wanted = column.name.lower()
            if by_type:
                wanted = f"{column.related_type.lower()}/{wanted}"
            return f"{column.column} = {bag}[{quote.string(wanted)}]"

        return (f"| join kind=leftouter ({table}\n    | where {where}\n"
                f"    | summarize {bag} = make_bag(pack({key}, pack(\"id\", id, \"name\", name, "
                f"\"type\", type, \"properties\", properties)))\n"
                f"      by subscriptionId) on subscriptionId\n"
                f"| extend " + ",\n    ".join(lookup(c) for c in columns))

    @staticmethod
    def summary(lines: list[str], verdicts: list[tuple[str, str]]) -> str:
        counts = [f"{quote.name(f'{rule} {v}')} = countif({quote.name(column)} == {quote.string(v)})"
                  for rule, column in verdicts for v in VERDICTS]
        return "\n".join(lines) + "\n| summarize " + ",\n    ".join(counts) + "\n    by subscriptionId"


def _merge(reads: Iterable[ArmRead]) -> tuple[ArmRead, ...]:
    merged: dict[str, ArmRead] = {}
    for read in reads:
        key = read.related_type.lower()
        known = merged.get(key)
        names = (*known.names, *read.names) if known else read.names
        unique = tuple(dict.fromkeys(names))
        merged[key] = ArmRead(read.related_type, unique, read.method, read.path, read.api_version)
    return tuple(merged.values())


def _where_paths(rule: ir.Rule) -> Iterable[FieldPath]:
    if rule.where is None:
        return ()
    probe = ir.Rule(rule.metadata, rule.resource_type, rule.where, related=rule.related)
    return ir.condition_paths(probe)


def build_plan(rules: Sequence[ir.Rule], cat: Catalog | None = None) -> Plan:
    """The plan for ``rules``: one query per target type (sorted by type)."""
    cat = cat or catalog()
    by_type: dict[str, list[ir.Rule]] = {}
    for rule in rules:
        by_type.setdefault(rule.resource_type.lower(), []).append(rule)
    queries: list[Query] = []
    rule_plans: list[RulePlan] = []
    for _, group in sorted(by_type.items()):
        query, plans = _TypePlanner(group[0].resource_type, group, cat).plan()
        queries.append(query)
        rule_plans += plans
    diagnostics = tuple(d for p in rule_plans for d in p.diagnostics)
    return Plan(tuple(queries), tuple(sorted(rule_plans, key=lambda p: p.rule_id)), diagnostics)
