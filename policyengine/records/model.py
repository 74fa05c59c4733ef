"""Normalised resource records: the ARM shape of a resource plus its related data and where
it came from. Every source (export, snapshot, live scan, template, plan) produces these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policyengine.ir import EVERY, SourceKind
from policyengine.unknown import Unknown, segment_text

SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"
#: The key under which a live scan or a snapshot annotates a resource row (what could not be
#: read, and why). Resource Graph and ARM rows never have it.
ANNOTATION = "$policyengine"

ChildKey = tuple[str, str]
"""A child or subscription-scope resource, indexed by lower-case (type, name)."""

Locator = Callable[[ChildKey | None, tuple[str | int, ...]], str | None]


@dataclass(frozen=True)
class Origin:
    """Where a record came from: the input file and line, and whether it was observed
    (actual state) or declared (desired state)."""

    file: str
    line: int = 0
    kind: SourceKind = SourceKind.OBSERVED
    address: str | None = None  # a template's resource or a plan's address, where there is one
    column: int = 0


@dataclass(frozen=True, eq=False)
class Record:
    """One resource as the evaluator sees it.

    ``children`` holds the related child resources found in the input (``None``: read, and
    known not to exist; under :func:`listed_key`, every child of that type was listed, so
    none in the input means none); ``unread`` says, by
    lower-case child type, why children of that type could not be read (a live scan's 403,
    say; ``*``: any type, for a server a template changes but does not deploy).
    ``subscription`` is the record of the resource's subscription, whose ``children``
    hold subscription-scope resources such as the Defender pricings.
    """

    id: str
    type: str
    data: Mapping[str, Any]
    origin: Origin
    children: Mapping[ChildKey, Mapping[str, Any] | None] = field(default_factory=dict)
    unread: Mapping[str, str] = field(default_factory=dict)
    subscription: Record | None = None
    #: For a template: where in the file a value is set (child key or None for the resource
    #: itself, path segments) -> ``file:line:col``. None for sources without lines.
    locate: Locator | None = None
    subscription_id: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subscription_id", subscription_of(self.id))


def subscription_of(resource_id: str) -> str | None:
    """The subscription GUID in an ARM id, or None for ids outside a subscription."""
    if resource_id[:15].lower() != "/subscriptions/":
        return None
    end = resource_id.find("/", 15)
    return (resource_id[15:end] if end > 0 else resource_id[15:]) or None


def type_from_id(resource_id: str) -> str | None:
    """``/subscriptions/s/resourceGroups/g/providers/NS/t1/n1/t2/n2`` -> ``NS/t1/t2``, in the
    id's own case; ``Microsoft.Resources/subscriptions`` and ``…/resourceGroups`` for the ids
    that do not spell their type. Compare it lower-cased, as ARM compares types."""
    at = resource_id.lower().rfind("/providers/")
    if at < 0:
        parts = resource_id.strip("/").split("/")
        if len(parts) == 2 and parts[0].lower() == "subscriptions":
            return "Microsoft.Resources/subscriptions"
        if len(parts) == 4 and parts[2].lower() == "resourcegroups":
            return "Microsoft.Resources/resourceGroups"
        return None
    rest = resource_id[at + 11:].rstrip("/").split("/")
    if len(rest) < 3 or len(rest) % 2 == 0 or not all(rest):
        return None
    return rest[0] + "/" + "/".join(rest[1::2])


def id_has_type(lid: str, ltype: str) -> bool:
    """Whether the lower-case id ``lid`` names a resource of the lower-case type ``ltype``: a
    quicker test than comparing with :func:`type_from_id` (it is made for every row read), and
    False wherever that one must decide (subscriptions, trailing slashes)."""
    segments = ltype.split("/")
    if len(segments) < 2:
        return False
    parts = lid.rsplit("/", 2 * len(segments) - 1)
    return (len(parts) == 2 * len(segments) and parts[0][-10:] == "/providers" and parts[1] == segments[0]
            and parts[2::2] == segments[1:] and all(parts[3::2]))


def parent_id(resource_id: str) -> str:
    """The id of a child resource's parent (the id without its last type/name pair)."""
    return resource_id.rstrip("/").rsplit("/", 2)[0]




def pop_unread(data: dict[str, Any]) -> dict[str, str]:
    """Take a row's annotation off it: lower-case child type -> why it was not read."""
    note = data.pop(ANNOTATION, None)
    unread = note.get("unread") if isinstance(note, dict) else None
    if not isinstance(unread, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in unread.items()}


def listed_key(ltype: str) -> ChildKey:
    """The key that says every child of the (lower-case) type ``ltype`` was listed."""
    return (ltype, EVERY)


def element_name(data: Any) -> str:
    """A related resource's name: its ``name``, else the last segment of its id."""
    if not isinstance(data, Mapping):
        return ""
    name = data.get("name")
    if isinstance(name, str) and name:
        return name
    rid = data.get("id")
    return rid.rstrip("/").rsplit("/", 1)[-1] if isinstance(rid, str) else ""


def listed_types(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The child types (lower case) a live scan listed in full for this resource row, so that
    none of them in the input means there is none (a server without firewall rules)."""
    note = data.get(ANNOTATION) if ANNOTATION in data else None
    listed = note.get("listed") if isinstance(note, dict) else None
    return tuple(str(t).lower() for t in listed) if isinstance(listed, list) else ()


def assumed_note(data: Mapping[str, Any]) -> str | None:
    """The note on a related row that a live scan made up from the platform default (ARM
    answered 404 for a resource Azure always has), for the evidence; None for a row read."""
    note = data.get(ANNOTATION) if ANNOTATION in data else None
    assumed = note.get("assumed") if isinstance(note, dict) else None
    return assumed if isinstance(assumed, str) else None


def declared_id(subscription: str | Unknown, group: str | Unknown | None, resource_type: str,
                names: Sequence[str | Unknown]) -> str:
    """The ARM id of a resource a template or plan declares; a part known only at deployment
    shows as ``[expression]`` (``/subscriptions/[subscription().subscriptionId]/...``).

    ``names`` are the name segments (``server``, ``server/child``: one per type segment)."""
    types = resource_type.split("/")
    if len(types) - 1 != len(names):
        raise ValueError(f"{resource_type} needs {len(types) - 1} name segments, got {len(names)}")
    out = "/subscriptions/" + segment_text(subscription)
    if group is not None:
        out += "/resourceGroups/" + segment_text(group)
    out += "/providers/" + types[0]
    for rtype, name in zip(types[1:], names, strict=True):
        out += f"/{rtype}/{segment_text(name)}"
    return out
