"""Turn streams of ARG-shaped rows into records: attach child rows (server parameters, ATP
settings, alert policies) to their parent and subscription-scope rows (Defender pricings) to
their subscription, by id and case-insensitively.

Two modes:

* **streaming** — one input whose snapshot header declares ``order: parent-first``
  (subscription-scope rows first, then each resource followed by its children, as
  ``policyengine collect`` writes them). A resource is complete when the next resource
  starts, so memory stays flat however large the estate is.
* **buffered** — any other input, rows in any order: everything is attached in memory and
  records come out sorted by id at the end.

Nothing is dropped silently: rows of types no rule reads are counted by type, child rows
whose parent is not in the input are reported with their line, and every subscription seen
anywhere in the input becomes a subscription record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from policyengine.errors import InputError, Span
from policyengine.paths import Projection, project
from policyengine.records.model import (
    ANNOTATION,
    SUBSCRIPTION_TYPE,
    ChildKey,
    Origin,
    Record,
    parent_id,
    pop_unread,
    subscription_of,
    type_from_id,
)
from policyengine.sources.export import Input, Row
from policyengine.status import InputProblem, Unit

PARENT_FIRST = "parent-first"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Wanted:
    """What the selected rules read: the resource types they target and the child and
    subscription-scope resources (lower-case type, name) they relate to. Other child rows
    are not kept, so a server's 350 parameters do not all sit in memory."""

    targets: frozenset[str]
    children: frozenset[ChildKey]
    subscription_children: frozenset[ChildKey]
    #: By lower-case type, the parts of a resource the rules read. A buffered scan keeps only
    #: those (a server row is ~1.6 KB of JSON and ten times that as Python objects).
    projections: Mapping[str, Projection] = field(default_factory=dict)
    #: By lower-case target type, the subscription-scope resources its rules relate to
    #: (empty: every type may relate to every one of them).
    subscription_children_by_type: Mapping[str, frozenset[ChildKey]] = field(default_factory=dict)

    def subscription_needs(self, ltype: str) -> frozenset[ChildKey]:
        if not self.subscription_children_by_type:
            return self.subscription_children
        return self.subscription_children_by_type.get(ltype, frozenset())

    def keep(self, ltype: str, data: dict[str, Any]) -> dict[str, Any]:
        tree = self.projections.get(ltype)
        return data if tree is None else project(data, tree)

    @property
    def subscriptions(self) -> bool:
        return SUBSCRIPTION_TYPE in self.targets


@dataclass
class Stats:
    """What the inputs held, for the report: nothing read is left unaccounted for."""

    rows: int = 0
    resources: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    orphans: int = 0
    notes: list[str] = field(default_factory=list)
    #: Input errors: files, rows and resources that could not be judged (every report lists them).
    errors: list[InputProblem] = field(default_factory=list)

    def note(self, span: Span, text: str) -> None:
        self.notes.append(f"{span.prefix()}: {text}")

    def add_error(self, problem: InputProblem) -> None:
        self.errors.append(problem)


@dataclass
class _Pending:
    data: dict[str, Any]
    origin: Origin
    children: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)


@dataclass
class _Subscription:
    id: str
    data: dict[str, Any] | None = None
    origin: Origin | None = None
    children: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)
    record: Record | None = None  # built once the subscription is sealed


def _child_key(data: dict[str, Any], rtype: str) -> ChildKey:
    return (rtype.lower(), data["id"].rstrip("/").rsplit("/", 1)[-1].lower())


class Assembler:
    """Feeds rows in, gets records out; see the module docstring for the two modes."""

    def __init__(self, wanted: Wanted, *, streaming: bool) -> None:
        self.wanted = wanted
        self.streaming = streaming
        self.stats = Stats()
        self.subscriptions: dict[str, _Subscription] = {}
        self.pending: dict[str, _Pending] = {}
        self.orphans: dict[str, list[tuple[ChildKey, dict[str, Any], Origin]]] = {}
        self.current: str | None = None
        #: Streaming: by subscription, the types of the records already built with it.
        self.sealed: dict[str, set[str]] = {}
        self._skip_cache: dict[tuple[str, str, str, str], str | Assembler | None] = {}

    # -- subscriptions -------------------------------------------------------------------
    def _subscription(self, sid: str) -> _Subscription:
        key = sid.lower()
        sub = self.subscriptions.get(key)
        if sub is None:
            sub = self.subscriptions[key] = _Subscription(f"/subscriptions/{sid}")
        return sub

    def _sub_record(self, sub: _Subscription) -> Record:
        if sub.record is None:
            sid = sub.id.rsplit("/", 1)[-1]
            data = sub.data or {"id": sub.id, "type": "Microsoft.Resources/subscriptions",
                                "subscriptionId": sid, "name": sid}
            origin = sub.origin or Origin("(inferred from the resources of this subscription)")
            sub.record = Record(sub.id, "Microsoft.Resources/subscriptions", data, origin,
                                dict(sub.children))
        return sub.record

    def _check_unsealed(self, sub: _Subscription, key: ChildKey, row: Row, file: str) -> None:
        """A subscription-scope row that comes after records were built with its subscription
        is an error only if one of those records' rules reads it; later records get it."""
        sid = sub.id.rsplit("/", 1)[-1]
        late = sorted(t for t in self.sealed.get(sid.lower(), ()) if key in self.wanted.subscription_needs(t))
        if late:
            raise InputError(
                f"subscription-level row for subscription {sid} comes after {', '.join(late)} "
                "resources of that subscription whose rules read it; a parent-first snapshot lists "
                "subscription data first (remove the header line to scan rows in any order)",
                Span(file, row.line),
            )
        sub.record = None  # rebuilt, with this row, for the records still to come

    # -- rows ----------------------------------------------------------------------------
    def skippable(self, rid: str) -> str | None:
        """The (lower-case) type of a row no rule can use, judged from its id alone, so the
        reader need not parse it (a server's other parameters); None for a row to parse.

        Most rows of an export are children (``…/providers/NS/type/name/child/childName``),
        whose type and name, and so the answer, are told by the id's last five segments:
        the answer is cached by them."""
        parts = rid.rsplit("/", 5)
        if len(parts) == 6 and parts[0][-10:].lower() == "/providers":
            shape = (parts[1], parts[2], parts[4], parts[5])
            known = self._skip_cache.get(shape, self)
            if known is self:
                if len(self._skip_cache) > 65_536:  # an input with endless distinct names
                    self._skip_cache.clear()
                known = self._skip_cache[shape] = self._skippable(rid)
            return known  # type: ignore[return-value]
        return self._skippable(rid)

    def _skippable(self, rid: str) -> str | None:
        lid = rid.lower()
        rtype = type_from_id(lid)
        if rtype is None or rtype in self.wanted.targets or rtype == SUBSCRIPTION_TYPE:
            return None
        key = (rtype, lid.rstrip("/").rsplit("/", 1)[-1])
        if rtype.count("/") >= 2:
            wanted = rtype.rsplit("/", 1)[0] in self.wanted.targets and key in self.wanted.children
        else:
            wanted = key in self.wanted.subscription_children
        return None if wanted else rtype

    def feed(self, row: Row, file: str) -> Record | None:
        """Take one row; return the record it completes (streaming mode only)."""
        self.stats.rows += 1
        data = row.data
        rid: str = data["id"]
        if row.skipped:
            ltype = data["type"]
            self.stats.ignored[ltype] += 1
            sid = subscription_of(rid)
            if sid:
                self._subscription(sid)
            return self._flush() if self.streaming and ltype.count("/") < 2 else None
        given = data.get("type")
        ltype = (given if isinstance(given, str) and given else type_from_id(rid) or "").lower()
        sid = subscription_of(rid)
        sub = self._subscription(sid) if sid else None
        if ltype.count("/") >= 2:
            self._child(row, ltype, file)
            return None
        if ltype == SUBSCRIPTION_TYPE:
            if sub is None:
                raise InputError(f"subscription row with a malformed id {rid!r}", Span(file, row.line))
            # The subscription's own row: its rules are evaluated at the end, whatever the order.
            sub.data, sub.origin, sub.record = data, Origin(file, row.line), None
            return None
        if ltype not in self.wanted.targets:
            key = _child_key(data, ltype)
            if sub is not None and key in self.wanted.subscription_children and \
                    "/resourcegroups/" not in rid.lower():
                # A subscription-scope resource such as Microsoft.Security/pricings/<plan>.
                self._check_unsealed(sub, key, row, file)
                sub.children[key] = self.wanted.keep(ltype, data)
                return None
            self.stats.ignored[ltype or "(no type)"] += 1
            return self._flush() if self.streaming else None
        self.stats.resources[ltype] += 1
        done = None
        lid = rid.lower()
        if self.streaming:
            done = self._flush()
            self.current = lid
        if lid in self.pending:
            self.stats.note(Span(file, row.line),
                            f"duplicate row for {rid}; this later row replaces the earlier one")
            self.stats.resources[ltype] -= 1
        unread = pop_unread(data) if ANNOTATION in data else {}
        kept = data if self.streaming else self.wanted.keep(ltype, data)
        pending = self.pending[lid] = _Pending(kept, Origin(file, row.line), unread=unread)
        for key, child, _ in self.orphans.pop(lid, []):
            pending.children[key] = child
        return done

    def _child(self, row: Row, ltype: str, file: str) -> None:
        data = row.data
        key = _child_key(data, ltype)
        if ltype.rsplit("/", 1)[0] not in self.wanted.targets or key not in self.wanted.children:
            self.stats.ignored[ltype] += 1
            return
        if not self.streaming:
            data = self.wanted.keep(ltype, data)
        parent = parent_id(data["id"]).lower()
        pending = self.pending.get(parent)
        if pending is not None and (not self.streaming or parent == self.current):
            pending.children[key] = data
            return
        if self.streaming:
            self.stats.orphans += 1
            if self.stats.orphans <= MAX_EXAMPLES:
                self.stats.note(Span(file, row.line),
                                f"{ltype} row whose parent {parent_id(data['id'])} does not "
                                "come right before it: not attached (parent-first order)")
            return
        self.orphans.setdefault(parent, []).append((key, data, Origin(file, row.line)))

    def _build(self, pending: _Pending) -> Record:
        data = pending.data
        rid: str = data["id"]
        sid = subscription_of(rid)
        subscription = self._sub_record(self._subscription(sid)) if sid else None
        rtype = data.get("type") or type_from_id(rid) or ""
        if self.streaming and sid:
            self.sealed.setdefault(sid.lower(), set()).add(rtype.lower())
        return Record(rid, rtype, data, pending.origin, pending.children, pending.unread, subscription)

    def _flush(self) -> Record | None:
        if self.current is None:
            return None
        pending = self.pending.pop(self.current)
        self.current = None
        return self._build(pending)

    def finish(self) -> Iterator[Record]:
        """The records still held (all of them in buffered mode, sorted by id), then one
        record per subscription seen, if a rule targets subscriptions."""
        last = self._flush()
        if last is not None:
            yield last
        for lid in sorted(self.pending):
            yield self._build(self.pending[lid])
        self.pending.clear()
        for parent, items in sorted(self.orphans.items()):
            for key, _, origin in items:
                self.stats.orphans += 1
                if self.stats.orphans <= MAX_EXAMPLES:
                    self.stats.note(Span(origin.file, origin.line),
                                    f"{key[0]} row '{key[1]}' has no parent {parent} in the input")
        self.orphans.clear()
        if self.stats.orphans > MAX_EXAMPLES:
            self.stats.notes.append(f"{self.stats.orphans} child rows in all had no parent")
        if self.wanted.subscriptions:
            for lsid in sorted(self.subscriptions):
                sub = self.subscriptions[lsid]
                self.stats.resources[SUBSCRIPTION_TYPE] += 1
                yield self._sub_record(sub)


def assemble(inputs: Iterable[Input], wanted: Wanted, stats: Stats | None = None) -> Iterator[Record]:
    """Records from every input, attached across inputs (a pricing in one file applies to
    the servers of another). Streams when there is one parent-first snapshot."""
    inputs = list(inputs)
    streaming = len(inputs) == 1 and inputs[0].header.get("order") == PARENT_FIRST
    assembler = Assembler(wanted, streaming=streaming)
    if stats is not None:
        assembler.stats = stats
    log = assembler.stats
    for inp in inputs:
        inp.skip = assembler.skippable
        feed, name = assembler.feed, inp.name
        try:
            for row in inp.rows:
                try:
                    record = feed(row, name)
                except InputError as exc:  # this row only: the input goes on
                    log.add_error(InputProblem.of(exc, Unit.ROW, file=name))
                    continue
                if record is not None:
                    yield record
        except InputError as exc:  # the rest of this input cannot be read; the others can
            log.add_error(InputProblem.of(exc, file=name))
        log.errors += inp.problems
        inp.problems.clear()
    yield from assembler.finish()
