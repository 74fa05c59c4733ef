"""Which subscription each resource of a plan lands in, and the subscription records.

In Terraform the provider configuration decides the subscription
(https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs#subscription_id):
its ``subscription_id`` argument, else ``ARM_SUBSCRIPTION_ID``, else the Azure CLI login.
A plan shows the argument only; the rest is decided when Terraform runs. So resources are
grouped by provider configuration (``provider_config_key``), and a group's subscription is
the literal or root-variable ``subscription_id`` its configuration shows, else the one the
known ids of its resources agree on, else an :class:`Unknown` (``[azurerm provider
subscription]`` in ids). Configurations that name the same subscription share one record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policyengine.ir import SourceKind
from policyengine.records.model import ChildKey, Origin, Record, subscription_of
from policyengine.sources.terraform.plan import Instance
from policyengine.sources.terraform.references import Configuration
from policyengine.unknown import Unknown, segment_text

SUBSCRIPTION_ARM_TYPE = "Microsoft.Resources/subscriptions"


@dataclass
class Children:
    """The children a plan declares for one record. Two declarations of one child (two
    resources setting the same server parameter) leave its value to the order of apply."""

    items: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)
    declared_by: dict[ChildKey, str] = field(default_factory=dict)

    def declare(self, key: ChildKey, child: dict[str, Any], address: str) -> None:
        first = self.declared_by.setdefault(key, address)
        if first != address and self.items[key] != child:
            why = f"declared by both {first} and {address}; the order of apply decides which Azure keeps"
            properties = {k: Unknown(f"{address}.{k}", why) for k in child.get("properties", {})}
            child = {**child, "properties": properties}
        self.items[key] = child

    def assume(self, key: ChildKey, child: dict[str, Any]) -> bool:
        """Add ``child`` unless the plan declares that child itself; whether it was added."""
        if key in self.items:
            return False
        self.items[key] = child
        return True


@dataclass
class Subscription:
    """One subscription of the plan: the subscription-scope resources declared in it (Defender
    pricings, security contacts), and why its pricings cannot all be told (a pricing whose
    ``resource_type`` is known after apply)."""

    key: str
    label: str
    id: str | Unknown
    children: Children = field(default_factory=Children)
    unread: dict[str, str] = field(default_factory=dict)
    line: int = 0

    @property
    def declares(self) -> bool:
        return bool(self.children.items or self.unread)

    @property
    def resource_id(self) -> str:
        return "/subscriptions/" + segment_text(self.id)

    def record(self, file: str) -> Record:
        data = {"id": self.resource_id, "type": SUBSCRIPTION_ARM_TYPE, "subscriptionId": self.id}
        origin = Origin(file, self.line, SourceKind.DECLARED, address=self.label)
        return Record(self.resource_id, SUBSCRIPTION_ARM_TYPE, data, origin, dict(self.children.items),
                      dict(self.unread))


class Subscriptions:
    """Provider configuration -> subscription, for one plan."""

    def __init__(self, config: Configuration) -> None:
        self.config = config
        self.by_key: dict[str, Subscription] = {}
        #: By provider configuration, the subscriptions named by its resources' known ids.
        self.known: dict[str, set[str]] = {}

    def key(self, inst: Instance) -> str:
        return self.config.provider_key(inst.addr, inst.provider_name)

    def remember(self, inst: Instance) -> None:
        """Learn from ``inst``'s id, if known; call for every instance before :meth:`of`."""
        known = inst.values.get("id")
        sid = subscription_of(known) if isinstance(known, str) else None
        self.known.setdefault(self.key(inst), set()).update([sid] if sid else [])

    def of(self, inst: Instance) -> Subscription:
        key = self.key(inst)
        sub = self.by_key.get(key)
        if sub is None:
            sid = self._id(key)
            same = [s for s in self.by_key.values()
                    if isinstance(s.id, str) and isinstance(sid, str) and s.id.lower() == sid.lower()]
            sub = same[0] if same else Subscription(key, self.config.provider_label(key), sid)
            self.by_key[key] = sub
        return sub

    def _id(self, key: str) -> str | Unknown:
        shown = self.config.subscription(key)
        if shown:
            return shown
        ids = self.known.get(key, set())
        if len(ids) == 1:
            return next(iter(ids))
        return Unknown(f"{key.rsplit('/', 1)[-1]} provider subscription",
                       "the provider configuration does not show its subscription (subscription_id, "
                       "ARM_SUBSCRIPTION_ID or the Azure CLI login decide it at apply)")

    def all(self) -> list[Subscription]:
        """Each subscription once, in the order first seen."""
        return list({id(s): s for s in self.by_key.values()}.values())
