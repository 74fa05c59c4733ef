"""Related data against the catalog: PE107 (a type a live scan could never read), PE103 (a
child type of the other server generation) and PE108 (a default that is not the platform's)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any

from policyengine import ir
from policyengine.lint.context import RuleContext
from policyengine.lint.problems import Problem
from policyengine.loading.yaml_nodes import JsonPath
from policyengine.operators import fold


def check_related(ctx: RuleContext) -> Iterator[Problem]:
    for rel in ctx.rule.related:
        where: JsonPath = ("spec", "related", rel.name)
        kind = ctx.catalog.get(rel.type)
        if kind is None:
            yield _unknown_type(ctx, rel, (*where, "type"))
            continue
        # As the planner reads (kql/plan.py): a child is read from ARM, per server; a
        # subscription-scope resource from its Resource Graph table if it has one, else ARM.
        readable = kind.arm is not None or (rel.scope is ir.Scope.SUBSCRIPTION and kind.arg_table is not None)
        if not readable:
            how = "no ARM read" if rel.scope is ir.Scope.CHILD else "no Resource Graph table and no ARM read"
            yield ctx.problem("PE107", (*where, "type"), f"the catalog has {how} for {kind.name}: a live "
                              "scan could never read it (give the read in a --catalog file)")
        platform = kind.default_for(rel.resource_name)
        if rel.default is not None and platform is not None:
            for path, mine, theirs in _differences(rel.default, platform, ()):
                yield ctx.problem("PE108", (*where, "default", *path),
                                  f"default {_dotted(path)} is {json.dumps(mine)} but the platform default "
                                  f"of {kind.name} '{rel.resource_name}' is {json.dumps(theirs)} (catalog)")


def _unknown_type(ctx: RuleContext, rel: ir.Related, where: JsonPath) -> Problem:
    """PE103 if the type is the other generation's child under this one's name, else PE107."""
    parent, _, child = rel.type.rpartition("/")
    other_parent = ctx.catalog.counterpart(parent)
    if other_parent is not None:
        theirs = ctx.catalog.get(f"{other_parent.name}/{child}")
        equivalent = ctx.catalog.counterpart(theirs.name) if theirs is not None else None
        if theirs is not None:
            instead = f"; the equivalent here is {equivalent.name}" if equivalent is not None else ""
            return ctx.problem("PE103", where, f"{child} is a child of {other_parent.name}, not of "
                               f"{parent}{instead}")
    names = [t.name for t in ctx.catalog.types.values()]
    close = difflib.get_close_matches(rel.type, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else " (add it with --catalog)"
    return ctx.problem("PE107", where, f"{rel.type} is not in the catalog: a live scan could never "
                       f"read it{hint}")


def _differences(mine: Any, theirs: Any, path: tuple[str | int, ...]) -> Iterator[
        tuple[tuple[str | int, ...], Any, Any]]:
    """Leaves of the rule's default that the platform default has with another value. What
    only the rule says is not compared: the platform default says nothing of it."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key, value in mine.items():
            other = next((v for k, v in theirs.items() if k.lower() == key.lower()), None)
            if other is not None:
                yield from _differences(value, other, (*path, key))
    elif _normal(mine) != _normal(theirs):
        yield path, mine, theirs


def _normal(value: Any) -> Any:
    """Azure compares strings case-insensitively: so do defaults."""
    if isinstance(value, str):
        return fold(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k.lower(): _normal(v) for k, v in value.items()}
    return value


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "(the whole default)"
