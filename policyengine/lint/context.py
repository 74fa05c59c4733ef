"""One rule as the checks see it: its IR, the document it came from (for positions), the
catalog, every condition node with its place in the file, and what each field path reads.

A condition node's place is computed from the IR's shape (``allOf[i]``, ``not``,
``count.where``), the same path the loader built it from, so every check can point at the
``field`` or the value of a node in the file without a second walk over the YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from policyengine import ir
from policyengine.catalog import Catalog, PropertyInfo, PropertyNode, ResourceType, path_text
from policyengine.errors import Span
from policyengine.lint.problems import Problem
from policyengine.loading.rules import LoadedRule
from policyengine.loading.yaml_nodes import JsonPath
from policyengine.paths import FieldPath, Segment


@dataclass(frozen=True)
class Site:
    """A condition node, where it is in the document, and the ``count`` nodes around it (the
    innermost last): a ``@`` path reads the elements of the innermost one's array."""

    node: ir.Condition
    path: JsonPath
    counts: tuple[tuple[ir.Count, JsonPath], ...] = ()


@dataclass(frozen=True)
class Resolved:
    """What a field path reads. ``kind`` is None when the catalog does not know the type
    (nothing to check); ``node`` is None when it knows the type but not the path."""

    kind: ResourceType | None
    name: str | None
    prefix: str
    segments: tuple[Segment, ...]
    node: PropertyNode | None
    base: PropertyNode | None = None  # where an element path starts (an array's items)

    def walk(self, segments: tuple[Segment, ...]) -> PropertyNode | None:
        if self.base is not None:
            return self.base.walk(segments)
        return self.kind.node(segments, self.name) if self.kind is not None else None

    def show(self, segments: tuple[Segment, ...] | None = None) -> str:
        """The path as a rule writes it (``related.minTls.properties.value``); an element path
        as the elements of its array (``properties.disabledAlerts[*]``)."""
        return _prefixed(self.prefix, path_text(self.segments if segments is None else segments))

    def suggestion(self) -> str | None:
        """The known path closest to this unknown one: the first unknown key replaced by its
        closest sibling, else the closest declared path of the type."""
        known = 0
        while known < len(self.segments) and self.walk(self.segments[:known + 1]) is not None:
            known += 1
        parent = self.walk(self.segments[:known])
        failing = self.segments[known] if known < len(self.segments) else None
        if parent is not None and isinstance(failing, str):
            siblings = [child.key for child in parent.children.values()]
            close = difflib.get_close_matches(failing, siblings, n=1, cutoff=0.6)
            if close:
                fixed = (*self.segments[:known], close[0], *self.segments[known + 1:])
                return self.show(fixed if self.walk(fixed) is not None else fixed[:known + 1])
        if self.base is not None or self.kind is None:
            return None
        # Paths through an array's elements or a map's entries are not written that way.
        paths = [_prefixed(self.prefix, p) for p in self.kind.known_paths(self.name) if "*" not in p]
        close = difflib.get_close_matches(self.show(), paths, n=1, cutoff=0.6)
        return close[0] if close else None


def _prefixed(prefix: str, text: str) -> str:
    if not prefix or not text:
        return prefix or text
    return prefix + text if text.startswith("[") else f"{prefix}.{text}"


class RuleContext:
    """A rule, its document and the catalog, with the helpers every check needs."""

    def __init__(self, loaded: LoadedRule, catalog: Catalog) -> None:
        self.rule = loaded.rule
        self.doc = loaded.doc
        self.catalog = catalog

    def span(self, path: JsonPath, *, key: bool = False) -> Span:
        return self.doc.positions.of(path, key=key)

    def problem(self, code: str, path: JsonPath, message: str, *, key: bool = False) -> Problem:
        return Problem(self.span(path, key=key), code, message)

    def roots(self) -> Iterator[tuple[ir.Condition, JsonPath]]:
        """The rule's two conditions: ``where`` (if any) and ``condition``."""
        if self.rule.where is not None:
            yield self.rule.where, ("spec", "where")
        yield self.rule.condition, ("spec", "condition")

    def sites(self) -> Iterator[Site]:
        """Every condition node of ``where`` and ``condition``, parents before children."""
        for node, path in self.roots():
            yield from _walk(node, path, ())

    def resolve(self, field: FieldPath, counts: tuple[tuple[ir.Count, JsonPath], ...]) -> Resolved:
        """What ``field`` reads, in the catalog's terms."""
        if field.element:
            outer = self.resolve(counts[-1][0].path, counts[:-1]) if counts else None
            items = outer.node.items if outer is not None and outer.node is not None else None
            if outer is None or items is None:
                return Resolved(None, None, "@", field.segments, None)
            # Shown as the elements of the array the count reads: ...disabledAlerts[*].name.
            return Resolved(outer.kind, outer.name, f"{outer.show()}[*]", field.segments,
                            items.walk(field.segments), items)
        if field.is_related:
            rel = self.rule.related_named(field.related_name)
            assert rel is not None, "the loader checks related names"
            kind, name, prefix = self.catalog.get(rel.type), rel.resource_name, f"related.{rel.name}"
            segments = field.segments[2:]
            if rel.is_list and kind is not None:
                # Every resource of the type: an array of them.
                every = PropertyNode(PropertyInfo(prefix, "array"), items=kind.properties)
                return Resolved(kind, None, prefix, segments, every.walk(segments), every)
        else:
            kind, name, prefix, segments = self.catalog.get(self.rule.resource_type), None, "", field.segments
        return Resolved(kind, name, prefix, segments, kind.node(segments, name) if kind else None)


def _walk(node: ir.Condition, path: JsonPath,
          counts: tuple[tuple[ir.Count, JsonPath], ...]) -> Iterator[Site]:
    yield Site(node, path, counts)
    inner = (*counts, (node, path)) if isinstance(node, ir.Count) else counts
    for child, where in children(node, path):
        yield from _walk(child, where, inner)


def children(node: ir.Condition, path: JsonPath) -> list[tuple[ir.Condition, JsonPath]]:
    """The direct sub-conditions of a node, with their places in the rule document."""
    return [(child, (*path, *where)) for child, where in ir.children(node)]
