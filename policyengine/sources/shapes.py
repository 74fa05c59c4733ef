"""The shapes an export row comes in, each turned into the ARM shape the rules read.

* **ARM** (Resource Graph rows, ARM GETs, ``az resource list/show``): ``id``, ``type``,
  ``properties`` … taken as they are.
* **Azure CLI, flattened**: ``az postgres flexible-server show`` and ``… parameter list`` print
  the SDK's model, whose ``properties`` are lifted to the top (``"value": "on"`` beside
  ``"id"``). A row with no ``properties`` and keys outside the ARM envelope gets them back
  under ``properties``.
* **PSRule / Get-AzResource -ExpandProperties**: PascalCase keys (``ResourceId``/``Id``,
  ``ResourceType``/``Type``, ``Properties``, ``Sku`` …) and child resources nested under
  ``resources``, often without an id of their own. Keys are renamed to the ARM ones, ``Sku``,
  ``Identity`` and ``Plan`` members camel-cased, and each nested child becomes a row of its
  own, its id built from its parent's where it has none.

A row that cannot be used is an input error of its own (docs/architecture.md, "Input errors").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from policyengine.errors import InputError, Span
from policyengine.records.model import ANNOTATION
from policyengine.status import InputProblem, Unit

#: The top-level keys of an ARM resource (as Resource Graph, ARM and the CLI write them);
#: anything else beside them, with no ``properties``, is a flattened property.
ENVELOPE = frozenset({
    "id", "name", "type", "kind", "location", "tags", "sku", "plan", "identity", "zones", "managedBy",
    "extendedLocation", "etag", "systemData", "resourceGroup", "subscriptionId", "tenantId", "properties",
    "apiVersion", ANNOTATION,
})

_ENVELOPE_LOWER = frozenset(k.lower() for k in ENVELOPE)

#: Get-AzResource's PascalCase keys, as ARM names them. Where two name one key (``ResourceId``
#: and ``Id``), the first present wins and the other must agree with it.
PASCAL: dict[str, tuple[str, ...]] = {
    "id": ("ResourceId", "Id"),
    "name": ("Name", "ResourceName"),
    "type": ("ResourceType", "Type"),
    "kind": ("Kind",),
    "location": ("Location",),
    "properties": ("Properties",),
    "sku": ("Sku",),
    "tags": ("Tags",),
    "plan": ("Plan",),
    "identity": ("Identity",),
    "zones": ("Zones",),
    "managedBy": ("ManagedBy",),
    "etag": ("ETag", "Etag"),
    "subscriptionId": ("SubscriptionId",),
    "resourceGroup": ("ResourceGroupName", "ResourceGroup"),
    "tenantId": ("TenantId",),
    "extendedLocation": ("ExtendedLocation",),
}
_AGREE = ("id", "type")  # aliases of these must name the same thing (case aside)
_CAMEL_MEMBERS = ("sku", "identity", "plan")  # .NET objects: their members are PascalCase too
NESTED = ("resources", "Resources")

#: Where a nested child starts: (row line, path of indices under ``resources``) -> line.
ChildLine = Callable[[tuple[int, ...]], int]

Item = tuple[dict[str, Any], int] | InputProblem


def plain(value: Any) -> bool:
    """Whether ``value`` is an ARM row to take as it is (the fast path: most rows are)."""
    if value.__class__ is not dict:
        return False
    rid = value.get("id")
    return rid.__class__ is str and rid[:1] == "/" and rid.strip() is rid and "properties" in value


def rows_of(value: Any, line: int, file: str, child_line: ChildLine | None = None) -> Iterator[Item]:
    """The ARM rows (with their lines) that one decoded row holds, or why it cannot be used."""
    if not isinstance(value, dict):
        yield _problem(file, line, f"a row must be a JSON object, found {_kind(value)}")
        return
    if "id" not in value and any(k in value for k in PASCAL["id"]):
        yield from _pascal(value, line, file, parent=None, path=(), child_line=child_line)
        return
    problem = _arm(value)
    if problem is not None:
        yield _problem(file, line, problem, value)
    else:
        yield value, line


def _arm(row: dict[str, Any]) -> str | None:
    """Normalise an ARM-shaped row in place; why it cannot be used, or None."""
    rid = row.get("id")
    if not isinstance(rid, str) or not rid.strip().startswith("/"):
        if "id" in row:
            return f"'id' must be an ARM resource id starting with '/', found {_shown(rid)}"
        return "a row needs an 'id' (an ARM resource id starting with '/')"
    row["id"] = rid.strip()
    lowered = {k.lower() for k in row}
    if "properties" not in lowered and not lowered <= _ENVELOPE_LOWER:
        # The Azure CLI's flattened model: its properties sit beside the envelope. (Keys are
        # compared without case, as paths are read: a 'Properties' is the properties.)
        row["properties"] = {k: row.pop(k) for k in [k for k in row if k.lower() not in _ENVELOPE_LOWER]}
    return None


def _pascal(obj: dict[str, Any], line: int, file: str, *, parent: dict[str, Any] | None,
            path: tuple[int, ...], child_line: ChildLine | None) -> Iterator[Item]:
    """A Get-AzResource object and, after it, each of its nested children, as ARM rows."""
    children: list[Any] = []
    for key in NESTED:
        nested = obj.get(key)
        if isinstance(nested, list):
            children += nested
            del obj[key]
    try:
        row = _renamed(obj, parent)
    except InputError as exc:
        yield _problem(file, line, exc.message, obj)
        return  # its children cannot be placed without it
    problem = _arm(row)
    if problem is not None:
        yield _problem(file, line, problem, row)
        return
    yield row, line
    for index, child in enumerate(children):
        where = (*path, index)
        at = child_line(where) if child_line is not None else line
        if not isinstance(child, dict):
            yield _problem(file, at, f"a nested resource must be a JSON object, found {_kind(child)}",
                           resource=row["id"])
            continue
        yield from _pascal(child, at, file, parent=row, path=where, child_line=child_line)


def _renamed(obj: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
    """``obj`` with ARM's key names; a child without an id gets one under ``parent``."""
    row: dict[str, Any] = {}
    taken: set[str] = set()
    for arm, aliases in PASCAL.items():
        present = [a for a in aliases if a in obj]
        taken.update(present)
        if not present:
            continue
        value = obj[present[0]]
        for other in present[1:]:
            if arm in _AGREE and not _same_text(obj[other], value):
                raise InputError(f"'{present[0]}' and '{other}' disagree: {_shown(value)} and "
                                 f"{_shown(obj[other])}")
        if arm in _CAMEL_MEMBERS and isinstance(value, dict):
            value = {k[:1].lower() + k[1:]: v for k, v in value.items()}
        row[arm] = value
    for key, value in obj.items():
        if key in taken:
            continue
        if key in row and row[key] != value:
            raise InputError(f"'{key}' and its PascalCase twin disagree")
        row.setdefault(key, value)
    if "id" not in row and parent is not None:
        row["id"] = _child_id(row, parent)
    return row


def _child_id(row: dict[str, Any], parent: dict[str, Any]) -> str:
    """The id of a nested child that has none: ``<parent>/<type>/<name>`` for a child type,
    ``<parent>/providers/<type>/<name>`` for an extension resource of another namespace."""
    rtype, name, ptype = row.get("type"), row.get("name"), parent.get("type")
    if not (isinstance(rtype, str) and isinstance(name, str) and name.strip() and isinstance(ptype, str)):
        raise InputError("a nested resource without an id needs a 'Type'/'ResourceType' and a 'Name' "
                         "to be placed under its parent")
    last = name.strip().rsplit("/", 1)[-1]
    ltype, lparent = rtype.strip().lower(), ptype.strip().lower()
    if ltype.rsplit("/", 1)[0] == lparent:
        return f"{parent['id']}/{rtype.strip().rsplit('/', 1)[1]}/{last}"
    if ltype.split("/", 1)[0] != lparent.split("/", 1)[0]:
        return f"{parent['id']}/providers/{rtype.strip()}/{last}"
    raise InputError(f"a nested {rtype.strip()} without an id is not a child of its parent {ptype.strip()}")


def _same_text(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return bool(a == b)


def _problem(file: str, line: int, message: str, row: Any = None,
             resource: str | None = None) -> InputProblem:
    if resource is None and isinstance(row, dict) and isinstance(row.get("id"), str):
        resource = row["id"]
    return InputProblem(Span(file, line, 1), message, Unit.ROW, resource)


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
