"""What the selected rules read, so that readers keep only that (docs/architecture.md, "Sources")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policyengine.paths import Projection, project
from policyengine.records.model import SUBSCRIPTION_TYPE, ChildKey, listed_key


class Keys(frozenset[ChildKey]):
    """Related resources by lower-case (type, name), where the name ``*`` stands for every
    resource of its type (a rule that reads a server's firewall rules wants them all)."""

    def __contains__(self, key: object) -> bool:
        if super().__contains__(key):
            return True
        return isinstance(key, tuple) and len(key) == 2 and super().__contains__(listed_key(key[0]))


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
