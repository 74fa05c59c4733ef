"""The resource-type catalog (``catalog.yaml``): where each type's data lives, its platform
defaults, and the properties a rule may read. Data, not code: the planner and the template
scanners read where and what; the linter reads the properties.

:func:`catalog` is the bundled catalog, with any user files merged over it (the format and
the merge rules: ``catalog.yaml``'s header and :mod:`policyengine.loading.catalog`). It is
built once per set of files and cached, so the scan path pays for it once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policyengine.loading.catalog import read_catalog
from policyengine.paths import Segment, parse_path

#: The types a catalog property can have (JSON's, with integer apart from number).
PROPERTY_TYPES = ("string", "boolean", "integer", "number", "array", "object")


@dataclass(frozen=True)
class ArmRead:
    """How ARM reads a type: a GET of one resource or a LIST of a parent's children, by a
    path template (``{id}``, ``{parentId}``, ``{subscriptionId}``, ``{name}``)."""

    method: str  # "get" | "list"
    path: str
    api_version: str


@dataclass(frozen=True)
class PropertyInfo:
    """What the catalog says of one property: its type, the values it can take (None: any of
    its type), and words for a person. ``path`` is as a rule would write it (``[*]`` for an
    array's elements, ``.*`` for any key of a map)."""

    path: str
    type: str
    values: tuple[Any, ...] | None = field(default=None, hash=False)
    description: str | None = None
    #: What a rule on the counterpart type (the other server generation) reads instead.
    on_counterpart: str | None = None


@dataclass(frozen=True, eq=False)
class PropertyNode:
    """One place in a type's property tree. ``declared`` is false for a parent that is only
    known because a path below it is declared (it is an object, nothing more is said)."""

    info: PropertyInfo
    children: Mapping[str, PropertyNode] = field(default_factory=dict)
    items: PropertyNode | None = None
    entries: PropertyNode | None = None
    declared: bool = True
    #: The key as declared (``publicNetworkAccess``), for suggestions; ``children`` is keyed
    #: by its case-folded form.
    key: str = ""

    def child(self, segment: Segment) -> PropertyNode | None:
        """The node one segment down: an index reads an array's elements, a key a child or,
        in a map (tags), any entry. Keys match case-insensitively, as Azure's do."""
        if isinstance(segment, int):
            return self.items
        found = self.children.get(segment.casefold())
        return found if found is not None else self.entries

    def walk(self, segments: tuple[Segment, ...]) -> PropertyNode | None:
        node: PropertyNode | None = self
        for seg in segments:
            if node is None:
                return None
            node = node.child(seg)
        return node

    def paths(self) -> Iterator[str]:
        """Every declared path at and below this node."""
        if self.declared and self.info.path:
            yield self.info.path
        for sub in (*self.children.values(), self.items, self.entries):
            if sub is not None:
                yield from sub.paths()


@dataclass(frozen=True)
class ResourceType:
    name: str
    arg_table: str | None = None
    scope: str = "resourceGroup"
    arm: ArmRead | None = None
    defaults: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    counterpart: str | None = None
    properties: PropertyNode = field(
        default_factory=lambda: PropertyNode(PropertyInfo("", "object"), declared=False),
        hash=False, compare=False)
    #: Per resource name (lower case): what is true of that name only, over ``properties``.
    names: Mapping[str, PropertyNode] = field(default_factory=dict, hash=False, compare=False)

    @property
    def fetchable(self) -> bool:
        """Whether a live scan can read it at all: from Resource Graph or from ARM."""
        return self.arg_table is not None or self.arm is not None

    def node(self, segments: tuple[Segment, ...], name: str | None = None) -> PropertyNode | None:
        """The property node at ``segments`` (relative to the resource), the resource name's
        own declaration first."""
        overlay = self.names.get(name.lower()) if name else None
        if overlay is not None:
            found = overlay.walk(segments)
            if found is not None and found.declared:
                return found
        return self.properties.walk(segments)

    def known_paths(self, name: str | None = None) -> list[str]:
        """Every declared path, the resource name's own included, sorted."""
        found = set(self.properties.paths())
        overlay = self.names.get(name.lower()) if name else None
        if overlay is not None:
            found.update(overlay.paths())
        return sorted(found)

    def default_for(self, name: str) -> Any:
        """The platform default of the resource ``name`` (matched case-insensitively), or None."""
        return next((v for k, v in self.defaults.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Catalog:
    types: dict[str, ResourceType] = field(hash=False)

    def get(self, type_name: str) -> ResourceType | None:
        return self.types.get(type_name.lower())

    def counterpart(self, type_name: str) -> ResourceType | None:
        """The type's counterpart on the other server generation, declared on either side."""
        kind = self.get(type_name)
        if kind is not None and kind.counterpart:
            return self.get(kind.counterpart)
        lower = type_name.lower()
        return next((t for t in self.types.values() if (t.counterpart or "").lower() == lower), None)

    def property_info(self, resource_type: str, segments: tuple[Segment, ...],
                      name: str | None = None) -> PropertyInfo | None:
        """What the catalog says of a path of a type (of one resource name, if given); None if
        the catalog does not know the type or the path."""
        kind = self.get(resource_type)
        found = kind.node(segments, name) if kind is not None else None
        return found.info if found is not None else None

    def known_paths(self, resource_type: str, name: str | None = None) -> list[str]:
        """Every declared path of a type, sorted (for did-you-mean suggestions)."""
        kind = self.get(resource_type)
        return kind.known_paths(name) if kind is not None else []


def _tree(props: Mapping[str, Any]) -> PropertyNode:
    """A frozen property tree from a resolved ``{path: property}`` map."""

    def node(path: str, key: str, data: Mapping[str, Any]) -> PropertyNode:
        values = data.get("values")
        info = PropertyInfo(path, data["type"], tuple(values) if values is not None else None,
                            data.get("description"), data.get("onCounterpart"))
        items = node(f"{path}[*]", "[*]", data["items"]) if "items" in data else None
        entries = node(f"{path}.*", "*", data["entries"]) if "entries" in data else None
        return PropertyNode(info, level(path, data.get("properties", {})), items, entries, key=key)

    def level(prefix: str, props: Mapping[str, Any]) -> dict[str, PropertyNode]:
        # Group the paths of one map by their first key; longer ones go one level down.
        groups: dict[str, tuple[str, Any, dict[str, Any]]] = {}
        for text, data in props.items():
            first, *rest = parse_path(text).segments
            key = str(first).casefold()
            head, own, below = groups.get(key, (str(first), None, {}))
            if rest:
                below[path_text(tuple(rest))] = data
            else:
                own = data
            groups[key] = (head, own, below)
        out: dict[str, PropertyNode] = {}
        for key, (head, own, below) in groups.items():
            path = _join(prefix, head)
            if own is None:
                out[key] = PropertyNode(PropertyInfo(path, "object"), level(path, below), declared=False,
                                        key=head)
            else:
                made = node(path, head, own)
                out[key] = PropertyNode(made.info, {**made.children, **level(path, below)},
                                        made.items, made.entries, key=head)
        return out

    return PropertyNode(PropertyInfo("", "object"), level("", props), declared=False)


def _build(resolved: Mapping[str, Mapping[str, Any]]) -> Catalog:
    types: dict[str, ResourceType] = {}
    for lower, body in resolved.items():
        arm = body.get("arm")
        read = None
        if arm:
            method = "list" if "list" in arm else "get"
            read = ArmRead(method, arm[method], arm["apiVersion"])
        types[lower] = ResourceType(
            name=body["name"],
            arg_table=(body.get("arg") or {}).get("table"),
            scope=body.get("scope", "resourceGroup"),
            arm=read,
            defaults=dict(body.get("defaults", {})),
            counterpart=body.get("counterpart"),
            properties=_tree(body.get("properties", {})),
            names={n.lower(): _tree(p) for n, p in body.get("names", {}).items()},
        )
    return Catalog(types)


@functools.lru_cache(maxsize=8)
def catalog(*files: Path) -> Catalog:
    """The bundled catalog with the user catalog ``files`` merged over it, in order.

    Raises :class:`~policyengine.errors.RuleLoadErrors` (every problem at ``file:line:col``)
    if a file is unreadable or invalid. Cached: the same files cost one load per process.
    """
    return _build(read_catalog(files))


def property_info(resource_type: str, path_segments: tuple[Segment, ...],
                  name: str | None = None) -> PropertyInfo | None:
    """What the bundled catalog says of a path of a type (see :meth:`Catalog.property_info`)."""
    return catalog().property_info(resource_type, path_segments, name)


def known_paths(resource_type: str, name: str | None = None) -> list[str]:
    """Every path the bundled catalog declares for a type (see :meth:`Catalog.known_paths`)."""
    return catalog().known_paths(resource_type, name)


def path_text(segments: tuple[Segment, ...]) -> str:
    """Segments as a rule writes them: ``properties.network``, ``tags['cost-center']``, ``[0]``."""
    out = ""
    for seg in segments:
        out = f"{out}[{seg}]" if isinstance(seg, int) else _join(out, seg)
    return out


def _join(prefix: str, key: str) -> str:
    """``prefix.key``, or ``prefix['key']`` for a key that cannot be written bare."""
    try:
        bare = parse_path(key).segments == (key,)
    except ValueError:
        bare = False
    if bare:
        return f"{prefix}.{key}" if prefix else key
    return prefix + "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
