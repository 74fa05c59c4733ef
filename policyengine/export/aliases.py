"""The alias table (``aliases.yaml``): which Azure Policy field reads a rule path on a
resource type. Data, not code: the Azure Policy exporter resolves every path through it and
reports the paths it does not list instead of guessing an alias."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from policyengine.paths import Segment

#: The property types the table speaks of (what an alias reads decides which conditions
#: compare it exactly: ``less`` on a string property is an evaluation error in Azure Policy).
TYPES = frozenset({"string", "boolean", "integer", "number", "array", "object"})


@dataclass(frozen=True)
class Field:
    """An Azure Policy field (an alias or a built-in field name) and what it holds.

    ``elements`` is the ``[*]`` alias of an array (with the aliases of an element's
    properties in its ``fields``); ``unsupported`` says why comparisons on the field would
    not mean what the rule means."""

    name: str
    type: str
    elements: Field | None = None
    fields: Mapping[str, Field] = field(default_factory=dict, hash=False, compare=False)
    unsupported: str | None = None


@dataclass(frozen=True)
class TypeEntry:
    """A resource type: the definition mode for rules on it, whether Azure always has it
    (as a related resource), and its aliases by rule path."""

    name: str
    mode: str
    always_exists: bool
    fields: Mapping[str, Field] = field(hash=False, compare=False)


def path_key(segments: tuple[Segment, ...]) -> str:
    """A rule path as the table keys it: ``properties.network.publicNetworkAccess`` (lower
    case: Azure property names are case-insensitive, and so are rule paths)."""
    return ".".join(f"[{s}]" if isinstance(s, int) else s for s in segments).replace(".[", "[").lower()


def tag_field(name: str) -> Field:
    """``tags['name']``, with an apostrophe doubled as the policy-rule page asks
    (https://learn.microsoft.com/azure/governance/policy/concepts/definition-structure-policy-rule#fields)."""
    return Field("tags['" + name.replace("'", "''") + "']", "string")


@dataclass(frozen=True)
class AliasTable:
    common: Mapping[str, Field] = field(hash=False, compare=False)
    types: Mapping[str, TypeEntry] = field(hash=False, compare=False)

    def type(self, name: str) -> TypeEntry | None:
        return self.types.get(name.lower())

    def field(self, type_name: str, segments: tuple[Segment, ...]) -> Field | None:
        """The field reading ``segments`` on ``type_name``, or None if the table has none."""
        if len(segments) == 2 and str(segments[0]).lower() == "tags" and isinstance(segments[1], str):
            return tag_field(segments[1])
        key = path_key(segments)
        if key in self.common:
            return self.common[key]
        entry = self.type(type_name)
        return entry.fields.get(key) if entry is not None else None


def _field(body: Mapping[str, Any], where: str) -> Field:
    if body.get("type") not in TYPES:
        raise ValueError(f"aliases.yaml: {where}: type must be one of {sorted(TYPES)}")
    elements = body.get("elements")
    fields = body.get("fields") or {}
    return Field(
        name=body["alias"],
        type=body["type"],
        elements=_field(elements, f"{where}.elements") if elements else None,
        fields={k.lower(): _field(v, f"{where}.{k}") for k, v in fields.items()},
        unsupported=body.get("unsupported"),
    )


def parse_table(data: Mapping[str, Any]) -> AliasTable:
    """The table from its YAML data (a malformed table is a bug in the package: ValueError)."""
    common = {k.lower(): _field(v, k) for k, v in data["common"].items()}
    types = {
        name.lower(): TypeEntry(
            name=name,
            mode=body["mode"],
            always_exists=bool(body.get("alwaysExists", False)),
            fields={k.lower(): _field(v, f"{name}: {k}") for k, v in (body.get("fields") or {}).items()},
        )
        for name, body in data["types"].items()
    }
    return AliasTable(common, types)


@functools.lru_cache(maxsize=1)
def alias_table() -> AliasTable:
    text = (resources.files("policyengine") / "export" / "aliases.yaml").read_text("utf-8")
    return parse_table(yaml.safe_load(text))
