"""Normalised resource records: the ARM shape of a resource plus its related data and where
it came from. Every source (export, snapshot, live scan, template, plan) produces these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policyengine.ir import SourceKind

SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"

ChildKey = tuple[str, str]
"""A child or subscription-scope resource, indexed by lower-case (type, name)."""


@dataclass(frozen=True)
class Origin:
    """Where a record came from: the input file and line, and whether it was observed
    (actual state) or declared (desired state)."""

    file: str
    line: int = 0
    kind: SourceKind = SourceKind.OBSERVED
    address: str | None = None  # a template's resource or a plan's address, where there is one


@dataclass(frozen=True, eq=False)
class Record:
    """One resource as the evaluator sees it.

    ``children`` holds the related child resources found in the input (``None``: read, and
    known not to exist); ``unread`` says, by
    lower-case child type, why children of that type could not be read (a live scan's 403,
    say). ``subscription`` is the record of the resource's subscription, whose ``children``
    hold subscription-scope resources such as the Defender pricings.
    """

    id: str
    type: str
    data: Mapping[str, Any]
    origin: Origin
    children: Mapping[ChildKey, Mapping[str, Any] | None] = field(default_factory=dict)
    unread: Mapping[str, str] = field(default_factory=dict)
    subscription: Record | None = None

    @property
    def subscription_id(self) -> str | None:
        return subscription_of(self.id)


def subscription_of(resource_id: str) -> str | None:
    """The subscription GUID in an ARM id, or None for ids outside a subscription."""
    parts = resource_id.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions" and parts[2]:
        return parts[2]
    return None


def type_from_id(resource_id: str) -> str | None:
    """``/subscriptions/s/resourceGroups/g/providers/NS/t1/n1/t2/n2`` -> ``NS/t1/t2``."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        if len(parts) == 2 and lowered[0] == "subscriptions":
            return "Microsoft.Resources/subscriptions"
        if len(parts) == 4 and lowered[2] == "resourcegroups":
            return "Microsoft.Resources/resourceGroups"
        return None
    at = len(lowered) - 1 - lowered[::-1].index("providers")
    rest = parts[at + 1:]
    if len(rest) < 3 or len(rest) % 2 == 0:
        return None
    namespace, pairs = rest[0], rest[1:]
    return "/".join([namespace, *pairs[0::2]])


def parent_id(resource_id: str) -> str:
    """The id of a child resource's parent (the id without its last type/name pair)."""
    return resource_id.rstrip("/").rsplit("/", 2)[0]


def is_child_type(resource_type: str) -> bool:
    return resource_type.count("/") >= 2
