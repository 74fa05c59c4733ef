"""Turn streams of ARG-shaped rows into records: attach child rows (server parameters, ATP
settings, alert policies) to their parent and subscription-scope rows (Defender pricings) to
their subscription, by id and case-insensitively.

Four ways to read (:class:`Order`):

* **streaming** — one input whose snapshot header declares ``order: parent-first``
  (subscription-scope rows first, then each resource followed by its children, as
  ``policyengine collect`` writes them). A resource is complete when the next resource
  starts, so memory stays flat however large the estate is.
* **optimistic** — one large file without that header, read as if it were parent-first
  (most exports are: ``az graph query`` rows, then the children added after their server). The
  first row that shows otherwise (a child away from its parent, a subscription row after
  resources whose rules read it, a resource given again further on) raises
  :class:`OutOfOrder` before anything wrong is built; the scan then reads the input again,
  sorted (docs/architecture.md, "Input order").
* **sorted** — large inputs in any order: the rows go to a table on disk
  (:mod:`policyengine.records.spill`) and come back parent-first, then stream. Memory stays
  bounded whatever the order.
* **buffered** — small inputs in any order: everything is attached in memory and records
  come out sorted by id at the end.

Nothing is dropped silently: rows of types no rule reads are counted by type, child rows
whose parent is not in the input are reported with their line, and every subscription seen
anywhere in the input becomes a subscription record.

Nothing misleads either (docs/architecture.md, "Input errors"): a type is read whatever its case
and surrounding spaces, and one the id contradicts is an error of its row. The same resource
twice (ids compared without case) is read once if both rows say the same where the rules read;
if they disagree, neither is judged and the error names both lines (a child's conflict leaves
the rules on it ``unknown``). Streaming holds only the current resource, so there only a repeat
that follows it is caught: ``collect`` writes each resource once, and an input that may hold
repeats is read buffered once its header line is removed.
"""

from __future__ import annotations

import array
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policyengine.errors import InputError, Span
from policyengine.records.graph import Children, Graph, Node, child_key
from policyengine.records.model import (
    ANNOTATION,
    SUBSCRIPTION_TYPE,
    ChildKey,
    Origin,
    Record,
    assumed_note,
    id_has_type,
    listed_key,
    listed_types,
    parent_id,
    pop_unread,
    subscription_of,
    type_from_id,
)
from policyengine.records.wanted import Wanted
from policyengine.sources.export import Input, Row
from policyengine.status import InputProblem, Stats, Unit
from policyengine.unknown import Unknown, segment_text

PARENT_FIRST = "parent-first"
MAX_EXAMPLES = 5


class Order(enum.Enum):
    """How rows are read (see the module docstring)."""

    BUFFERED = "buffered"
    OPTIMISTIC = "optimistic"
    SORTED = "sorted"


class SeenIds:
    """Which resource ids (lower-case) an optimistic read has met: 64-bit hashes in an
    open-addressed table of machine words, 16 bytes an id at most (a Python set of them costs
    about 70), so memory grows little with the estate. Two ids of one hash (about 1 in 10^19
    for a pair) only cost a sorted read."""

    __slots__ = ("count", "mask", "slots")

    def __init__(self, size: int = 1 << 12) -> None:
        self.slots = array.array("Q", bytes(8 * size))
        self.mask = size - 1
        self.count = 0

    def add(self, text: str) -> bool:
        """Note ``text``; False if it was noted before."""
        mark = (hash(text) & 0xFFFF_FFFF_FFFF_FFFF) or 1  # 0 marks an empty slot
        slots, mask = self.slots, self.mask
        at = mark & mask
        while slots[at]:
            if slots[at] == mark:
                return False
            at = (at + 1) & mask
        slots[at] = mark
        self.count += 1
        if 2 * self.count > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.slots
        self.slots = array.array("Q", bytes(16 * len(old)))
        self.mask = 2 * len(old) - 1
        slots, mask = self.slots, self.mask
        for mark in old:
            if mark:
                at = mark & mask
                while slots[at]:
                    at = (at + 1) & mask
                slots[at] = mark


class OutOfOrder(Exception):
    """An optimistic read met a row out of parent-first order (where: file and line)."""

    def __init__(self, where: tuple[str, int], why: str) -> None:
        super().__init__(f"{Span(*where).prefix()}: {why}")
        self.where = where
        self.why = why


#: Where a row came from: (file, line). A plain tuple: one is kept per child row.
Where = tuple[str, int]


@dataclass(slots=True, eq=False)
class _Pending(Node[Where]):
    """A resource whose children are still coming. A child key given twice with different
    values is dropped from ``children.rows`` (its ``where`` kept): rules on it are unknown
    (``children.unread`` says why), never judged on one of the two rows."""

    ltype: str = ""  # the resource's lower-case type, compared with every child row's


_INFERRED = "(inferred from the resources of this subscription)"


def _inferred_subscription(sid: str | Unknown) -> Node[Where]:
    """A subscription as its resources' ids tell it, until (unless) its own row comes."""
    rid = f"/subscriptions/{segment_text(sid)}"
    return Node(rid, "Microsoft.Resources/subscriptions", _inferred_data(rid), Origin(_INFERRED))


def _inferred_data(rid: str) -> dict[str, Any]:
    sid = rid.rsplit("/", 1)[-1]
    return {"id": rid, "type": "Microsoft.Resources/subscriptions", "subscriptionId": sid, "name": sid}


def _child_key(data: dict[str, Any], rtype: str) -> ChildKey:
    return child_key(rtype, data["id"].rstrip("/").rsplit("/", 1)[-1])


#: Keys whose values Azure compares case-insensitively: two rows of one resource that differ
#: only in their case say the same thing (and a location only in its spelling: ``West Europe``
#: from the CLI is ``westeurope`` in Resource Graph).
_CASELESS = frozenset({"id", "name", "type", "resourcegroup", "subscriptionid", "location"})


def same_resource_data(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two rows of one resource say the same (ids, names, types and locations compared
    as Azure compares them)."""
    if a == b:
        return True
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if key.lower() in _CASELESS and isinstance(value, str) and isinstance(other, str):
            if value.replace(" ", "").lower() != other.replace(" ", "").lower():
                return False
        elif value != other:
            return False
    return True


class Assembler:
    """Feeds rows in, gets records out; see the module docstring for the two modes."""

    def __init__(self, wanted: Wanted, *, streaming: bool, optimistic: bool = False,
                 presorted: bool = False) -> None:
        self.wanted = wanted
        self.streaming = streaming
        #: Streaming without a header's promise: a row out of order raises OutOfOrder.
        self.optimistic = optimistic
        #: Streaming rows sorted on disk: a child away from its parent has no parent at all.
        self.presorted = presorted
        #: Optimistic: each resource's lower-case id, to see one given again further on.
        self.seen = SeenIds()
        self.stats = Stats()
        self.graph: Graph[Where] = Graph(_inferred_subscription)
        #: By lower-case subscription id: where its own row is, and (two of its rows disagreed)
        #: where the first was: it is then judged as if it had no row.
        self.subscription_rows: dict[str, Where] = {}
        self.subscription_conflicts: dict[str, Where] = {}
        self.pending: dict[str, _Pending] = {}
        self.orphans: dict[str, Children[Where]] = {}
        self.current: str | None = None
        #: Resources two of whose rows disagree (lower-case id -> where the first was): judged
        #: on neither; their children go with them.
        self.conflicted: dict[str, Where] = {}
        #: Streaming: by subscription, the types of the records already built with it.
        self.sealed: dict[str, set[str]] = {}
        self._skip_cache: dict[tuple[str, str, str, str], str | Assembler | None] = {}
        self._last_subscription = ("\0", "")  # (id prefix, subscription id) of the last row seen

    # -- subscriptions -------------------------------------------------------------------
    def _seen(self, rid: str) -> None:
        """Note the subscription of a row no rule reads: it still gets a record."""
        prefix, _ = self._last_subscription
        if not rid.startswith(prefix):  # most rows follow one of the same subscription
            sid = subscription_of(rid)
            if sid:
                self.graph.subscription(sid)
                self._last_subscription = (rid[:15 + len(sid) + 1], sid)

    def _check_unsealed(self, sub: Node[Where], key: ChildKey, row: Row, file: str) -> None:
        """A subscription-scope row that comes after records were built with its subscription
        is an error only if one of those records' rules reads it; later records get it."""
        sid = sub.id.rsplit("/", 1)[-1]
        late = sorted(t for t in self.sealed.get(sid.lower(), ()) if key in self.wanted.subscription_needs(t))
        if late and self.optimistic:
            raise OutOfOrder((file, row.line), "a subscription-level row after resources that read it")
        if late:
            raise InputError(
                f"subscription-level row for subscription {sid} comes after {', '.join(late)} "
                "resources of that subscription whose rules read it; a parent-first snapshot lists "
                "subscription data first (remove the header line to scan rows in any order)",
                Span(file, row.line),
            )
        sub.changed()  # rebuilt, with this row, for the records still to come

    def _subscription_row(self, sub: Node[Where], data: dict[str, Any], file: str, line: int) -> None:
        """The subscription's own row: its rules are evaluated at the end, whatever the order."""
        key = sub.id.lower()
        conflicted = self.subscription_conflicts.get(key)
        first = self.subscription_rows.get(key)
        if conflicted is not None:
            self._conflict(data["id"], conflicted, (file, line))
        elif first is None:
            sub.data, sub.origin = data, Origin(file, line)
            self.subscription_rows[key] = (file, line)
            sub.changed()
        elif self._same(SUBSCRIPTION_TYPE, sub.data, data):
            self._duplicate(data["id"], first, (file, line))
        else:
            self.subscription_conflicts[key] = first
            self._conflict(data["id"], first, (file, line))
            del self.subscription_rows[key]
            sub.data, sub.origin = _inferred_data(sub.id), Origin(_INFERRED)
            sub.changed()

    # -- duplicates ----------------------------------------------------------------------
    def _duplicate(self, rid: str, first: Where, again: Where) -> None:
        self.stats.note(Span(*again), f"{rid} again, saying what it says at {_at(first, again)} "
                                      "where the rules read: read once")

    def _conflict(self, rid: str, first: Where, again: Where) -> None:
        self.stats.add_error(InputProblem(
            Span(again[0], again[1], 1),
            f"{rid} is given twice with different values (here and at {_at(first, again)}; ids "
            "compare without case): neither row is used, so it is not judged on either", Unit.ROW, rid))

    def _same(self, ltype: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
        """Whether two rows of one resource say the same where the rules read (a timestamp no
        rule reads may differ between two exports of it)."""
        return same_resource_data(self.wanted.keep(ltype, a), self.wanted.keep(ltype, b))

    def _put(self, kids: Children[Where], key: ChildKey, data: dict[str, Any], where: Where) -> None:
        """Attach a related row; a second row for the same key must say the same."""
        first = kids.where.get(key)
        if first is None:
            kids.put(key, data, where)
        elif key not in kids.rows:  # a third row of a key already in conflict
            self._conflict(data["id"], where, where)
        elif self._same(key[0], kids.rows[key], data):
            self._duplicate(data["id"], first, where)
        else:
            self._conflict(data["id"], first, where)
            kids.drop(key)
            kids.unknown(key[0], f"two rows of {data['id']} disagree ({_at(first, where)} and "
                                 f"{_at(where, first)}): neither is used")

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
        rtype = (type_from_id(lid) or "").lower()
        if not rtype or rtype in self.wanted.targets or rtype == SUBSCRIPTION_TYPE:
            return None
        key = (rtype, lid.rstrip("/").rsplit("/", 1)[-1])
        if rtype.count("/") >= 2:
            wanted = rtype.rsplit("/", 1)[0] in self.wanted.targets and key in self.wanted.children
        else:
            wanted = key in self.wanted.subscription_children
        return None if wanted else rtype

    def _type(self, data: dict[str, Any], rid: str, lid: str, line: int, file: str) -> str:
        """The row's lower-case type: as given (whatever its case and surrounding spaces), or
        from the id. A type the id contradicts is an error of the row, not a type no rule reads;
        an id that names no type (not an ARM id) cannot contradict one, and the row is taken as
        its type says."""
        given = data.get("type")
        if given is None or given == "":
            return (type_from_id(rid) or "").lower()
        if not isinstance(given, str):
            raise InputError(f"'type' must be a string, found {given!r}", Span(file, line, 1))
        ltype = given.lower()
        if id_has_type(lid, ltype):
            return ltype
        ltype = ltype.strip()
        derived = (type_from_id(lid) or "").lower()
        if derived and derived != ltype:
            raise InputError(f"'type' {given!r} contradicts the id, which names a {type_from_id(rid)}",
                             Span(file, line, 1))
        if ltype != given.lower():
            data["type"] = given.strip()
        return ltype

    def feed(self, row: Row, file: str) -> Record | None:
        """Take one row; return the record it completes (streaming mode only)."""
        self.stats.rows += 1
        data = row.data
        rid: str = data["id"]
        if row.skipped:
            ltype = data["type"]
            self.stats.ignored[ltype] += 1
            self._seen(rid)
            return self._flush() if self.streaming and ltype.count("/") < 2 else None
        lid = rid.lower()
        given = data.get("type")
        ltype = given.lower() if given.__class__ is str else ""
        if ltype.count("/") >= 2 and self._attach(data, ltype, lid, (file, row.line)):
            return None
        ltype = self._type(data, rid, lid, row.line, file)
        sid = subscription_of(rid)
        sub = self.graph.subscription(sid) if sid else None
        if ltype.count("/") >= 2:
            self._child(data, ltype, lid, (file, row.line))
            return None
        if ltype == SUBSCRIPTION_TYPE:
            if sub is None:
                raise InputError(f"subscription row with a malformed id {rid!r}", Span(file, row.line))
            self._subscription_row(sub, data, file, row.line)
            return None
        if ltype not in self.wanted.targets:
            key = _child_key(data, ltype)
            if sub is not None and key in self.wanted.subscription_children and \
                    "/resourcegroups/" not in lid:
                # A subscription-scope resource such as Microsoft.Security/pricings/<plan>.
                self._check_unsealed(sub, key, row, file)
                self._subscription_child(sub, key, data, ltype, (file, row.line))
                return None
            self.stats.ignored[ltype or "(no type)"] += 1
            return self._flush() if self.streaming else None
        return self._resource(data, lid, ltype, sub, (file, row.line))

    def _subscription_child(self, sub: Node[Where], key: ChildKey, data: dict[str, Any], ltype: str,
                            where: Where) -> None:
        """Attach a subscription-scope row. A live scan annotates the row it could not read
        (a 403: the rules on it are ``unknown``) and the one it took from the platform default
        (a 404: the note goes to the evidence)."""
        note = data.pop(ANNOTATION, None) if ANNOTATION in data else None
        unread = pop_unread({ANNOTATION: note}) if note is not None else {}
        if unread:
            for rtype, why in unread.items():
                sub.children.unknown(rtype, why)
            sub.changed()
            return
        kept = self.wanted.keep(ltype, data)
        assumed = assumed_note({ANNOTATION: note}) if note is not None else None
        if assumed is not None:
            kept = {**kept, ANNOTATION: {"assumed": assumed}}
        self._put(sub.children, key, kept, where)

    def _resource(self, data: dict[str, Any], lid: str, ltype: str, sub: Node[Where] | None,
                  where: Where) -> Record | None:
        file, line = where
        listed = listed_types(data) if ANNOTATION in data else ()
        unread = pop_unread(data) if ANNOTATION in data else {}
        kept = data if self.streaming else self.wanted.keep(ltype, data)
        first = self.conflicted.get(lid)
        if first is not None:  # another row of a resource already in conflict
            self._conflict(data["id"], first, (file, line))
            return None
        pending = self.pending.get(lid)
        if pending is not None and (not self.streaming or lid == self.current):
            before = (pending.origin.file, pending.origin.line)
            if self._same(ltype, pending.data, kept):
                self._duplicate(data["id"], before, (file, line))
            else:
                self._conflict(data["id"], before, (file, line))
                self.conflicted[lid] = before
                del self.pending[lid]
                self.stats.resources[ltype] -= 1
                if self.current == lid:
                    self.current = None
            return None
        if self.optimistic and not self.seen.add(lid):
            raise OutOfOrder(where, "a resource given again further on")
        self.stats.resources[ltype] += 1
        done = None
        if self.streaming:
            done = self._flush()
            self.current = lid
        rid: str = data["id"]
        rtype = kept.get("type") or type_from_id(rid) or ""
        pending = self.pending[lid] = _Pending(rid, rtype, kept, Origin(file, line), unread=unread,
                                               subscription=sub, ltype=ltype)
        orphans = self.orphans.pop(lid, None)
        if orphans is not None:  # children that came first (checked for duplicates already)
            pending.children = orphans
        for listed_type in listed:  # listed in full: none of them in the input means none
            pending.children.rows[listed_key(listed_type)] = {}
        return done

    def _attach(self, data: dict[str, Any], ltype: str, lid: str, where: Where) -> bool:
        """The quick way for a child row whose parent is held: the parent's id and type were
        checked, so the child's type is checked by its last segment. False: not taken."""
        at = lid.rfind("/")
        cut = lid.rfind("/", 0, at)
        pending = self.pending.get(lid[:cut])
        if pending is None or (self.streaming and lid[:cut] != self.current) or at == len(lid) - 1:
            return False
        parent_type, _, last = ltype.rpartition("/")
        if parent_type != pending.ltype or lid[cut + 1:at] != last:
            return False
        key = (ltype, lid[at + 1:])
        if key not in self.wanted.children:
            self.stats.ignored[ltype] += 1
        else:
            self._put(pending.children, key, data if self.streaming else self.wanted.keep(ltype, data), where)
        return True

    def _child(self, data: dict[str, Any], ltype: str, lid: str, where: Where) -> None:
        key = _child_key(data, ltype)
        if ltype.rsplit("/", 1)[0] not in self.wanted.targets or key not in self.wanted.children:
            self.stats.ignored[ltype] += 1
            return
        if not self.streaming:
            data = self.wanted.keep(ltype, data)
        parent = parent_id(lid)
        if parent in self.conflicted:
            return  # its parent is an input error, which covers it
        pending = self.pending.get(parent)
        if pending is not None and (not self.streaming or parent == self.current):
            self._put(pending.children, key, data, where)
            return
        if self.optimistic:
            raise OutOfOrder(where, "a child row away from its parent")
        if self.streaming:
            self.stats.orphans += 1
            if self.stats.orphans <= MAX_EXAMPLES:
                message = (f"{key[0]} row '{key[1]}' has no parent {parent} in the input" if self.presorted
                           else f"{ltype} row whose parent {parent_id(data['id'])} does not "
                                "come right before it: not attached (parent-first order)")
                self.stats.note(Span(*where), message)
            return
        self._put(self.orphans.setdefault(parent, Children()), key, data, where)

    def _flush(self) -> Record | None:
        """Streaming: the current resource is complete (its record is built with its
        subscription's, which no later row that its rules read may change)."""
        if self.current is None:
            return None
        pending = self.pending.pop(self.current)
        self.current = None
        sub = pending.subscription
        if sub is not None:
            self.sealed.setdefault(sub.id[15:].lower(), set()).add(pending.ltype)
        return pending.record()

    def finish(self) -> Iterator[Record]:
        """The records still held (all of them in buffered mode, sorted by id), then one
        record per subscription seen, if a rule targets subscriptions."""
        last = self._flush()
        if last is not None:
            yield last
        for lid in sorted(self.pending):
            yield self.pending.pop(lid).record()
        for parent, kids in sorted(self.orphans.items()):
            if parent in self.conflicted:
                continue  # their parent is an input error, which covers them
            for key, where in kids.where.items():
                if key not in kids.rows:
                    continue  # two of its rows disagreed, an input error
                self.stats.orphans += 1
                if self.stats.orphans <= MAX_EXAMPLES:
                    self.stats.note(Span(*where),
                                    f"{key[0]} row '{key[1]}' has no parent {parent} in the input")
        self.orphans.clear()
        if self.stats.orphans > MAX_EXAMPLES:
            self.stats.notes.append(f"{self.stats.orphans} child rows in all had no parent")
        if self.wanted.subscriptions:
            subscriptions = self.graph.subscriptions
            for lsid in sorted(subscriptions):
                self.stats.resources[SUBSCRIPTION_TYPE] += 1
                yield subscriptions[lsid].record()


def assemble(inputs: Iterable[Input], wanted: Wanted, stats: Stats | None = None,
             order: Order = Order.BUFFERED) -> Iterator[Record]:
    """Records from every input, attached across inputs (a pricing in one file applies to
    the servers of another). Streams when there is one parent-first snapshot; otherwise as
    ``order`` says (see the module docstring)."""
    inputs = list(inputs)
    if len(inputs) == 1 and inputs[0].header.get("order") == PARENT_FIRST:
        order = Order.BUFFERED  # the header's promise: streamed, strictly
        assembler = Assembler(wanted, streaming=True)
    elif order is Order.OPTIMISTIC and len(inputs) == 1:
        assembler = Assembler(wanted, streaming=True, optimistic=True)
    elif order is Order.SORTED:
        assembler = Assembler(wanted, streaming=True, presorted=True)
    else:
        assembler = Assembler(wanted, streaming=False)
    if stats is not None:
        assembler.stats = stats
    log = assembler.stats
    if order is Order.SORTED:
        from policyengine.records.spill import sorted_rows

        feed = assembler.feed
        for name, row in sorted_rows(inputs, assembler.skippable, log, feed):
            try:
                record = feed(row, name)
            except InputError as exc:
                log.add_error(InputProblem.of(exc, Unit.ROW, file=name))
                continue
            if record is not None:
                yield record
    else:
        for inp in inputs:
            yield from _read(inp, assembler, log)
    yield from assembler.finish()


def _read(inp: Input, assembler: Assembler, log: Stats) -> Iterator[Record]:
    """One input's rows fed in order; a bad row is an error of its own, a read that cannot
    go on ends this input only."""
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
    collect_messages(inp, log)


def collect_messages(inp: Input, log: Stats) -> None:
    """What the reader said about an input (bad rows, notes), into the scan's log."""
    log.errors += inp.problems
    log.notes += inp.notes
    inp.problems.clear()
    inp.notes.clear()



def _at(where: Where, other: Where) -> str:
    """``line N`` in the same file as ``other``, ``file:N`` in another."""
    return f"line {where[1]}" if where[0] == other[0] else Span(*where).prefix()
