"""Read the resource-type catalog: the bundled ``policyengine/catalog.yaml`` and the files
given with ``--catalog``.

Each file is loaded with positions (:mod:`policyengine.loading.yaml_nodes`), validated against
``schemas/catalog.schema.json`` and checked (paths parse, values have the declared type,
``items``/``entries``/``properties`` sit under an array or an object); then the files are merged
in order and every ``include`` is resolved. Every problem is a :class:`RuleLoadError` at
``file:line:col``; all of them are raised together as :class:`RuleLoadErrors`.

How a file merges over the ones before it (user files over the bundled one):

* a new type, property set, property, resource name or default is added;
* a property declared again keeps its type, gains the new ``values`` and takes the new
  ``description``; its ``items``, ``entries`` and ``properties`` merge the same way;
* what an earlier file said of a type — its ``arg``, ``arm`` and ``scope`` (where and how it is
  read), its ``counterpart``, a default, a property's ``type`` — changes only in a type entry
  with ``override: true``; without it the change is an error, so no file silently moves where a
  bundled type is read from. With ``override: true`` the file's word replaces the earlier one
  (a property's values included).

The result is plain data, one resolved entry per type, that :mod:`policyengine.catalog` builds
its model from.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine.errors import RuleLoadError, RuleLoadErrors, Span
from policyengine.loading.schema import dotted, validate
from policyengine.operators import fold
from policyengine.paths import PathSyntaxError, parse_path

if TYPE_CHECKING:
    from policyengine.loading.yaml_nodes import Document, JsonPath

BUNDLED_NAME = "policyengine/catalog.yaml"
SCHEMA = "catalog.schema.json"

#: What a value of each property type must be in Python (bool is not an integer here).
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float),
}
#: Where a type is read from, and the value a type without the key has.
_READ_KEYS = {"arg": None, "arm": None, "scope": "resourceGroup"}

Key = tuple[str | int, ...]


@dataclass
class _Prop:
    """One property as merged so far, with where it was (last) declared."""

    text: str
    data: dict[str, Any]
    span: Span
    items: _Prop | None = None
    entries: _Prop | None = None
    children: dict[Key, _Prop] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        out = dict(self.data)
        if self.items is not None:
            out["items"] = self.items.to_data()
        if self.entries is not None:
            out["entries"] = self.entries.to_data()
        if self.children:
            out["properties"] = {p.text: p.to_data() for p in self.children.values()}
        return out


@dataclass
class _Type:
    """One type as merged so far."""

    name: str
    fields: dict[str, Any]
    spans: dict[str, Span]
    include: list[tuple[str, Span]] = field(default_factory=list)
    properties: dict[Key, _Prop] = field(default_factory=dict)
    names: dict[str, tuple[str, dict[Key, _Prop]]] = field(default_factory=dict)


class _Merger:
    """Merges validated catalog documents in order, collecting located errors."""

    def __init__(self) -> None:
        self.errors: list[RuleLoadError] = []
        self.sets: dict[str, dict[Key, _Prop]] = {}
        self.types: dict[str, _Type] = {}

    def error(self, span: Span, message: str) -> None:
        self.errors.append(RuleLoadError(message, span))

    # -- one property map -----------------------------------------------------------------
    def props(self, doc: Document, body: dict[str, Any], path: JsonPath) -> dict[Key, _Prop]:
        """A property map of one file as :class:`_Prop` values (bad paths reported, skipped)."""
        out: dict[Key, _Prop] = {}
        for text, info in body.items():
            where = (*path, text)
            key = self.key(doc, text, where)
            if key is None:
                continue
            prop = self.prop(doc, text, info, where)
            if key in out:
                self.error(prop.span, f"{dotted(where)}: '{text}' is the same path as "
                           f"'{out[key].text}' (paths compare case-insensitively)")
                continue
            out[key] = prop
        return out

    def key(self, doc: Document, text: str, where: JsonPath) -> Key | None:
        span = doc.positions.of(where, key=True)
        try:
            parsed = parse_path(text)
        except PathSyntaxError as exc:
            self.error(span, f"{dotted(where[:-1])}: bad property path '{text}': {exc}")
            return None
        if parsed.element or any(isinstance(s, int) for s in parsed.segments):
            self.error(span, f"{dotted(where[:-1])}: '{text}': a catalog path names keys only; "
                       "describe an array's elements with items")
            return None
        return tuple(str(s).casefold() for s in parsed.segments)

    def prop(self, doc: Document, text: str, info: dict[str, Any], where: JsonPath) -> _Prop:
        kind = info["type"]
        allowed = _VALUE_TYPES.get(kind)
        if "values" in info and allowed is None:
            hint = "; give its elements' values under items" if kind == "array" else ""
            self.error(doc.positions.of((*where, "values"), key=True),
                       f"{dotted(where)}: an {kind} has no values{hint}")
        for i, value in enumerate(info.get("values", []) if allowed is not None else []):
            # bool is an int in Python, and neither is the other in JSON.
            assert allowed is not None
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                article = "an" if kind == "integer" else "a"
                self.error(doc.positions.of((*where, "values", i)),
                           f"{dotted(where)}.values[{i}]: {value!r} is not {article} {kind}")
        for nested, needs in (("items", "array"), ("entries", "object"), ("properties", "object")):
            if nested in info and kind != needs:
                self.error(doc.positions.of((*where, nested), key=True),
                           f"{dotted(where)}: {nested} belongs to an {needs}, not to a {kind}")
        data = {k: v for k, v in info.items() if k not in ("items", "entries", "properties")}
        prop = _Prop(text, data, doc.positions.of(where, key=True))
        if "items" in info:
            prop.items = self.prop(doc, f"{text}[*]", info["items"], (*where, "items"))
        if "entries" in info:
            prop.entries = self.prop(doc, f"{text}.*", info["entries"], (*where, "entries"))
        if "properties" in info:
            prop.children = self.props(doc, info["properties"], (*where, "properties"))
        return prop

    # -- merging --------------------------------------------------------------------------
    def merge_map(self, into: dict[Key, _Prop], extra: dict[Key, _Prop], override: bool) -> None:
        for key, prop in extra.items():
            if key not in into or override:
                into[key] = prop
            else:
                self.merge_prop(into[key], prop)

    def merge_prop(self, old: _Prop, new: _Prop) -> None:
        if new.data["type"] != old.data["type"]:
            self.error(new.span, f"'{new.text}' is declared a {old.data['type']} at {old.span.prefix()}; "
                       "a catalog file adds to a property, it does not change its type "
                       "(override: true on the type replaces it)")
            return
        if "values" in new.data:
            known = {_folded(v) for v in old.data.get("values", [])}
            old.data["values"] = [*old.data.get("values", []),
                                  *(v for v in new.data["values"] if _folded(v) not in known)]
        for text_key in ("description", "onCounterpart"):
            if text_key in new.data:
                old.data[text_key] = new.data[text_key]
        for nested in ("items", "entries"):
            mine, theirs = getattr(old, nested), getattr(new, nested)
            if mine is None:
                setattr(old, nested, theirs)
            elif theirs is not None:
                self.merge_prop(mine, theirs)
        self.merge_map(old.children, new.children, False)

    def add(self, doc: Document) -> None:
        """Merge one validated document over everything added before it."""
        data = doc.data
        for name, body in data.get("propertySets", {}).items():
            extra = self.props(doc, body, ("propertySets", name))
            self.merge_map(self.sets.setdefault(name, {}), extra, False)
        for name, body in data.get("types", {}).items():
            self.add_type(doc, name, body)

    def add_type(self, doc: Document, name: str, body: dict[str, Any]) -> None:
        path: JsonPath = ("types", name)
        override = bool(body.get("override", False))
        entry = self.types.get(name.lower())
        if entry is None:
            entry = self.types[name.lower()] = _Type(name, {}, {})
            override = True  # nothing to change: everything is new
        for key in (*_READ_KEYS, "counterpart"):
            if key not in body:
                continue
            span = doc.positions.of((*path, key))
            before = entry.fields.get(key, _READ_KEYS.get(key))
            changes = body[key] != before and (key in _READ_KEYS or key in entry.fields)
            if changes and not override:
                was = f"{before!r} ({entry.spans[key].prefix()})" if key in entry.spans else "nothing"
                self.error(span, f"{dotted((*path, key))}: the catalog already says {was}; a catalog "
                           f"file adds to {entry.name}, it does not change its {key} "
                           "(set override: true on the type to replace it)")
                continue
            entry.fields[key], entry.spans[key] = body[key], span
        defaults = entry.fields.setdefault("defaults", {})
        for rname, value in body.get("defaults", {}).items():
            same = next((k for k in defaults if k.lower() == rname.lower()), None)
            if same is not None and defaults[same] != value and not override:
                self.error(doc.positions.of((*path, "defaults", rname)),
                           f"{dotted((*path, 'defaults', rname))}: the catalog already has a default for "
                           f"'{same}'; a catalog file adds defaults, it does not change them "
                           "(set override: true on the type to replace it)")
                continue
            if same is not None:
                del defaults[same]
            defaults[rname] = value
        if "description" in body:
            entry.fields["description"] = body["description"]
        for i, set_name in enumerate(body.get("include", [])):
            if set_name not in (n for n, _ in entry.include):
                entry.include.append((set_name, doc.positions.of((*path, "include", i))))
        self.merge_map(entry.properties, self.props(doc, body.get("properties", {}), (*path, "properties")),
                       override)
        for rname, overlay in body.get("names", {}).items():
            extra = self.props(doc, overlay["properties"], (*path, "names", rname, "properties"))
            _, into = entry.names.setdefault(rname.lower(), (rname, {}))
            self.merge_map(into, extra, override)

    # -- resolution -----------------------------------------------------------------------
    def resolve(self) -> dict[str, dict[str, Any]]:
        """Every type with its includes expanded and its references checked."""
        out: dict[str, dict[str, Any]] = {}
        for lower, entry in self.types.items():
            counterpart = entry.fields.get("counterpart")
            if counterpart is not None and counterpart.lower() not in self.types:
                self.error(entry.spans["counterpart"],
                           f"types.{entry.name}.counterpart: '{counterpart}' is not a type of the catalog")
            merged: dict[Key, _Prop] = {}
            for set_name, span in entry.include:
                if set_name not in self.sets:
                    known = ", ".join(sorted(self.sets)) or "none"
                    self.error(span, f"types.{entry.name}.include: no property set '{set_name}' "
                               f"(known: {known})")
                    continue
                self.merge_map(merged, copy.deepcopy(self.sets[set_name]), False)
            self.merge_map(merged, entry.properties, False)
            for props in (merged, *(names for _, names in entry.names.values())):
                self.check_shape(props)
            for _, names in entry.names.values():
                for key, prop in names.items():
                    base = merged.get(key)
                    if base is not None and base.data["type"] != prop.data["type"]:
                        self.error(prop.span, f"'{prop.text}' is a {base.data['type']} on every "
                                   f"{entry.name} ({base.span.prefix()}), not a {prop.data['type']}")
            out[lower] = {
                **entry.fields,
                "name": entry.name,
                "properties": {p.text: p.to_data() for p in merged.values()},
                "names": {rname: {p.text: p.to_data() for p in props.values()}
                          for rname, props in entry.names.values()},
            }
        return out

    def check_shape(self, props: dict[Key, _Prop]) -> None:
        """A declared path below a declared scalar or array cannot exist."""
        for key, prop in props.items():
            for cut in range(1, len(key)):
                parent = props.get(key[:cut])
                if parent is not None and parent.data["type"] != "object":
                    self.error(prop.span, f"'{prop.text}' is below '{parent.text}', a {parent.data['type']}: "
                               "only an object has properties")
                    break
        for prop in props.values():
            self.check_shape(prop.children)


def _folded(value: Any) -> Any:
    return fold(value) if isinstance(value, str) else value


def _parse(text: str, name: str) -> tuple[Document | None, list[RuleLoadError]]:
    # YAML is imported only when a catalog is read (lint, explain, export), not by every
    # command that imports the catalog's types.
    from policyengine.loading.yaml_nodes import load_documents

    try:
        docs = [d for d in load_documents(text, name) if d.data is not None]
    except RuleLoadError as exc:
        return None, [exc]
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        return None, [RuleLoadError("a catalog file is one YAML mapping (version: 1, types: ...)",
                                    docs[1].span if len(docs) > 1 else Span(name, 1, 1))]
    doc = docs[0]
    return (doc, []) if not (problems := validate(doc, SCHEMA)) else (None, problems)


def read_catalog(files: Sequence[Path] = ()) -> dict[str, dict[str, Any]]:
    """The bundled catalog with ``files`` merged over it in order: lower-case type name to its
    resolved entry. Raises :class:`RuleLoadErrors` with every problem of every file."""
    from policyengine.loading.yaml_nodes import read_text

    sources = [((resources.files("policyengine") / "catalog.yaml").read_text("utf-8"), BUNDLED_NAME)]
    errors: list[RuleLoadError] = []
    for path in files:
        try:
            sources.append((read_text(Path(path), str(path), "catalog file"), str(path)))
        except RuleLoadError as exc:
            errors.append(exc)
    merger = _Merger()
    for text, name in sources:
        doc, problems = _parse(text, name)
        errors += problems
        if doc is not None:
            merger.add(doc)
    resolved = merger.resolve()
    errors += merger.errors
    if errors:
        errors.sort(key=lambda e: (e.span.file, e.span.line, e.span.col) if e.span else ("", 0, 0))
        raise RuleLoadErrors(errors)
    return resolved
