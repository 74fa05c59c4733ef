"""The Python back end: rule × record → finding, in Kleene's three-valued logic.

* ``allOf`` fails if any item fails, else is unknown if any item is unknown, else passes.
* ``anyOf`` passes if any item passes, else is unknown if any is unknown, else fails.
* A comparison whose value is absent yields the rule's ``onMissing`` (``exists`` and
  ``hasValue`` are about presence and never do; an array element compared in ``count.where``
  that lacks the value does not match, unless the comparison sets its own ``onMissing``).
* Related data that an observed source (an export, a live scan) did not read yields
  ``unknown`` with the reason, whatever ``onMissing`` says: Azure always has every server
  parameter and ATP setting, so its absence from the input says nothing about the server.
  A declared source (a template, a plan) that does not set it gets the platform default.
* A type the operator cannot compare is an ``error`` verdict, never a pass or a fail.

Each rule is compiled once into closures (as sqlglot's Python executor compiles its tree),
so evaluating a record does no dispatch on node types and no lookups in the operator table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policyengine import ir
from policyengine.findings import Evidence, Finding, Verdict
from policyengine.operators import OPERATORS, OperandError, presence_holds, specialize
from policyengine.paths import MISSING, FieldPath, lookup
from policyengine.records.model import SUBSCRIPTION_TYPE, Record, assumed_note, element_name, listed_key
from policyengine.unknown import Unknown, contains_unknown, jsonable

PASS, FAIL, UNKNOWN = Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN
_ON_MISSING = {ir.OnMissing.PASS: PASS, ir.OnMissing.FAIL: FAIL, ir.OnMissing.UNKNOWN: UNKNOWN}
_NEGATE = {PASS: FAIL, FAIL: PASS, UNKNOWN: UNKNOWN}

Outcome = tuple[Verdict, list[Evidence]]


class RuleError(Exception):
    """The rule cannot be evaluated on this record (an operand of the wrong type)."""


@dataclass(frozen=True)
class _Related:
    """Related data as resolved for one record: the data (or MISSING), whether it was
    observed at all, and a note for the evidence."""

    data: Any
    observed: bool
    note: str | None = None


def _holder(record: Record, rel: ir.Related) -> Record | None:
    if rel.scope is ir.Scope.CHILD or record.type.lower() == SUBSCRIPTION_TYPE:
        return record
    return record.subscription


def resolve_related(record: Record, rel: ir.Related) -> _Related:
    holder = _holder(record, rel)
    if holder is None:
        return _Related(MISSING, False, f"not read: {record.id} has no subscription to read {rel.type} from")
    if rel.is_list:
        return _every(holder, rel)
    children: Mapping[Any, Any] = holder.children
    if rel.key in children:
        child = children[rel.key]
        if child is None:
            return _Related(MISSING, True)
        # A live scan's platform default after a 404 says so in the evidence.
        return _Related(child, True, assumed_note(child))
    reason = holder.unread.get(rel.type.lower()) or holder.unread.get("*")
    if reason is None and holder.origin.kind is ir.SourceKind.DECLARED and rel.scope is ir.Scope.CHILD:
        # A template declares its resources' children; it does not own the subscription, so
        # a subscription-scope resource it does not contain stays not observed.
        if rel.default is not None:
            return _Related(rel.default, True, f"{rel.type} '{rel.resource_name}' is not "
                            "declared; the platform default was assumed")
        return _Related(MISSING, True)
    return _Related(MISSING, False, reason or _not_seen(holder, rel))


def _every(holder: Record, rel: ir.Related) -> _Related:
    """Every related resource of one type, as an array sorted by name: known when the input
    holds one of them or says it listed them all (``(type, EVERY)``, a live scan's list read),
    and for a template, which declares its resources' children, whatever it declares."""
    ltype = rel.type.lower()
    reason = holder.unread.get(ltype) or holder.unread.get("*")
    if reason is not None:
        return _Related(MISSING, False, reason)
    found = sorted((name, data) for (kind, name), data in holder.children.items()
                   if kind == ltype and data is not None and name != ir.EVERY)
    if found or listed_key(ltype) in holder.children:
        notes = {note for _, data in found if (note := assumed_note(data)) is not None}
        return _Related([data for _, data in found], True, "; ".join(sorted(notes)) or None)
    if holder.origin.kind is ir.SourceKind.DECLARED and rel.scope is ir.Scope.CHILD:
        return _Related([], True, f"the template declares no {rel.type.rsplit('/', 1)[-1]}")
    return _Related(MISSING, False, _not_seen(holder, rel))


def _not_seen(holder: Record, rel: ir.Related) -> str:
    """Why related data a source did not give is not known (see the module's docstring)."""
    kind = rel.type.split("/", 1)[1]
    if holder.origin.kind is ir.SourceKind.DECLARED:
        what = f"{kind} '{rel.resource_name}'" if not rel.is_list else f"{kind} (every one)"
        return (f"not declared: the subscription's {what} "
                "is set outside this template or plan, so it is known only once deployed")
    owner = "the subscription's" if rel.scope is ir.Scope.SUBSCRIPTION else "the resource's"
    if rel.is_list:
        return f"not read: {owner} {kind} (every one) {LIST_NOT_IN_INPUT}"
    return f"not read: {owner} {kind} '{rel.resource_name}' {NOT_IN_INPUT}"


#: How an unknown verdict's note ends when the input simply lacked related data that Azure
#: always has (not a denied read, not a value known only at deployment): the scan then says
#: what was missing and how to collect it (:func:`missing_type`).
NOT_IN_INPUT = "is not in the input, though Azure always has one"
#: The same for every resource of a type (a server's firewall rules): none is in the input, and
#: nothing says they were listed.
LIST_NOT_IN_INPUT = "are not in the input, and nothing says they were listed"
_MISSING_NOTE = re.compile(r"not read: the (?:resource's|subscription's) (\S+) (?:'[^']*' "
                           + re.escape(NOT_IN_INPUT) + r"|\(every one\) "
                           + re.escape(LIST_NOT_IN_INPUT) + ")")


def missing_type(note: str | None) -> str | None:
    """The related type (``flexibleServers/configurations``) that a note says the input
    lacked, or None for any other note."""
    found = _MISSING_NOTE.search(note or "")
    return found.group(1) if found else None


class Context:
    """One rule on one record: related data is resolved at most once."""

    __slots__ = ("record", "related")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.related: dict[str, _Related] = {}


Check = Callable[[Context, Any], Outcome]
Getter = Callable[[Context, Any], tuple[Any, bool, str | None]]


def _getter(path: FieldPath, rule: ir.Rule) -> Getter:
    """A function that reads ``path``: (value or MISSING, observed, note)."""
    segments = path.segments
    if path.element:
        return lambda _ctx, element: (lookup(element, segments), True, None)
    if not path.is_related:
        return lambda ctx, _element: (lookup(ctx.record.data, segments), True, None)
    name = path.related_name
    spec = rule.related_named(name)
    assert spec is not None, "the loader checks related names"
    rest = segments[2:]

    def related(ctx: Context, _element: Any) -> tuple[Any, bool, str | None]:
        rel = ctx.related.get(name)
        if rel is None:
            rel = ctx.related[name] = resolve_related(ctx.record, spec)
        if not rel.observed:
            return MISSING, False, rel.note
        if rel.data is MISSING:
            return MISSING, True, rel.note
        return lookup(rel.data, rest), True, rel.note

    return related


def _site(path: FieldPath, rule: ir.Rule) -> Callable[[Context], str | None]:
    """A function that tells where a template sets ``path`` (None for other sources)."""
    if path.element:
        return lambda _ctx: None
    key: tuple[str, str] | None = None
    segments = path.segments
    if path.is_related:
        spec = rule.related_named(path.related_name)
        assert spec is not None, "the loader checks related names"
        key, segments = spec.key, segments[2:]
        if spec.scope is not ir.Scope.CHILD:
            # A subscription-scope value (a Defender pricing) is located in the record that
            # holds it: the subscription's, where the template declares its pricings.
            def held(ctx: Context) -> str | None:
                holder = _holder(ctx.record, spec)
                locate = holder.locate if holder is not None else None
                return locate(key, segments) if locate is not None else None

            return held

    def site(ctx: Context) -> str | None:
        locate = ctx.record.locate
        return locate(key, segments) if locate is not None else None

    return site


def _compile_compare(node: ir.Compare, rule: ir.Rule) -> Check:
    get = _getter(node.path, rule)
    site = _site(node.path, rule)
    text, expected_text = node.path.text, node.expected_text
    op = OPERATORS[node.op]
    expected = node.value
    holds = specialize(node.op, expected, node.case_sensitive) if not op.presence else None
    # The rule's onMissing speaks of the resource's data. An array element compared in
    # count.where that lacks the value simply does not match, unless the leaf says so.
    on_missing = node.on_missing or (ir.OnMissing.FAIL if node.path.element else rule.on_missing)
    missing_verdict = _ON_MISSING[on_missing]
    missing_note = f"absent, so onMissing: {on_missing.value}"

    def check(ctx: Context, element: Any) -> Outcome:
        value, observed, note = get(ctx, element)
        if not observed:
            return UNKNOWN, [Evidence(text, expected_text, None, False, UNKNOWN, note)]
        if type(value) is Unknown or (type(value) is list and contains_unknown(value)):
            return UNKNOWN, [_undecided(text, expected_text, value, note, site(ctx))]
        present = value is not MISSING
        if holds is None:
            verdict = PASS if presence_holds(op.name, value, present) == expected else FAIL
        elif not present:
            verdict = missing_verdict
            note = f"{missing_note}; {note}" if note else missing_note
        else:
            try:
                verdict = PASS if holds(value) else FAIL
            except OperandError as exc:
                raise RuleError(f"{text}: {exc}") from None
        return verdict, [Evidence(text, expected_text, value if present else None, present, verdict, note,
                                  site(ctx) if present else None)]

    return check


def _undecided(text: str, expected: str, value: Any, note: str | None, site: str | None = None) -> Evidence:
    """Evidence for a value a template or plan leaves to deployment (an array counts if any
    element is so: ``in``/``contains`` cannot be decided on it)."""
    unknown = contains_unknown(value)
    assert unknown is not None
    why = f"not known before deployment: {unknown.text} ({unknown.reason})"
    return Evidence(text, expected, None, False, UNKNOWN, f"{why}; {note}" if note else why, site)


def _compile_count(node: ir.Count, rule: ir.Rule) -> Check:
    get = _getter(node.path, rule)
    site = _site(node.path, rule)
    where = compile_condition(node.where, rule) if node.where is not None else None
    predicate, expected = OPERATORS[node.op].predicate, node.value
    text, expected_text = node.path.text, node.expected_text
    spec = rule.related_named(node.path.related_name) if node.path.is_related else None
    # Every related resource of a type (a server's firewall rules): the evidence names them.
    every = spec is not None and spec.is_list and len(node.path.segments) == 2
    # A rule that wants one of them to match (count greater than 0) says why none did.
    wants_one = not node.holds_for(0)

    def check(ctx: Context, element: Any) -> Outcome:
        value, observed, note = get(ctx, element)
        if not observed:
            return UNKNOWN, [Evidence(text, expected_text, None, False, UNKNOWN, note)]
        if type(value) is Unknown:
            return UNKNOWN, [_undecided(text, expected_text, value, note, site(ctx))]
        if value is MISSING:
            items: list[Any] = []  # an absent array has no elements, as in Azure Policy
        elif isinstance(value, list):
            items = value
        else:
            raise RuleError(f"{text}: count needs an array, found {type(value).__name__}")
        matched = uncertain = 0
        names: list[str] = []
        misses: list[str] = []
        for item in items:
            verdict, seen = (PASS, []) if where is None else where(ctx, item)
            matched += verdict is PASS
            uncertain += verdict is UNKNOWN
            if every and verdict is PASS:
                names.append(element_name(item))
            elif every and verdict is FAIL and wants_one and len(misses) < SHOWN_MISSES:
                misses.append(_miss(item, seen))
        # Undecided elements make the count a range; the verdict is known if both ends agree.
        low, high = predicate(matched, expected, True), predicate(matched + uncertain, expected, True)
        verdict = (PASS if low else FAIL) if low == high else UNKNOWN
        counted = f"{matched} matching" + (f", {uncertain} undecided" if uncertain else "")
        if names:
            counted += ": " + ", ".join(names)
        if misses and not matched:
            counted += "; " + "; ".join(misses)
        present = value is not MISSING
        where_set = site(ctx) if present else None
        if every and present:
            value = [_shown(item) for item in items]
            if names and spec is not None:  # a template: where the first that matched is declared
                where_set = _declared_at(ctx.record, spec, names[0]) or where_set
        return verdict, [Evidence(text, expected_text, value if present else None, present, verdict,
                                  counted + (f"; {note}" if note else ""), where_set, tuple(names))]

    return check


def _declared_at(record: Record, rel: ir.Related, name: str) -> str | None:
    """Where a template declares the related resource ``name`` of ``rel``'s type (None for
    other sources)."""
    holder = _holder(record, rel)
    locate = holder.locate if holder is not None else None
    return locate((rel.type.lower(), name.lower()), ("name",)) if locate is not None else None


#: How many related resources that do not match a count's where the evidence explains.
SHOWN_MISSES = 3


def _miss(resource: Any, seen: list[Evidence]) -> str:
    """Why one related resource does not match: the values it holds that fail (values it
    lacks are left out: a resource of another API shape lacks the others' properties)."""
    name = element_name(resource) or "?"
    held = [ev for ev in seen if ev.present and ev.outcome is FAIL]
    if not held:
        return f"{name} matches none of them"
    reasons = ", ".join(f"{ev.path} is {json.dumps(jsonable(ev.actual), ensure_ascii=False)} "
                        f"(expected: {ev.expected})" for ev in held)
    return f"{name} does not: {reasons}"


def _shown(resource: Any) -> Any:
    """A related resource as the evidence shows it: its name and properties (its id, type and
    API version say nothing the path does not)."""
    if not isinstance(resource, dict):
        return resource
    kept = {k.lower(): k for k in resource if k.lower() in ("name", "properties")}
    return {kept[k]: resource[kept[k]] for k in ("name", "properties") if k in kept}


def _compile_logic(node: ir.AllOf | ir.AnyOf, rule: ir.Rule) -> Check:
    items = [compile_condition(item, rule) for item in node.items]
    decisive = FAIL if isinstance(node, ir.AllOf) else PASS
    other = PASS if decisive is FAIL else FAIL
    # An undecided anyOf shows its failing items too: they are why it is no pass.
    unknown_keeps = (UNKNOWN, FAIL) if decisive is PASS else (UNKNOWN,)

    def check(ctx: Context, element: Any) -> Outcome:
        results = [item(ctx, element) for item in items]
        verdicts = [verdict for verdict, _ in results]
        if decisive in verdicts:
            return decisive, [ev for verdict, evs in results if verdict is decisive for ev in evs]
        if UNKNOWN in verdicts:
            return UNKNOWN, [ev for verdict, evs in results if verdict in unknown_keeps for ev in evs]
        return other, [ev for _, evs in results for ev in evs]

    return check


def compile_condition(node: ir.Condition, rule: ir.Rule) -> Check:
    """Compile one condition of ``rule`` into a closure."""
    if isinstance(node, ir.Compare):
        return _compile_compare(node, rule)
    if isinstance(node, ir.Count):
        return _compile_count(node, rule)
    if isinstance(node, ir.Not):
        inner = compile_condition(node.item, rule)

        def negate(ctx: Context, element: Any) -> Outcome:
            verdict, evidence = inner(ctx, element)
            return _NEGATE[verdict], evidence

        return negate
    return _compile_logic(node, rule)


#: Outcomes a rule keeps (see :class:`CompiledRule`); past this many the rule starts afresh.
OUTCOMES = 4096
#: The types of value an outcome can be keyed on: compared by value and printed alike when
#: equal. (A float is not: -0.0 == 0.0, yet the evidence shows each as it is; nor is True,
#: which equals 1, so the type is part of the key.)
_KEYED = frozenset({str, int, bool, type(None)})

Judged = tuple[Verdict, tuple[Evidence, ...], str | None]


class CompiledRule:
    """A rule ready to evaluate: its ``where`` and ``condition`` as closures.

    A rule's outcome (verdict, evidence, error) depends only on the values it reads, and the
    servers of an estate share theirs (a parameter is on or off): so the outcome is kept, keyed
    on those values, and a record that reads the same values gets it again without the rule
    being run. Only where every value read is a plain scalar (a list or object is not hashable,
    and an array's elements are what ``count`` reads) and no template locates a value (the
    evidence then says where it is set, which differs per record)."""

    __slots__ = ("condition", "outcomes", "reads", "rule", "where")

    def __init__(self, rule: ir.Rule) -> None:
        self.rule = rule
        self.where = compile_condition(rule.where, rule) if rule.where is not None else None
        self.condition = compile_condition(rule.condition, rule)
        paths = {path.text: path for path in ir.condition_paths(rule) if not path.element}
        self.reads = tuple(_getter(path, rule) for path in paths.values())
        self.outcomes: dict[tuple[Any, ...], Judged] = {}

    def evaluate(self, record: Record) -> Finding:
        """The verdict of the rule on ``record``, with evidence and a message."""
        ctx = Context(record)
        key = self._key(ctx)
        if key is None:
            verdict, evidence, error = self._judge(ctx)
        else:
            found = self.outcomes.get(key)
            if found is None:
                found = self._judge(ctx)
                if len(self.outcomes) >= OUTCOMES:
                    self.outcomes.clear()
                self.outcomes[key] = found
            verdict, evidence, error = found
        return Finding(self.rule, record.id, record.type, record.subscription_id, verdict,
                       evidence, record.origin, error)

    def _key(self, ctx: Context) -> tuple[Any, ...] | None:
        """What the rule reads of this record, or None when its outcome is not to be kept."""
        record = ctx.record
        subscription = record.subscription
        if record.locate is not None or (subscription is not None and subscription.locate is not None):
            return None
        key: list[Any] = []
        for read in self.reads:
            value, observed, note = read(ctx, MISSING)
            kind = type(value)
            if kind not in _KEYED and value is not MISSING:
                return None
            key += (kind, value, observed, note)
        return tuple(key)

    def _judge(self, ctx: Context) -> Judged:
        try:
            verdict, evidence = PASS, list[Evidence]()
            if self.where is not None:
                applies, evidence = self.where(ctx, MISSING)
                if applies is FAIL:
                    verdict = Verdict.NOT_APPLICABLE
                elif applies is UNKNOWN:
                    verdict = UNKNOWN
            if verdict is PASS:
                verdict, evidence = self.condition(ctx, MISSING)
        except RuleError as exc:
            return Verdict.ERROR, (), f"the rule could not be evaluated: {exc}"
        return verdict, tuple(evidence), None


_compiled: dict[int, tuple[ir.Rule, CompiledRule]] = {}


def evaluate(rule: ir.Rule, record: Record) -> Finding:
    """The verdict of ``rule`` on ``record`` (the rule is compiled on first use)."""
    entry = _compiled.get(id(rule))
    if entry is None or entry[0] is not rule:
        if len(_compiled) > 1024:  # rules made on the fly (tests, tools): keep the cache small
            _compiled.clear()
        entry = _compiled[id(rule)] = (rule, CompiledRule(rule))
    return entry[1].evaluate(record)
