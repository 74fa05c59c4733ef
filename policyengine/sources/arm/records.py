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
from dataclasses import dataclass, field
from typing import Any

from policyengine.errors import Span
from policyengine.ir import SourceKind
from policyengine.records.model import SUBSCRIPTION_TYPE, ChildKey, Origin, Record
from policyengine.sources.arm.expand import DEPLOYMENTS, Expanded, Expansion, names_key
from policyengine.sources.arm.scope import TemplateError
from policyengine.sources.jsonpos import JArray, JObject, span_at, span_of
from policyengine.unknown import Unknown, segment_text

SUBSCRIPTION_SCOPED = {"microsoft.security/pricings"}


@dataclass
class _Building:
    data: dict[str, Any]
    origin: Origin
    node: Any
    children: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)
    child_nodes: dict[ChildKey, Any] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)
    subscription: str = ""


def template_records(expansion: Expansion) -> list[Record]:
    """The records of one expanded template, in the order their resources are declared.

    A resource declared twice is an error, as ARM rejects it, unless a condition known only at
    deployment guards one of the declarations: then each is judged (a server), or the value is
    unknown (a child: which declaration deploys decides it)."""
    file = expansion.file
    building: dict[tuple[str, tuple[str, ...]], _Building] = {}
    declared: dict[tuple[str, tuple[str, ...]], Expanded] = {}
    subscriptions: dict[str, _Building] = {}
    order: list[_Building] = []

    def subscription_of(res: Expanded) -> _Building:
        sid = "/subscriptions/" + segment_text(res.subscription)
        sub = subscriptions.get(sid.lower())
        if sub is None:
            data = {"id": sid, "type": SUBSCRIPTION_TYPE, "subscriptionId": res.subscription}
            sub = subscriptions[sid.lower()] = _Building(data, Origin(file, 0, SourceKind.DECLARED), None)
        return sub

    def add(res: Expanded, data: dict[str, Any], unread: dict[str, str]) -> _Building:
        span = res.span or Span(file)
        built = _Building(data, Origin(file, span.line, SourceKind.DECLARED, res.address, span.col),
                          res.node, unread=unread)
        built.subscription = str(subscription_of(res).data["id"]).lower()
        building[(res.type.lower(), names_key(res.names))] = built
        order.append(built)
        return built

    deployed = [r for r in expansion.resources if not r.existing and r.type.lower() != DEPLOYMENTS]
    for res in sorted(deployed, key=lambda r: r.type.count("/")):  # parents before children
        ltype = res.type.lower()
        first = declared.setdefault((ltype, names_key(res.names)), res)
        twice = first is not res
        if twice and first.condition is None and res.condition is None:
            raise TemplateError(f"{res.type} '{'/'.join(segment_text(n) for n in res.names)}' is declared "
                                f"twice (first as {first.address} at {(first.span or Span(file)).prefix()}); "
                                "ARM rejects a template that defines a resource more than once",
                                res.span or Span(file))
        if ltype in SUBSCRIPTION_SCOPED:
            sub = subscription_of(res)
            sub.children[(ltype, names_key(res.names)[-1])] = _child_data(res, first if twice else None)
            sub.child_nodes[(ltype, names_key(res.names)[-1])] = res.node
            continue
        if res.type.count("/") < 2:
            add(res, _data(res), {})
            continue
        parent_type = res.type.rsplit("/", 1)[0]
        parent_key = (parent_type.lower(), names_key(res.names[:-1]))
        parent = building.get(parent_key)
        if parent is None:
            parent = add(_parent_of(res, parent_type), _bare(res, parent_type), {
                "*": f"the template changes this {parent_type.split('/')[-1][:-1]} but does not deploy it: "
                     "its other settings are in Azure, not in the template"})
        child = res.names[-1]
        if isinstance(child, Unknown):
            parent.unread.setdefault(ltype, f"the template declares a {res.type.split('/')[-1]} named "
                                            f"[{child.text}], known only at deployment ({child.reason})")
            continue
        parent.children[(ltype, child.lower())] = _child_data(res, first if twice else None)
        parent.child_nodes[(ltype, child.lower())] = res.node
    records: list[Record] = []
    subs = {key: _record(sub, None) for key, sub in subscriptions.items()}
    for built in order:
        records.append(_record(built, subs.get(built.subscription)))
    records.extend(rec for key, rec in subs.items() if subscriptions[key].children)
    return records


def _record(built: _Building, subscription: Record | None) -> Record:
    data = built.data
    nodes = dict(built.child_nodes)
    node = built.node
    return Record(str(data["id"]), str(data["type"]), data, built.origin, dict(built.children),
                  dict(built.unread), subscription, _locator(node, nodes))


def _locator(node: Any, child_nodes: Mapping[ChildKey, Any]) -> Any:
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
