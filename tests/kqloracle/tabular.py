"""Tabular operators: a table, ``where``, ``extend``, ``project``, ``join kind=leftouter``
and ``summarize`` with ``take_anyif``, ``make_bag`` and ``countif``.

A relation carries its schema (column name → kind) beside its rows, so that an operator on
no rows still knows the kinds of its columns (a leftouter join must know what null to put
in a right column that matched nothing). The kind of a computed column is the kind of its
expression evaluated on a row of nulls: evaluation never raises on data, so that row is as
good as any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.kqloracle import syntax as s
from tests.kqloracle.scalar import Env, evaluate
from tests.kqloracle.values import Kind, OracleError, Readings, Value, column_value, dynamic, long, null_of

Schema = dict[str, Kind]
Row = dict[str, Value]


@dataclass
class Relation:
    schema: Schema
    rows: list[Row]

    def null_row(self) -> Row:
        return {name: null_of(kind) for name, kind in self.schema.items()}


@dataclass(frozen=True)
class Tables:
    """The tables a query can name, as JSON rows, and the schema of each."""

    tables: Mapping[str, Sequence[Mapping[str, Any]]]
    schemas: Mapping[str, Mapping[str, Kind]]

    def load(self, name: str) -> Relation:
        if name not in self.schemas:
            raise OracleError(f"no table named {name!r} (tables: {', '.join(self.schemas)})")
        schema = dict(self.schemas[name])
        rows = []
        for data in self.tables.get(name, ()):
            unknown = set(data) - set(schema)
            if unknown:
                raise OracleError(f"table {name}: a row has columns outside its schema: {sorted(unknown)}")
            rows.append({col: column_value(data.get(col), kind) for col, kind in schema.items()})
        return Relation(schema, rows)


def run(query: s.Query, tables: Tables, readings: Readings) -> Relation:
    if isinstance(query.source, s.Table):
        relation = tables.load(query.source.name)
    else:
        relation = run(query.source, tables, readings)
    for operator in query.operators:
        relation = _apply(operator, relation, tables, readings)
    return relation


def _apply(op: s.Operator, rel: Relation, tables: Tables, readings: Readings) -> Relation:
    if isinstance(op, s.Where):
        return _where(op, rel, readings)
    if isinstance(op, s.Extend):
        return _extend(op.columns, rel, readings, keep=True)
    if isinstance(op, s.Project):
        return _extend(op.columns, rel, readings, keep=False)
    if isinstance(op, s.Join):
        return _join(op, rel, run(op.right, tables, readings))
    return _summarize(op, rel, readings)


def _where(op: s.Where, rel: Relation, readings: Readings) -> Relation:
    """"Records for which the predicate returns the null value are dropped"
    (https://learn.microsoft.com/kusto/query/scalar-data-types/null-values)."""
    kind = evaluate(op.predicate, Env(rel.null_row(), readings)).kind
    if kind is not Kind.BOOL:
        raise OracleError(f"where needs a bool predicate, not a {kind.value}")
    return Relation(rel.schema, [row for row in rel.rows
                                 if evaluate(op.predicate, Env(row, readings)).v is True])


def _extend(columns: Sequence[tuple[str, s.Expr]], rel: Relation, readings: Readings, *, keep: bool) -> Relation:
    """``extend`` adds (or replaces) columns after the input's; ``project`` keeps only the
    columns it lists, in its order, ``name = expr`` naming a computed one
    (https://learn.microsoft.com/kusto/query/extend-operator, .../project-operator).
    Within one ``extend`` a column may use one defined before it."""
    names = [name for name, _ in columns]
    if not keep and len(set(names)) != len(names):
        raise OracleError(f"project names a column twice: {names}")

    def compute(row: Row) -> Row:
        scope = dict(row)
        out: Row = dict(row) if keep else {}
        for name, expr in columns:
            value = evaluate(expr, Env(scope, readings))
            out[name] = value
            if keep:
                scope[name] = value
        return out

    template = compute(rel.null_row())
    schema = {name: value.kind for name, value in template.items()}
    return Relation(schema, [compute(row) for row in rel.rows])


def _join(op: s.Join, left: Relation, right: Relation) -> Relation:
    """leftouter: "All columns from both tables, including the matching keys"; "All records
    from the left table and only matching rows from the right table"; a right column whose
    name the left side already has gets a ``1`` suffix (``Key1``); a left row that matched
    nothing has empty right columns (https://learn.microsoft.com/kusto/query/join-leftouter)."""
    for key in op.on:
        if key not in left.schema or key not in right.schema:
            raise OracleError(f"join on {key!r}: both sides need that column")
        if left.schema[key] is not right.schema[key]:
            raise OracleError(f"join on {key!r}: the sides have different types")
    renamed: dict[str, str] = {}
    schema = dict(left.schema)
    for name, kind in right.schema.items():
        target = name
        suffix = 1
        while target in schema:
            target = f"{name}{suffix}"
            suffix += 1
        renamed[name] = target
        schema[target] = kind
    index: dict[tuple[Any, ...], list[Row]] = {}
    for row in right.rows:
        index.setdefault(tuple(row[k].v for k in op.on), []).append(row)
    unmatched = {renamed[name]: null_of(kind) for name, kind in right.schema.items()}
    rows: list[Row] = []
    for row in left.rows:
        values = tuple(row[k].v for k in op.on)
        # Keys are compared as ``==`` compares them: strings exactly, case and all.
        matches = index.get(values, []) if all(v is not None for v in values) else []
        if not matches:
            rows.append({**row, **unmatched})
        for match in matches:
            rows.append({**row, **{renamed[name]: value for name, value in match.items()}})
    return Relation(schema, rows)


def _summarize(op: s.Summarize, rel: Relation, readings: Readings) -> Relation:
    """One row per distinct combination of the ``by`` columns, the group-by columns first,
    then the aggregates (https://learn.microsoft.com/kusto/query/summarize-operator)."""
    for name in op.by:
        if name not in rel.schema:
            raise OracleError(f"summarize by {name!r}: no such column")
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rel.rows:
        groups.setdefault(tuple(row[name].v for name in op.by), []).append(row)
    schema: Schema = {name: rel.schema[name] for name in op.by}
    for name, call in op.aggregates:
        schema[name] = _aggregate(call, [], rel.null_row(), readings).kind
    rows = []
    for members in groups.values():
        out: Row = {name: members[0][name] for name in op.by}
        for name, call in op.aggregates:
            out[name] = _aggregate(call, members, rel.null_row(), readings)
        rows.append(out)
    return Relation(schema, rows)


def _aggregate(call: s.Call, rows: list[Row], null_row: Row, readings: Readings) -> Value:
    if call.name == "countif":
        # Counts the rows whose predicate is true; null is not true
        # (https://learn.microsoft.com/kusto/query/countif-aggregation-function).
        if len(call.args) != 1:
            raise OracleError("countif() takes one predicate")
        _check_bool(call.args[0], null_row, readings, "countif()")
        return long(sum(evaluate(call.args[0], Env(row, readings)).v is True for row in rows))
    if call.name == "take_anyif":
        # "Only records for which predicate returns 'true' may be selected. If the predicate
        # doesn't return 'true', a null value is produced"; "the function attempts to return
        # a non-null/non-empty value" (https://learn.microsoft.com/kusto/query/take-anyif-aggregation-function).
        if len(call.args) != 2:
            raise OracleError("take_anyif() takes an expression and a predicate")
        expr, predicate = call.args
        _check_bool(predicate, null_row, readings, "take_anyif()")
        kind = evaluate(expr, Env(null_row, readings)).kind
        chosen = [evaluate(expr, Env(row, readings)) for row in rows
                  if evaluate(predicate, Env(row, readings)).v is True]
        present = [v for v in chosen if not v.is_null and v.v != ""] or chosen
        if not present:
            return null_of(kind)
        return present[0] if readings.take_any == "first" else present[-1]
    if call.name == "make_bag":
        # "A dynamic property bag of all the property bags in the group"; a value that is not
        # a bag is ignored; "if a key appears in more than one row, an arbitrary value, out of
        # the possible values associated with this key, is selected"; no bag at all gives an
        # empty one (https://learn.microsoft.com/kusto/query/make-bag-aggregation-function).
        if len(call.args) != 1:
            raise OracleError("make_bag() takes one expression (the maximum size is outside the subset)")
        kind = evaluate(call.args[0], Env(null_row, readings)).kind
        if kind is not Kind.DYNAMIC:
            raise OracleError(f"make_bag() needs a dynamic expression, not a {kind.value}")
        bag: dict[str, Any] = {}
        for row in rows:
            data = evaluate(call.args[0], Env(row, readings)).v
            if isinstance(data, dict):
                for key, item in data.items():
                    if key not in bag or readings.take_any == "last":
                        bag[key] = item
        return dynamic(bag)
    raise OracleError(f"aggregation {call.name}() is outside the oracle's subset")


def _check_bool(expr: s.Expr, null_row: Row, readings: Readings, what: str) -> None:
    kind = evaluate(expr, Env(null_row, readings)).kind
    if kind is not Kind.BOOL:
        raise OracleError(f"{what} needs a bool predicate, not a {kind.value}")
