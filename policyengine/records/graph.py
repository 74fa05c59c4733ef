"""The parent/child/subscription graph every source builds before it has records.

An export, a template and a plan each find a child's parent their own way (by id, by resolved
name, by reference), and each has its own rules for a resource given twice. What they share
stands here once (docs/architecture.md, "Sources"): a resource being built (:class:`Node`),
its children by lower-case ``(type, name)`` with where each came from and why a type could
not be read (:class:`Children`), the subscriptions by lower-case id (:class:`Graph`), and the
one way a node becomes a :class:`Record` pointing to its subscription's record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from policyengine.records.model import ChildKey, Locator, Origin, Record
from policyengine.unknown import Unknown, segment_text

#: Where a child came from, as the source knows it: an export's (file, line), a template's
#: JSON node (for ``file:line:col`` of a value), a plan's resource address.
W = TypeVar("W")


def child_key(ltype: str, name: str) -> ChildKey:
    """The key a child is held under: its lower-case type and name (ARM compares both
    without case)."""
    return (ltype.lower(), name.lower())


@dataclass(slots=True)
class Children(Generic[W]):
    """The children of one resource or subscription: their data by key, where each came
    from, and by lower-case child type why children of that type cannot be told (the first
    reason given stands; rules on that type are then unknown, never judged on a default)."""

    rows: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)
    where: dict[ChildKey, W] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)

    def put(self, key: ChildKey, data: dict[str, Any], where: W) -> None:
        """Attach ``data`` under ``key`` (replacing what was there: the caller decides what
        a second declaration means)."""
        self.rows[key] = data
        self.where[key] = where

    def drop(self, key: ChildKey) -> None:
        """Stop using the child under ``key`` (two of its declarations disagree, say); where
        it came from is kept, so a third declaration is known for one."""
        del self.rows[key]

    def unknown(self, ltype: str, why: str) -> None:
        """Children of ``ltype`` cannot be told, because of ``why`` (unless already said)."""
        self.unread.setdefault(ltype, why)


@dataclass(slots=True, eq=False)
class Node(Generic[W]):
    """A resource (or a subscription) being built: its data and origin, its children, why
    parts of it cannot be read (``unread``, by lower-case child type; ``*`` for all) and the
    node of its subscription. :meth:`record` makes the :class:`Record` the rules read."""

    id: str
    type: str
    data: dict[str, Any]
    origin: Origin
    children: Children[W] = field(default_factory=Children)
    unread: dict[str, str] = field(default_factory=dict)
    subscription: Node[W] | None = None
    locate: Locator | None = None
    #: The record once built: a subscription's is shared by the records of its resources.
    built: Record | None = None

    def record(self) -> Record:
        """This node's record (built once: call :meth:`changed` after changing the node),
        pointing to its subscription's record. The resource's own ``unread`` wins over what
        its children say, as the source annotated it."""
        if self.built is None:
            subscription = self.subscription.record() if self.subscription is not None else None
            kids = self.children
            unread = {**kids.unread, **self.unread} if kids.unread else dict(self.unread)
            self.built = Record(self.id, self.type, self.data, self.origin, dict(kids.rows), unread,
                                subscription, self.locate)
        return self.built

    def changed(self) -> None:
        """The node changed after its record was built: the records built from now on see it."""
        self.built = None

    @property
    def declares(self) -> bool:
        """Whether the input says anything about this node's children (a subscription of a
        template or plan is judged only then: creating servers says nothing of its pricings)."""
        return bool(self.children.rows or self.children.unread or self.unread)


class Graph(Generic[W]):
    """The subscriptions of one input, by lower-case id, each created on first sight by the
    source's ``new_subscription`` (given the subscription id, a GUID or an expression known
    only at deployment, it says what the subscription's data and origin are until the input
    says more)."""

    def __init__(self, new_subscription: Callable[[str | Unknown], Node[W]]) -> None:
        self.new_subscription = new_subscription
        self.subscriptions: dict[str, Node[W]] = {}

    def subscription(self, sid: str | Unknown) -> Node[W]:
        """The node of subscription ``sid``, made once (ids compare without case)."""
        key = segment_text(sid).lower()
        sub = self.subscriptions.get(key)
        if sub is None:
            sub = self.subscriptions[key] = self.new_subscription(sid)
        return sub

    def declared(self) -> Iterator[Record]:
        """The records of the subscriptions the input says something about, first seen first."""
        return (sub.record() for sub in self.subscriptions.values() if sub.declares)
