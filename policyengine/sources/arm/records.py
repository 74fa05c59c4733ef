"""Expanded template resources → records, the shape every rule reads.

A child resource (``configurations``, ``advancedThreatProtectionSettings``,
``securityAlertPolicies``) attaches to its parent by resolved name, wherever and however it
is declared: nested, top level, in a copy loop, in a nested deployment. A child whose parent
the template does not deploy (a template that only changes ``require_secure_transport`` on an
existing server) still reaches the rules: its parent becomes a record whose other settings
are unknown, because they live in Azure, not in the template. A subscription-scope
``Microsoft.Security/pricings`` goes to the record of the subscription it is deployed to;
that record is evaluated only when the template declares something for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policyengine.errors import Span
from policyengine.ir import SourceKind
from policyengine.records.graph import Graph, Node, child_key
from policyengine.records.model import SUBSCRIPTION_TYPE, ChildKey, Locator, Origin, Record
from policyengine.sources.arm.expand import Expanded, Expansion, names_key
from policyengine.sources.arm.rejected import DEPLOYMENTS, REJECTS, Rejected
from policyengine.sources.jsonpos import JArray, JObject, span_at, span_of
from policyengine.status import InputProblem, Unit
from policyengine.unknown import Unknown, segment_text

#: Subscription-scope types a template may declare (the catalog's scope: subscription).
SUBSCRIPTION_SCOPED = {"microsoft.security/pricings", "microsoft.security/securitycontacts"}
PRICINGS = "microsoft.security/pricings"

Key = tuple[str, tuple[str, ...]]

#: A resource being built; where each child came from is its JSON node in the template, so a
#: finding can say where a value is set.
_Building = Node[Any]


@dataclass(frozen=True)
class TemplateRecords:
    """What one expanded template yields: its records, and the input errors and notes that
    building them found (a resource declared twice, a child whose parent ARM rejects)."""

    records: list[Record]
    problems: list[InputProblem]
    notes: list[str]


def template_records(expansion: Expansion) -> TemplateRecords:
    """The records of one expanded template, in the order their resources are declared.

    A resource declared twice is an input error, as ARM rejects it, unless a condition known
    only at deployment guards one of the declarations: then each is judged (a server), or the
    value is unknown (a child: which declaration deploys decides it). A resource ARM rejects
    (:attr:`Expansion.rejected`) is not judged; what it would set on another is unknown."""
    return _Builder(expansion).build()


class _Builder:
    def __init__(self, expansion: Expansion) -> None:
        self.expansion = expansion
        self.file = expansion.file
        #: Resources by type and resolved name: a child finds its parent by name, which may be
        #: known only at deployment, so not by id.
        self.building: dict[Key, _Building] = {}
        self.declared: dict[Key, Expanded] = {}
        self.graph: Graph[Any] = Graph(self._new_subscription)
        self.order: list[_Building] = []
        #: Declared twice (ARM rejects it): an input error, not a record.
        self.dropped: set[_Building] = set()
        self.problems: list[InputProblem] = []
        self.notes: list[str] = []
        #: Resources ARM rejects, by type and name where those could be told.
        self.rejected: dict[Key, Rejected] = {
            (rej.type.lower(), names_key(rej.names)): rej for rej in expansion.rejected
            if rej.type is not None and rej.names is not None}

    def build(self) -> TemplateRecords:
        deployed = [r for r in self.expansion.resources if not r.existing and r.type.lower() != DEPLOYMENTS]
        # A rejected child still tells its parent something: that the child's value is unknown.
        deployed += [_unknown_child(rej) for rej in self.rejected.values() if _sets_another(rej)]
        for res in sorted(deployed, key=lambda r: r.type.count("/")):  # parents before children
            self.add(res)
        for rej in self.expansion.rejected:
            self.reach(rej)
        records = [built.record() for built in self.order if built not in self.dropped]
        records.extend(self.graph.declared())
        return TemplateRecords(records, self.problems, self.notes)

    def _new_subscription(self, subscription: str | Unknown) -> _Building:
        sid = "/subscriptions/" + segment_text(subscription)
        data = {"id": sid, "type": SUBSCRIPTION_TYPE, "subscriptionId": subscription}
        sub: _Building = Node(sid, SUBSCRIPTION_TYPE, data, Origin(self.file, 0, SourceKind.DECLARED))
        sub.locate = _locator(None, sub.children.where)
        return sub

    def subscription_of(self, subscription: str | Unknown, res: Expanded | None = None) -> _Building:
        sub = self.graph.subscription(subscription)
        if res is not None and not sub.origin.line:
            # A template never declares a subscription; it declares resources in one (the
            # Defender pricings). The first of them is where the record comes from; the
            # evidence of a finding points at the pricing that decided it.
            span = res.span or Span(self.file)
            sub.origin = Origin(self.file, span.line, SourceKind.DECLARED, res.address, span.col)
        return sub

    def new(self, res: Expanded, data: dict[str, Any], unread: dict[str, str]) -> _Building:
        span = res.span or Span(self.file)
        origin = Origin(self.file, span.line, SourceKind.DECLARED, res.address, span.col)
        built: _Building = Node(str(data["id"]), str(data["type"]), data, origin, unread=unread,
                                subscription=self.subscription_of(res.subscription))
        built.locate = _locator(res.node, built.children.where)
        self.building[(res.type.lower(), names_key(res.names))] = built
        self.order.append(built)
        return built

    def add(self, res: Expanded) -> None:
        ltype = res.type.lower()
        key = (ltype, names_key(res.names))
        first = self.declared.setdefault(key, res)
        twice = first is not res
        if twice and first.condition is None and res.condition is None:
            self.declared_twice(res, first)
            if ltype not in SUBSCRIPTION_SCOPED and res.type.count("/") < 2:
                return
        if ltype in SUBSCRIPTION_SCOPED:
            sub = self.subscription_of(res.subscription, res)
            sub.children.put((ltype, key[1][-1]), _child_data(res, first if twice else None), res.node)
            return
        if res.type.count("/") < 2:
            self.new(res, _data(res), {})
            return
        parent_type = res.type.rsplit("/", 1)[0]
        parent_key = (parent_type.lower(), names_key(res.names[:-1]))
        if parent_key in self.rejected and parent_key not in self.building:
            rej = self.rejected[parent_key]
            self.notes.append(f"{(res.span or Span(self.file)).prefix()}: {res.address} is not judged: it "
                              f"belongs to {rej.address}, which ARM rejects ({rej.span.prefix()})")
            return
        parent = self.building.get(parent_key)
        if parent is None:
            parent = self.new(_parent_of(res, parent_type), _bare(res, parent_type), {
                "*": f"the template changes this {parent_type.split('/')[-1][:-1]} but does not deploy it: "
                     "its other settings are in Azure, not in the template"})
        child = res.names[-1]
        if isinstance(child, Unknown):
            parent.unread.setdefault(ltype, f"the template declares a {res.type.split('/')[-1]} named "
                                            f"[{child.text}], known only at deployment ({child.reason})")
            return
        parent.children.put(child_key(ltype, child), _child_data(res, first if twice else None), res.node)

    def declared_twice(self, res: Expanded, first: Expanded) -> None:
        """ARM rejects a template that defines a resource twice: an input error of that
        resource. A server (or any resource judged on its own) is then not judged; a child
        is unknown on its parent, which still is."""
        name = "/".join(segment_text(n) for n in res.names)
        child = res.type.lower() in SUBSCRIPTION_SCOPED or res.type.count("/") >= 2
        outcome = ("what it sets is unknown; the rest of the template is judged" if child
                   else "neither declaration is judged; the rest of the template is")
        self.problems.append(InputProblem(
            res.span or Span(self.file),
            f"{REJECTS}: {res.type} '{name}' is declared twice (first as {first.address} at "
            f"{(first.span or Span(self.file)).prefix()}); {outcome}", Unit.RESOURCE, res.address))
        if not child:
            built = self.building.get((res.type.lower(), names_key(res.names)))
            if built is not None:
                self.dropped.add(built)

    def reach(self, rej: Rejected) -> None:
        """Make unknown what ``rej`` may have set on the records that are judged."""
        own = rej.type.lower() if rej.type is not None else None
        types = set(rej.reach) if rej.reach is not None else {"*"}
        if own is not None and _sets_another(rej):
            types.discard(own)  # already a child of unknown value (see build)
        elif own is not None and rej.parent is not None and own.rsplit("/", 1)[0] == rej.parent.type.lower():
            parent = self.building.get((rej.parent.type.lower(), names_key(rej.parent.names)))
            if parent is not None:
                parent.unread.setdefault(own, f"{_short(rej.type)} may be set by {rej.why()}")
            types.discard(own)
        for rtype in sorted(types):
            if rtype == "*":
                for built in self.order:
                    built.unread.setdefault("*", f"{rej.why()} may set anything on this resource")
                for sub in self.graph.subscriptions.values():
                    sub.unread.setdefault(PRICINGS, f"pricings may be set by {rej.why()}")
            elif rtype == PRICINGS:
                self.subscription_of(rej.subscription).unread.setdefault(
                    PRICINGS, f"pricings may be set by {rej.why()}")
            elif rtype.count("/") >= 2:
                parent_type = rtype.rsplit("/", 1)[0]
                for key, built in self.building.items():
                    if key[0] == parent_type:
                        built.unread.setdefault(rtype, f"{_short(rtype)} may be set by {rej.why()}")


def _short(rtype: str | None) -> str:
    """``flexibleServers/configurations`` of ``Microsoft.DBforPostgreSQL/flexibleServers/configurations``."""
    return (rtype or "?").split("/", 1)[-1]


def _sets_another(rej: Rejected) -> bool:
    """Whether ``rej`` is a child (or a subscription-scope resource) whose full name is known:
    it then names exactly what it would set."""
    if rej.type is None or rej.names is None:
        return False
    return rej.type.lower() in SUBSCRIPTION_SCOPED or rej.type.count("/") >= 2


def _unknown_child(rej: Rejected) -> Expanded:
    """A rejected child as its parent sees it: there, but with its settings unknown."""
    assert rej.type is not None and rej.names is not None
    body = {"properties": Unknown(f"[{rej.address}]", f"set by {rej.why()}")}
    name = "/".join(segment_text(n) for n in rej.names)
    return Expanded(rej.type, rej.names, name, body, rej.node, rej.address, span_of(rej.node) or rej.span,
                    rej.subscription, rej.group)


def _locator(node: Any, child_nodes: Mapping[ChildKey, Any]) -> Locator:
    def locate(key: ChildKey | None, segments: tuple[str | int, ...]) -> str | None:
        where = node if key is None else child_nodes.get(key)
        return where_set(where, segments)

    return locate


def where_set(node: Any, segments: tuple[str | int, ...]) -> str | None:
    """``file:line:col`` of the deepest part of ``segments`` written in the template: the value
    itself, or the expression that builds it."""
    found: Span | None = None
    for seg in segments:
        if isinstance(node, JObject) and isinstance(seg, str):
            match = seg if seg in node else next((k for k in node if k.lower() == seg.lower()), None)
            if match is None:
                break
            found, node = span_at(node, match), node[match]
        elif isinstance(node, JArray) and isinstance(seg, int) and seg < len(node):
            found, node = span_at(node, seg), node[seg]
        else:
            break
    return found.prefix() if found is not None else None


def _data(res: Expanded) -> dict[str, Any]:
    data = dict(res.body)
    data["id"], data["name"], data["type"] = res.id, res.names[-1], res.type
    return data


def _child_data(res: Expanded, other: Expanded | None) -> dict[str, Any]:
    """A child's data; with ``other``, a second declaration under a condition known only at
    deployment, its properties are unknown: which declaration deploys decides them."""
    data = _data(res)
    if other is not None:
        data["properties"] = Unknown(f"[{other.address}] or [{res.address}]", "declared twice under "
                                     "conditions known only at deployment: which one deploys decides it")
    return data


def _parent_of(res: Expanded, parent_type: str) -> Expanded:
    return Expanded(parent_type, res.names[:-1], "/".join(segment_text(n) for n in res.names[:-1]),
                    {}, res.node, res.address, res.span or span_of(res.node), res.subscription, res.group)


def _bare(res: Expanded, parent_type: str) -> dict[str, Any]:
    parent = _parent_of(res, parent_type)
    # Only what the template says: the name. Its runtime state and settings live in Azure; its
    # children the template does not declare are marked unread, so rules on them are unknown.
    return {"id": parent.id, "name": parent.names[-1], "type": parent_type}
