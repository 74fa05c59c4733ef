"""Field paths and values against the catalog: PE100 (a type the catalog does not know or
cannot query), PE101 (an unknown path), PE102 (a value the property never takes, or of a type
it never compares with) and PE103 (a path of the other server generation)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any

from policyengine import ir
from policyengine.catalog import PropertyInfo
from policyengine.lint.context import Resolved, RuleContext, Site
from policyengine.lint.problems import Problem
from policyengine.loading.yaml_nodes import JsonPath
from policyengine.operators import OperandError, values_equal

#: Operators whose value is compared for equality with the property (or, for contains on an
#: array, with its elements): their values can be checked against the allowed values.
_EQUALITY = ("equals", "notEquals", "in", "notIn")
_MEMBERSHIP = ("contains", "notContains")


def check_type(ctx: RuleContext) -> Iterator[Problem]:
    """PE100: the rule's own type, which a live scan queries in Resource Graph."""
    kind = ctx.catalog.get(ctx.rule.resource_type)
    where = ("spec", "resource")
    if kind is None:
        names = [t.name for t in ctx.catalog.types.values()]
        close = difflib.get_close_matches(ctx.rule.resource_type, names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (add it with --catalog to check them)"
        yield ctx.problem("PE100", where, f"{ctx.rule.resource_type} is not in the catalog: its paths "
                          f"and values are not checked{hint}")
    elif kind.arg_table is None:
        yield ctx.problem("PE100", where, f"the catalog knows no Resource Graph table for {kind.name}: "
                          "a live scan cannot query it (only exports, templates and plans)")


def check_fields(ctx: RuleContext) -> Iterator[Problem]:
    """PE101, PE102 and PE103 for every field a condition reads."""
    for site in ctx.sites():
        node = site.node
        if not isinstance(node, ir.Compare | ir.Count):
            continue
        res = ctx.resolve(node.path, site.counts)
        if res.kind is None:
            continue  # a type the catalog does not know: PE100 or PE107 said so
        if res.node is None:
            yield _unknown(ctx, res, (*site.path, "field"))
            continue
        info = res.node.info
        if isinstance(node, ir.Count):
            if info.type != "array":
                yield ctx.problem("PE102", (*site.path, "field"),
                                  f"count reads an array; {res.show()} is {_a(info.type)}")
            continue
        yield from _values(ctx, site, node, res)


def _unknown(ctx: RuleContext, res: Resolved, where: JsonPath) -> Problem:
    """PE103 if the counterpart type has the path, else PE101 with the closest known path."""
    assert res.kind is not None
    other = ctx.catalog.counterpart(res.kind.name) if res.base is None else None
    there = other.node(res.segments, res.name) if other is not None else None
    if other is not None and there is not None and there.declared:
        note = f": {there.info.on_counterpart}" if there.info.on_counterpart else ""
        return ctx.problem("PE103", where, f"{res.show()} is a property of {other.name}, "
                           f"not of {res.kind.name}{note}")
    close = res.suggestion()
    hint = f" (did you mean {close}?)" if close else ""
    return ctx.problem("PE101", where, f"{res.show()} is not a known property of {res.kind.name}{hint}")


def _values(ctx: RuleContext, site: Site, node: ir.Compare, res: Resolved) -> Iterator[Problem]:
    assert res.node is not None
    info: PropertyInfo | None = res.node.info
    if node.op in _MEMBERSHIP:
        # contains on an array looks for an element; on a string, for text (not checked).
        info = res.node.items.info if res.node.items is not None and res.node.info.type == "array" else None
    elif node.op not in _EQUALITY:
        return
    if info is None:
        return
    many = node.op in ("in", "notIn")
    values = list(node.value) if many else [node.value]
    for i, value in enumerate(values):
        where = (*site.path, node.op, i) if many else (*site.path, node.op)
        message = _value_problem(info, res.show() if info is res.node.info else f"{res.show()}[*]", value)
        if message:
            yield ctx.problem("PE102", where, message)


def _value_problem(info: PropertyInfo, shown_path: str, value: Any) -> str | None:
    """Why ``value`` can never equal a value of the property, or None if it can. The allowed
    values are compared as the evaluator compares (case-insensitively, by the rule value's
    type): a value that only raises operand errors against them never matches either."""
    shown = json.dumps(value, ensure_ascii=False)
    if info.values is not None:
        if any(_equal(allowed, value) for allowed in info.values):
            return None
        choices = [v for v in info.values if isinstance(v, str)]
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        hint = f" (did you mean {json.dumps(close[0])}?)" if close else ""
        listed = ", ".join(json.dumps(v) for v in info.values)
        return f"{shown} is not a value of {shown_path} ({listed}){hint}"
    if not _comparable(info.type, value):
        return (f"{shown_path} is {_a(info.type)}: comparing it with {_a(_json_type(value))} ({shown}) "
                "is an error verdict, never a match")
    return None


def _equal(allowed: Any, value: Any) -> bool:
    try:
        return values_equal(allowed, value, False)
    except OperandError:
        return False  # a value the evaluator cannot compare with this one never matches it


def _comparable(kind: str, value: Any) -> bool:
    """Whether a property of catalog type ``kind`` can meet ``value`` without an operand
    error (the rules of :func:`policyengine.operators.values_equal`: a number matches a numeric
    string, a boolean "true"/"false")."""
    if isinstance(value, bool):
        return kind in ("boolean", "string")
    if isinstance(value, int | float):
        return kind in ("integer", "number", "string")
    if isinstance(value, str):
        return kind == "string"
    if isinstance(value, list | tuple):
        return kind == "array"
    return kind == "object"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
