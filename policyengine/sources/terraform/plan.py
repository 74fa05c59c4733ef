"""Read a ``terraform show -json`` document: check its shape, list its resource instances
with the values they will have after apply.

Format: https://developer.hashicorp.com/terraform/internals/json-format

* ``format_version`` is ``MAJOR.MINOR``; a reader must reject a major version it does not
  know, and ignore properties it does not know (new minor versions add some).
* ``resource_changes`` has one entry per resource instance (per deposed object too), with
  ``change.actions`` and ``change.after``. Values known only after apply are null or absent
  in ``after`` and ``true`` at the same place in ``after_unknown``; sensitive values are
  ``true`` at their place in ``after_sensitive``. Merging the three gives each instance's
  planned object with :class:`Unknown` where Terraform does not know yet, and where it must
  not tell (a sensitive value never goes further than this module).
* Without ``resource_changes`` (a state shown as JSON, or a plan made by an old Terraform),
  ``planned_values`` (or a state's ``values``) lists the instances module by module; unknown
  values are simply missing there.

Every shape problem names the file, the JSON path and, where there is one, the resource
address, at the line where the decoder saw it. A problem of one resource entry (a bad address,
a ``change`` that is not an object) is an input error of that resource only (:class:`Invalid`),
and the rest of the plan is read; a problem of the document itself (no ``format_version``, a
``resource_changes`` that is not an array) is an :class:`InputError` for the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from policyengine.errors import InputError, Span
from policyengine.sources.jsonpos import MAX_DEPTH, span_at, span_of
from policyengine.sources.terraform.addresses import ResourceAddr, parse_address
from policyengine.status import InputProblem, Unit
from policyengine.unknown import Unknown

SUPPORTED_MAJOR = "1"
KNOWN_AFTER_APPLY = "known after apply"
SENSITIVE = "sensitive"


@dataclass(frozen=True)
class Instance:
    """One resource instance of the plan, with its planned values.

    ``values`` is ``change.after`` with unknown and sensitive leaves replaced by
    :class:`Unknown` (its text is ``<address>.<attribute path>``); for a deleted instance,
    ``change.before``, sensitive leaves hidden likewise. ``actions`` is empty for instances
    read from ``planned_values``."""

    addr: ResourceAddr
    address: str
    values: dict[str, Any]
    actions: tuple[str, ...]
    provider_name: str
    line: int = 0
    deposed: bool = False

    @property
    def removed(self) -> bool:
        """The plan leaves nothing of it: deleted (``["delete"]``), or dropped from state
        without being destroyed (``["forget"]``, Terraform 1.7's ``removed`` blocks)."""
        return self.deposed or (bool(self.actions) and "create" not in self.actions
                                and ("delete" in self.actions or "forget" in self.actions))


@dataclass(frozen=True)
class Invalid:
    """A resource of the plan that cannot be read or mapped: an input error of its own. What
    it may set on other resources is unknown (:mod:`.build`)."""

    problem: InputProblem
    addr: ResourceAddr | None = None  # where its address could be read
    type: str | None = None  # its Terraform type, where the entry says it but the address is unreadable


@dataclass(frozen=True)
class Plan:
    """What the records are built from."""

    file: str
    instances: list[Instance]
    configuration: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    invalid: list[Invalid] = field(default_factory=list)


class Reader:
    """Checks shapes as it reads; every error says where (``file:line:col``, JSON path)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.invalid: list[Invalid] = []

    def entry(self, exc: InputError, entry: Any, addr: ResourceAddr | None, address: str) -> None:
        """An entry that cannot be read: its error, and the rest of the plan goes on."""
        message = f"{exc.message}; this resource is not evaluated, the rest of the plan is"
        problem = InputProblem(exc.span or Span(self.file), message, Unit.RESOURCE, address)
        managed = isinstance(entry, dict) and entry.get("mode", "managed") == "managed"
        tf_type = entry.get("type") if managed else None
        self.invalid.append(Invalid(problem, addr, tf_type if isinstance(tf_type, str) else None))

    def fail(self, container: Any, key: str | int | None, path: str, message: str) -> InputError:
        # A key that is absent is located at the object that lacks it.
        span = (span_at(container, key) if key is not None else None) or span_of(container) or Span(self.file)
        return InputError(f"{path}: {message}" if path else message, span)

    def obj(self, container: Any, key: str | int, path: str, *, required: bool = True) -> dict[str, Any]:
        value = container.get(key) if isinstance(container, dict) else container[key]
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(container, key, path, f"expected an object, found {_kind(value)}")
        return value

    def arr(self, container: dict[str, Any], key: str, path: str) -> list[Any]:
        value = container.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(container, key, path, f"expected an array, found {_kind(value)}")
        return value

    def text(self, container: dict[str, Any], key: str, path: str, *, required: bool = True) -> str:
        value = container.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise self.fail(container, key, path, f"expected a string, found {_kind(value)}")
        return value

    def line(self, node: Any) -> int:
        span = span_of(node)
        return span.line if span is not None else 0


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "a boolean"), (dict, "an object"), (list, "an array"), (str, "a string"),
                       (int | float, "a number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def is_plan(doc: Any) -> bool:
    """Whether ``doc`` is ``terraform show -json`` output: a ``format_version`` with planned
    values or resource changes (a plan), or with ``values.root_module`` (a state)."""
    if not isinstance(doc, dict) or "format_version" not in doc:
        return False
    if isinstance(doc.get("planned_values"), dict) or isinstance(doc.get("resource_changes"), list):
        return True
    values = doc.get("values")
    return isinstance(values, dict) and "root_module" in values


def read_plan(doc: Any, file: str) -> Plan:
    """The plan's resource instances; :class:`InputError` if ``doc`` is not a plan."""
    reader = Reader(file)
    if not isinstance(doc, dict):
        raise reader.fail(doc, None, "", f"not a Terraform plan: expected a JSON object, found {_kind(doc)}")
    if "format_version" not in doc:
        raise reader.fail(doc, None, "", "not a Terraform plan: no format_version "
                          "(expected the output of `terraform show -json <planfile>`)")
    version = reader.text(doc, "format_version", "format_version")
    if version.split(".", 1)[0] != SUPPORTED_MAJOR:
        raise reader.fail(doc, "format_version", "format_version",
                          f"unsupported Terraform JSON format {version!r}: this reader knows "
                          f"{SUPPORTED_MAJOR}.x (https://developer.hashicorp.com/terraform/internals/json-format)")
    if "resource_changes" in doc:
        instances = list(_from_changes(reader, doc))
    else:
        values_key = "planned_values" if "planned_values" in doc else "values"
        if values_key not in doc:
            raise reader.fail(doc, None, "",
                              "not a Terraform plan: no resource_changes, planned_values or values")
        root = reader.obj(reader.obj(doc, values_key, values_key), "root_module", f"{values_key}.root_module",
                          required=False)
        instances = list(_from_values(reader, root, f"{values_key}.root_module"))
    return Plan(file, instances, reader.obj(doc, "configuration", "configuration", required=False),
                reader.obj(doc, "variables", "variables", required=False), reader.invalid)


def _from_changes(reader: Reader, doc: dict[str, Any]) -> Iterator[Instance]:
    changes = reader.arr(doc, "resource_changes", "resource_changes")
    for i, entry in enumerate(changes):
        addr: ResourceAddr | None = None
        path = f"resource_changes[{i}]"
        try:
            rc = reader.obj(changes, i, path)
            addr, address = _address(reader, changes, i, rc, path)
            path = f"{path} ({address})"
            yield _change(reader, entry, rc, addr=addr, address=address, path=path)
        except InputError as exc:
            reader.entry(exc, entry, addr, str(addr) if addr is not None else path)


def _change(reader: Reader, entry: Any, rc: dict[str, Any], *, addr: ResourceAddr, address: str,
            path: str) -> Instance:
    change = reader.obj(rc, "change", f"{path}.change")
    actions_raw = reader.arr(change, "actions", f"{path}.change.actions")
    if not actions_raw or not all(isinstance(a, str) for a in actions_raw):
        raise reader.fail(change, "actions", f"{path}.change.actions",
                          "expected a non-empty array of strings")
    actions = tuple(actions_raw)
    deposed = rc.get("deposed") is not None
    after = change.get("after")
    if after is None and ("create" in actions or "update" in actions):
        raise reader.fail(change, "after", f"{path}.change.after",
                          f"expected an object for actions {list(actions)}, found null")
    if after is not None:
        if not isinstance(after, dict):
            raise reader.fail(change, "after", f"{path}.change.after",
                              f"expected an object, found {_kind(after)}")
        values = _merged(reader, change, "after", address, path)
    else:
        # Deleted: what it was, for the few deletions that mean something (a pricing's
        # deletion resets its tier to Free).
        before = change.get("before")
        values = _merged(reader, change, "before", address, path) if isinstance(before, dict) else {}
    provider = reader.text(rc, "provider_name", f"{path}.provider_name", required=False)
    return Instance(addr, address, values, actions, provider, reader.line(entry), deposed)


def _from_values(reader: Reader, module: dict[str, Any], path: str) -> Iterator[Instance]:
    resources = reader.arr(module, "resources", f"{path}.resources")
    for i, entry in enumerate(resources):
        addr: ResourceAddr | None = None
        rpath = f"{path}.resources[{i}]"
        try:
            res = reader.obj(resources, i, rpath)
            addr, address = _address(reader, resources, i, res, rpath)
            rpath = f"{rpath} ({address})"
            reader.obj(res, "values", f"{rpath}.values", required=False)
            yield Instance(addr, address, _merged(reader, res, "values", address, rpath), (),
                           reader.text(res, "provider_name", f"{rpath}.provider_name", required=False),
                           reader.line(entry))
        except InputError as exc:
            reader.entry(exc, entry, addr, str(addr) if addr is not None else rpath)
    children = reader.arr(module, "child_modules", f"{path}.child_modules")
    for i, _child in enumerate(children):
        yield from _from_values(reader, reader.obj(children, i, f"{path}.child_modules[{i}]"),
                                f"{path}.child_modules[{i}]")


def _address(reader: Reader, container: list[Any], i: int, entry: dict[str, Any],
             path: str) -> tuple[ResourceAddr, str]:
    address = reader.text(entry, "address", f"{path}.address")
    addr = parse_address(address)
    if addr is None:
        raise reader.fail(entry, "address", f"{path}.address", f"not a resource address: {address!r}")
    if entry.get("mode", addr.mode) != addr.mode or entry.get("type", addr.type) != addr.type:
        raise reader.fail(container, i, path, f"mode/type do not match the address {address!r}")
    return addr, address


def _merged(reader: Reader, container: dict[str, Any], key: str, address: str, path: str) -> Any:
    """``change.after``/``before`` or a values representation's ``values``, merged with its
    unknown and sensitive mirrors."""
    mirrors = {"after": ("after_unknown", "after_sensitive"), "before": ("", "before_sensitive"),
               "values": ("", "sensitive_values")}[key]
    try:
        return merge(container.get(key) or {}, container.get(mirrors[0]) if mirrors[0] else None,
                     container.get(mirrors[1]), address)
    except RecursionError:
        raise reader.fail(container, key, f"{path}.{key}", f"nested more than {MAX_DEPTH} deep") from None


def merge(after: Any, unknown: Any, sensitive: Any, path: str, depth: int = 0) -> Any:
    """``after`` with ``Unknown`` where ``after_unknown`` is true (known after apply) or
    ``after_sensitive`` is true (hidden); both mirror ``after``'s structure, and an unknown
    collection has no ``after`` at all."""
    if depth > MAX_DEPTH:
        raise RecursionError(path)  # a hostile plan; read_plan reports it
    if sensitive is True:
        return Unknown(path, SENSITIVE)
    if unknown is True:
        return Unknown(path, KNOWN_AFTER_APPLY)
    if isinstance(after, dict) or (after is None and isinstance(unknown, dict)):
        base = after or {}
        keys = list(base) + [k for k in (unknown or {}) if k not in base]
        return {k: merge(base.get(k), _member(unknown, k), _member(sensitive, k), f"{path}.{k}", depth + 1)
                for k in keys}
    if isinstance(after, list) or (after is None and isinstance(unknown, list)):
        items = after if after is not None else [None] * len(unknown)
        return [merge(item, _member(unknown, i), _member(sensitive, i), f"{path}[{i}]", depth + 1)
                for i, item in enumerate(items)]
    return after


def _member(mirror: Any, key: str | int) -> Any:
    if isinstance(mirror, dict) and isinstance(key, str):
        return mirror.get(key)
    if isinstance(mirror, list) and isinstance(key, int) and key < len(mirror):
        return mirror[key]
    return None
