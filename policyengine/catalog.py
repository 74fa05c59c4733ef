"""The resource-type catalog (``catalog.yaml``): where each type's data lives and its
platform defaults. Data, not code: the planner and the template scanners read it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class ArmRead:
    """How ARM reads a type: a GET of one resource or a LIST of a parent's children, by a
    path template (``{id}``, ``{parentId}``, ``{subscriptionId}``, ``{name}``)."""

    method: str  # "get" | "list"
    path: str
    api_version: str


@dataclass(frozen=True)
class ResourceType:
    name: str
    arg_table: str | None = None
    scope: str = "resourceGroup"
    arm: ArmRead | None = None
    defaults: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Catalog:
    types: dict[str, ResourceType] = field(hash=False)

    def get(self, type_name: str) -> ResourceType | None:
        return self.types.get(type_name.lower())


@functools.lru_cache(maxsize=1)
def catalog() -> Catalog:
    text = (resources.files("policyengine") / "catalog.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    types: dict[str, ResourceType] = {}
    for name, body in data["types"].items():
        arm = body.get("arm")
        read = None
        if arm:
            method = "list" if "list" in arm else "get"
            read = ArmRead(method, arm[method], arm["apiVersion"])
        types[name.lower()] = ResourceType(
            name=name,
            arg_table=(body.get("arg") or {}).get("table"),
            scope=body.get("scope", "resourceGroup"),
            arm=read,
            defaults=body.get("defaults", {}),
        )
    return Catalog(types)
