"""A small interpreter of Azure Policy conditions, as the documentation describes them, to
check that an exported definition flags exactly the resources its rule fails.

It is not Azure Policy: it is the documented semantics, written down once
(learn.microsoft.com/azure/governance/policy/concepts/definition-structure-policy-rule and
how-to/author-policies-for-arrays): string conditions compare case-insensitively; a missing
(or null) property makes ``equals``/``in``/``contains``/``like`` false and their negations
true; a ``[*]`` alias in ``count.where`` is the element being counted, and a missing array
has no elements; ``auditIfNotExists`` flags a resource when no related resource of
``details.type`` and ``details.name`` satisfies ``existenceCondition``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policyengine.export.aliases import AliasTable, Field
from policyengine.paths import MISSING, lookup, parse_path

NUMBERS = (int, float)
ORDER = {"greater": operator.gt, "greaterOrEquals": operator.ge, "less": operator.lt,
         "lessOrEquals": operator.le}


def _fields(table: AliasTable) -> dict[str, tuple[str, ...] | None]:
    """Every alias → the path it reads (None for an element alias: bound while counting)."""
    out: dict[str, tuple[str, ...] | None] = {}

    def add(key: str, found: Field) -> None:
        out[found.name.lower()] = tuple(str(s) for s in parse_path(key).segments)
        if found.elements is not None:
            out[found.elements.name.lower()] = None

    for entry in table.types.values():
        for key, found in entry.fields.items():
            add(key, found)
    for key, found in table.common.items():
        add(key, found)
    return out


@dataclass
class Scope:
    document: Any
    type: str
    elements: dict[str, Any] = field(default_factory=dict)


class AzureOracle:
    def __init__(self, table: AliasTable) -> None:
        self.paths = _fields(table)

    def flags(self, definition: Mapping[str, Any], document: Any, resource_type: str,
              related: Mapping[tuple[str, str], Any]) -> bool:
        """Whether the definition reports ``document`` as non-compliant. ``related`` holds
        the related resources by (type, name), lower case; None: it does not exist."""
        rule = definition["properties"]["policyRule"]
        if not self.holds(rule["if"], Scope(document, resource_type)):
            return False
        details = rule["then"].get("details")
        if details is None:
            return True
        condition = details.get("existenceCondition")
        if "name" not in details:  # any resource of the type: compliant where one matches
            ltype = details["type"].lower()
            found = [child for (kind, _), child in related.items() if kind == ltype and child is not None]
            return not any(condition is None or self.holds(condition, Scope(child, details["type"]))
                           for child in found)
        child = related.get((details["type"].lower(), details["name"].lower()))
        if child is None:
            return True
        return condition is not None and not self.holds(condition, Scope(child, details["type"]))

    def value(self, name: str, scope: Scope) -> Any:
        if name == "type":
            return scope.type
        tag = re.fullmatch(r"tags\['(.*)'\]", name)
        if tag:
            return lookup(scope.document, ("tags", tag.group(1).replace("''", "'")))
        key = name.lower()
        if key in scope.elements:
            element = scope.elements[key]
            return MISSING if element is None else element
        path = self.paths[key]
        assert path is not None, f"{name} outside its count"
        return lookup(scope.document, path)

    def holds(self, cond: Mapping[str, Any], scope: Scope) -> bool:
        if "allOf" in cond:
            return all(self.holds(c, scope) for c in cond["allOf"])
        if "anyOf" in cond:
            return any(self.holds(c, scope) for c in cond["anyOf"])
        if "not" in cond:
            return not self.holds(cond["not"], scope)
        if "count" in cond:
            return self.count(cond, scope)
        actual = self.value(cond["field"], scope)
        (op, expected), = ((k, v) for k, v in cond.items() if k != "field")
        return compare(op, actual, expected)

    def count(self, cond: Mapping[str, Any], scope: Scope) -> bool:
        alias = cond["count"]["field"]
        array_alias = alias[:-3].lower()  # "x[*]" counts the array "x"
        items = self.value(array_alias, scope)
        items = items if isinstance(items, list) else []
        where = cond["count"].get("where")
        counted = sum(1 for item in items if where is None or self.holds(
            where, Scope(scope.document, scope.type, {**scope.elements, alias.lower(): item})))
        (op, expected), = ((k, v) for k, v in cond.items() if k != "count")
        return compare(op, counted, expected)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, NUMBERS) and not isinstance(actual, bool) and isinstance(expected, NUMBERS):
        return actual == expected
    text = str(actual).lower() if isinstance(actual, bool) else actual
    return isinstance(text, str | int | float) and str(text).casefold() == str(expected).casefold()


def compare(op: str, actual: Any, expected: Any) -> bool:
    present = actual is not MISSING
    if op == "exists":
        return present == (str(expected).lower() == "true")
    negated = {"notEquals": "equals", "notIn": "in", "notContains": "contains", "notLike": "like"}
    if op in negated:
        return not compare(negated[op], actual, expected)
    if not present:
        return False
    if op == "equals":
        return _same(actual, expected)
    if op == "in":
        return any(_same(actual, e) for e in expected)
    if op == "contains":
        return isinstance(actual, str) and expected.casefold() in actual.casefold()
    if op == "like":
        pattern = ".*".join(re.escape(part) for part in expected.split("*"))
        return isinstance(actual, str) and re.fullmatch(pattern, actual, re.IGNORECASE | re.DOTALL) is not None
    if op not in ORDER or isinstance(actual, bool) or not isinstance(actual, NUMBERS):
        raise AssertionError(f"{op} on {actual!r}: Azure Policy raises an evaluation error")
    return bool(ORDER[op](actual, expected))
