"""PE104: conditions that can never be true, or never be false.

A sound, deliberately small analysis. Its claim is about resources whose values the condition
reads are *present* and, where the catalog lists a property's values, *one of them* (absent
values follow ``onMissing``, which can still make any condition pass or fail). It knows:

* ``in: []`` never holds, ``notIn: []`` always does;
* a string comparison (case-insensitive, as Azure compares) against a property with listed
  values: ``in`` or ``notIn`` that covers every listed value, ``notEquals`` of the only one;
* ``allOf`` whose string comparisons on one path leave no value (``equals: A`` and
  ``equals: B``, ``equals: A`` and ``notIn: [A, ...]``, or every listed value excluded);
* ``anyOf`` whose string comparisons on one path admit every value (``equals: A`` and
  ``notEquals: A``, or ``in`` lists that together cover every listed value);
* ``not`` of a constant, ``allOf`` with a never-true item, ``anyOf`` with an always-true one;
* ``count`` compared with what a count cannot be (``less: 0``, ``greaterOrEquals: 0``,
  ``equals: 1.5``), or whose ``where`` never holds (the count is then 0).

It does not reason about numbers, booleans, ``caseSensitive`` comparisons, presence
(``exists``, ``hasValue``), text operators (``contains``, ``startsWith``, ``match``) or across
``not`` of a group: those are treated as "may be either". A value PE102 reports (one the
property never takes) is left out here, so one mistake is reported once. A node is reported
where its constancy starts: an ``allOf`` that is never true only because one item never is
is not reported again (the item is); a ``not`` of a constant is reported, and its item not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from policyengine import ir
from policyengine.lint.context import RuleContext, children
from policyengine.lint.problems import Problem
from policyengine.loading.yaml_nodes import JsonPath
from policyengine.operators import fold


class Truth(enum.Enum):
    ALWAYS = "always"
    NEVER = "never"
    MAYBE = "maybe"


@dataclass(frozen=True)
class _Constraint:
    """A string comparison on one path: the value is (``positive``) or is not in ``values``;
    ``domain`` is every value the property can take (folded), if the catalog lists them."""

    key: tuple[object, ...]
    shown: str
    positive: bool
    values: frozenset[str]
    domain: frozenset[str] | None


@dataclass(frozen=True)
class _Result:
    truth: Truth
    why: str = ""
    constraint: _Constraint | None = field(default=None, compare=False)
    #: Constant only because a sub-condition is: the sub-condition is what gets reported.
    inherited: bool = False


def check_logic(ctx: RuleContext) -> Iterator[Problem]:
    """PE104 at every node of ``where`` and ``condition`` where a constant starts."""
    results: dict[JsonPath, _Result] = {}
    for root, path in ctx.roots():
        _analyse(ctx, root, path, (), results)
        yield from _report(ctx, root, path, results)


def _report(ctx: RuleContext, node: ir.Condition, path: JsonPath,
            results: dict[JsonPath, _Result], explained: bool = False) -> Iterator[Problem]:
    result = results[path]
    reported = result.truth is not Truth.MAYBE and not result.inherited
    if reported and not explained:
        verdict = "is always true" if result.truth is Truth.ALWAYS else "can never be true"
        yield ctx.problem("PE104", path, f"this condition {verdict} (for any value it reads that is "
                          f"present and one the catalog allows): {result.why}")
    for child, where in children(node, path):
        # A reported not says all there is to say of its item, and of what made that constant.
        inner = (reported and isinstance(node, ir.Not)) or (explained and result.inherited)
        yield from _report(ctx, child, where, results, inner)


def _analyse(ctx: RuleContext, node: ir.Condition, path: JsonPath,
             counts: tuple[tuple[ir.Count, JsonPath], ...], results: dict[JsonPath, _Result]) -> _Result:
    inner = (*counts, (node, path)) if isinstance(node, ir.Count) else counts
    subs = [_analyse(ctx, child, where, inner, results) for child, where in children(node, path)]
    if isinstance(node, ir.Compare):
        result = _compare(ctx, node, counts)
    elif isinstance(node, ir.Count):
        result = _count(node, subs[0] if subs else None)
    elif isinstance(node, ir.Not):
        result = _negate(subs[0])
    elif isinstance(node, ir.AllOf):
        result = _all_of(subs)
    else:
        result = _any_of(subs)
    results[path] = result
    return result


def _compare(ctx: RuleContext, node: ir.Compare, counts: tuple[tuple[ir.Count, JsonPath], ...]) -> _Result:
    if node.op not in ("equals", "notEquals", "in", "notIn"):
        return _Result(Truth.MAYBE)
    many = node.op in ("in", "notIn")
    raw = list(node.value) if many else [node.value]
    positive = node.op in ("equals", "in")
    if not raw:
        return _Result(Truth.NEVER if positive else Truth.ALWAYS,
                       f"{node.op}: [] {'matches nothing' if positive else 'excludes nothing'}")
    if node.case_sensitive or not all(isinstance(v, str) for v in raw):
        return _Result(Truth.MAYBE)
    res = ctx.resolve(node.path, counts)
    info = res.node.info if res.node is not None else None
    domain = frozenset(fold(v) for v in info.values) if info is not None and info.values is not None \
        and all(isinstance(v, str) for v in info.values) else None
    values = frozenset(fold(v) for v in raw)
    if domain is not None:
        values &= domain
        if not values:
            return _Result(Truth.MAYBE)  # every value is one PE102 reports
    key = (node.path.element, len(counts) if node.path.element else 0,
           *(s.casefold() if isinstance(s, str) else s for s in node.path.segments))
    constraint = _Constraint(key, node.path.text, positive, values, domain)
    if domain is not None and domain <= values:
        listed = ", ".join(sorted(info.values or ())) if info else ""
        return _Result(Truth.ALWAYS if positive else Truth.NEVER,
                       f"{node.op} covers every value {node.path.text} can take ({listed})", constraint)
    return _Result(Truth.MAYBE, constraint=constraint)


def _negate(sub: _Result) -> _Result:
    flipped = {Truth.ALWAYS: Truth.NEVER, Truth.NEVER: Truth.ALWAYS, Truth.MAYBE: Truth.MAYBE}[sub.truth]
    c = sub.constraint
    constraint = None if c is None else _Constraint(c.key, c.shown, not c.positive, c.values, c.domain)
    was = "is always true" if sub.truth is Truth.ALWAYS else "never is"
    why = f"not of a condition that {was}: {sub.why}"
    return _Result(flipped, why if flipped is not Truth.MAYBE else "", constraint)


def _by_path(subs: list[_Result]) -> dict[tuple[object, ...], list[_Constraint]]:
    groups: dict[tuple[object, ...], list[_Constraint]] = {}
    for sub in subs:
        if sub.constraint is not None:
            groups.setdefault(sub.constraint.key, []).append(sub.constraint)
    return groups


def _all_of(subs: list[_Result]) -> _Result:
    for i, sub in enumerate(subs):
        if sub.truth is Truth.NEVER:
            return _Result(Truth.NEVER, f"allOf[{i}] can never be true ({sub.why})", inherited=True)
    for group in _by_path(subs).values():
        domain = group[0].domain
        allowed: frozenset[str] | None = domain
        for c in group:
            if c.positive:
                allowed = c.values if allowed is None else allowed & c.values
        if allowed is None:
            continue  # no listed values and no positive comparison: unbounded
        for c in group:
            if not c.positive:
                allowed -= c.values
        if not allowed:
            return _Result(Truth.NEVER, f"no value of {group[0].shown} satisfies every comparison on it")
    if subs and all(s.truth is Truth.ALWAYS for s in subs):
        return _Result(Truth.ALWAYS, "every item is always true", inherited=True)
    return _Result(Truth.MAYBE)


def _any_of(subs: list[_Result]) -> _Result:
    for i, sub in enumerate(subs):
        if sub.truth is Truth.ALWAYS:
            return _Result(Truth.ALWAYS, f"anyOf[{i}] is always true ({sub.why})", inherited=True)
    for group in _by_path(subs).values():
        admitted = frozenset().union(*(c.values for c in group if c.positive))
        negatives = [c.values for c in group if not c.positive]
        # A value fails every item only if it is outside each positive set and inside each
        # negative one: with a negative, only the values in all of them can; without, only
        # listed values outside the positive sets can.
        if negatives:
            covered = frozenset.intersection(*negatives) <= admitted
        else:
            covered = group[0].domain is not None and group[0].domain <= admitted
        if covered:
            return _Result(Truth.ALWAYS, f"every value of {group[0].shown} satisfies one of its comparisons")
    if subs and all(s.truth is Truth.NEVER for s in subs):
        return _Result(Truth.NEVER, "every item can never be true", inherited=True)
    return _Result(Truth.MAYBE)


def _count(node: ir.Count, where: _Result | None) -> _Result:
    """A count is a whole number from 0 up, and 0 if its ``where`` never holds."""
    n = node.value
    if where is not None and where.truth is Truth.NEVER:
        holds = {"equals": n == 0, "notEquals": n != 0, "greater": n < 0, "greaterOrEquals": n <= 0,
                 "less": n > 0, "lessOrEquals": n >= 0}[node.op]
        return _Result(Truth.ALWAYS if holds else Truth.NEVER,
                       f"count.where can never be true ({where.why}), so the count is always 0",
                       inherited=True)
    whole = float(n).is_integer()
    never = {"equals": n < 0 or not whole, "less": n <= 0, "lessOrEquals": n < 0}.get(node.op, False)
    always = {"notEquals": n < 0 or not whole, "greaterOrEquals": n <= 0,
              "greater": n < 0}.get(node.op, False)
    if never or always:
        return _Result(Truth.NEVER if never else Truth.ALWAYS,
                       f"a count is a whole number from 0 up: count {node.op} {n}")
    return _Result(Truth.MAYBE)
