"""Rule conditions as Azure Policy conditions, with the rule's three-valued logic made two.

Azure Policy has two outcomes where a rule has three: a definition's ``if`` either holds
(the resource is non-compliant, or denied) or not. An exported definition flags exactly what
the rule **fails**; what the rule passes or leaves unknown is not flagged, as the built-in
d158790f leaves servers without ``sslEnforcement`` alone (its ``exists: true`` guard). So a
condition is translated twice, by Kleene's logic:

* :meth:`Translator.passes` — the Azure condition that holds where the rule's condition passes;
* :meth:`Translator.fails` — where it fails. ``allOf`` fails where any item fails, ``anyOf``
  where every item fails, ``not`` fails where its item passes.

A comparison reads its value only when it is there: every comparison is guarded by an
``exists`` test, and an absent value yields the comparison's ``onMissing`` explicitly, so
nothing depends on how Azure Policy compares a missing field (``notEquals`` is true on it,
which is why d158790f needs its guard). ``exists``/``hasValue`` are about presence and take no
guard. A ``count`` whose ``where`` could be unknown for an element cannot be counted exactly
by Azure Policy, which has no undecided elements: it is reported.

Azure Policy semantics relied on (definition-structure-policy-rule, learn.microsoft.com/azure/
governance/policy/concepts/definition-structure-policy-rule): string conditions compare with
``InvariantCultureIgnoreCase`` — so a case-sensitive comparison cannot be expressed, and text
with non-ASCII letters would fold where the rule (ASCII folding, as KQL) does not; ``like``
takes one ``*`` wildcard; ``contains`` takes no ``*``; ``match`` takes ``#``/``?``/``.``
patterns, not regular expressions; ``less``/``greater`` on a property of another type is an
evaluation error; a ``[*]`` alias in ``count.where`` is the current element, and a missing array
counts zero elements (how-to/author-policies-for-arrays).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from policyengine import ir
from policyengine.export.aliases import Field
from policyengine.operators import OPERATORS
from policyengine.paths import FieldPath

Json = dict[str, Any]


class Unsupported(Exception):
    """A construct Azure Policy cannot express exactly; never exported as a weaker policy."""

    def __init__(self, construct: str, reason: str) -> None:
        super().__init__(reason)
        self.construct = construct
        self.reason = reason


# -- building and negating Azure conditions ---------------------------------------------------

def all_of(*items: Json) -> Json:
    return _logic("allOf", items)


def any_of(*items: Json) -> Json:
    return _logic("anyOf", items)


def _logic(key: str, items: tuple[Json, ...]) -> Json:
    flat: list[Json] = []
    for item in items:
        flat.extend(item[key] if set(item) == {key} else [item])
    return flat[0] if len(flat) == 1 else {key: flat}


def exists(field: Field, present: bool) -> Json:
    # A string, as the built-ins write it; the schema allows a string or a boolean.
    return {"field": field.name, "exists": "true" if present else "false"}


#: Conditions whose negation is another condition (on a present value, where every
#: translated leaf is evaluated): the definition reads as the built-ins do.
_DUALS = {"equals": "notEquals", "in": "notIn", "contains": "notContains", "like": "notLike",
          "match": "notMatch", "matchInsensitively": "notMatchInsensitively"}
_DUALS |= {v: k for k, v in _DUALS.items()}


def negate(cond: Json) -> Json:
    """``not cond``, pushed through ``allOf``/``anyOf`` (De Morgan) to the leaves."""
    if set(cond) == {"allOf"}:
        return any_of(*(negate(c) for c in cond["allOf"]))
    if set(cond) == {"anyOf"}:
        return all_of(*(negate(c) for c in cond["anyOf"]))
    if set(cond) == {"not"}:
        inner: Json = cond["not"]
        return inner
    if "field" in cond and "exists" in cond:
        return {"field": cond["field"], "exists": "false" if cond["exists"] == "true" else "true"}
    ops = [k for k in cond if k in _DUALS]
    if "field" in cond and len(ops) == 1:
        return {"field": cond["field"], _DUALS[ops[0]]: cond[ops[0]]}
    return {"not": cond}


# -- operators: the condition that holds on a present value ------------------------------------

Leaf = Callable[[Field, Any, bool], Json]


def _text(op: str, value: str, case_sensitive: bool) -> str:
    # Text without cased letters ("1.2", "-") compares the same either way.
    if case_sensitive and value.lower() != value.upper():
        raise Unsupported(op, f"a case-sensitive '{op}': Azure Policy compares strings case-insensitively "
                          "(InvariantCultureIgnoreCase), so it would accept other casings too")
    if not value.isascii():
        raise Unsupported(op, f"'{op}' with the non-ASCII text {value!r}: Azure Policy folds the case of "
                          "every letter, the rule only of ASCII letters")
    return value


def _literal(op: str, field: Field, value: Any, case_sensitive: bool) -> Any:
    """The rule's value as an Azure literal, if the field holds values of its type."""
    if isinstance(value, bool) and field.type == "boolean":
        return "true" if value else "false"  # the schema takes a string or a number
    if isinstance(value, int | float) and not isinstance(value, bool) and field.type in ("integer", "number"):
        if not math.isfinite(value):
            raise Unsupported(op, f"'{op}' with {value}: JSON has no such number")
        return value
    if isinstance(value, str) and field.type == "string":
        return _text(op, value, case_sensitive)
    kind = type(value).__name__
    raise Unsupported(op, f"'{op}' compares a {kind} value with {field.name}, a {field.type} property: "
                      "Azure Policy would convert between them by its own rules, not the rule's")


def _compare(az_op: str) -> Leaf:
    def leaf(field: Field, value: Any, cs: bool) -> Json:
        return {"field": field.name, az_op: _literal(az_op, field, value, cs)}

    return leaf


def _one_of(az_op: str) -> Leaf:
    def leaf(field: Field, values: Any, cs: bool) -> Json:
        return {"field": field.name, az_op: [_literal(az_op, field, v, cs) for v in values]}

    return leaf


def _exists(field: Field, value: Any, _cs: bool) -> Json:
    return exists(field, bool(value))


def _has_value(field: Field, value: Any, _cs: bool) -> Json:
    """Present and not empty ("", [], {}), as the evaluator's ``hasValue``."""
    if field.type == "string":
        holds = all_of(exists(field, True), {"field": field.name, "notEquals": ""})
    elif field.type == "array" and field.elements is not None:
        holds = {"count": {"field": field.elements.name}, "greater": 0}
    elif field.type in ("boolean", "integer", "number"):
        holds = exists(field, True)
    else:
        raise Unsupported("hasValue", f"'hasValue' on {field.name}, a {field.type} property: Azure Policy "
                          "has no test for an empty one")
    return holds if value else negate(holds)


def _contains(field: Field, value: Any, cs: bool) -> Json:
    if field.type == "array" and field.elements is not None:
        # An element equal to the value: count it (a field condition on [*] would ask all).
        member = {"field": field.elements.name, "equals": _literal("contains", field.elements, value, cs)}
        return {"count": {"field": field.elements.name, "where": member}, "greater": 0}
    if field.type != "string" or not isinstance(value, str):
        raise Unsupported("contains", f"'contains' on {field.name}, a {field.type} property")
    if "*" in value:
        raise Unsupported("contains", "'contains' with '*': Azure Policy does not allow it in the value")
    return {"field": field.name, "contains": _text("contains", value, cs)}


def _not_contains(field: Field, value: Any, cs: bool) -> Json:
    return negate(_contains(field, value, cs))


def _affix(prefix: bool) -> Leaf:
    op = "startsWith" if prefix else "endsWith"

    def leaf(field: Field, value: Any, cs: bool) -> Json:
        text = _literal(op, field, value, cs)
        if "*" in text:
            raise Unsupported(op, f"'{op}' with '*': it would be a second wildcard of 'like'")
        return {"field": field.name, "like": f"{text}*" if prefix else f"*{text}"}

    return leaf


_LITERAL_REGEX = re.compile(r"(?:[A-Za-z0-9 _\-:/@,=]|\\[^A-Za-z0-9])*")


def _match(field: Field, pattern: Any, cs: bool) -> Json:
    """A regular expression that is only literal text is an equality; anything else has no
    Azure Policy form (``match`` patterns know ``#``, ``?`` and ``.``, not regex syntax)."""
    if not _LITERAL_REGEX.fullmatch(pattern):
        raise Unsupported("match", f"the regular expression {pattern!r}: Azure Policy's match takes "
                          "#/?/. patterns, not regular expressions")
    return _compare("equals")(field, re.sub(r"\\(.)", r"\1", pattern), cs)


def _numeric(az_op: str) -> Leaf:
    def leaf(field: Field, value: Any, cs: bool) -> Json:
        if field.type not in ("integer", "number"):
            raise Unsupported(az_op, f"'{az_op}' on {field.name}, a {field.type} property: Azure Policy "
                              "raises an evaluation error where the rule reads numeric strings")
        return {"field": field.name, az_op: _literal(az_op, field, value, cs)}

    return leaf


def _structural(field: Field, value: Any, cs: bool) -> Json:
    raise AssertionError("count holds a condition: Translator.count renders it")


#: Every operator of :data:`policyengine.operators.OPERATORS`, by name: its Azure Policy
#: condition on a present value (a test holds the two tables' names equal).
LEAVES: dict[str, Leaf] = {
    "equals": _compare("equals"),
    "notEquals": _compare("notEquals"),
    "in": _one_of("in"),
    "notIn": _one_of("notIn"),
    "exists": _exists,
    "hasValue": _has_value,
    "contains": _contains,
    "notContains": _not_contains,
    "startsWith": _affix(prefix=True),
    "endsWith": _affix(prefix=False),
    "match": _match,
    "greater": _numeric("greater"),
    "greaterOrEquals": _numeric("greaterOrEquals"),
    "less": _numeric("less"),
    "lessOrEquals": _numeric("lessOrEquals"),
    "count": _structural,
}


# -- the translator ----------------------------------------------------------------------------

class Translator:
    """Translates the conditions of one rule; ``resolve`` gives the field a node reads."""

    def __init__(self, rule: ir.Rule, resolve: Callable[[FieldPath], Field],
                 element: Field | None = None) -> None:
        self.rule = rule
        self.resolve_path = resolve
        self.element = element  # the array element a count.where is evaluated on

    def field(self, path: FieldPath) -> Field:
        if not path.element:
            return self.resolve_path(path)
        if self.element is None:
            raise AssertionError("the loader keeps '@' paths inside count.where")
        if not path.segments:
            return self.element
        found = self.element.fields.get(".".join(map(str, path.segments)).lower())
        if found is None:
            raise Unsupported("field", f"{path.text}: no Azure Policy alias is known for this element "
                              f"property of {self.element.name} (policyengine/export/aliases.yaml)")
        return found

    def on_missing(self, node: ir.Compare) -> ir.OnMissing:
        """As the evaluator decides it: an element that lacks the value does not match."""
        return node.on_missing or (ir.OnMissing.FAIL if node.path.element else self.rule.on_missing)

    def passes(self, node: ir.Condition) -> Json:
        return self.translate(node, want_pass=True)

    def fails(self, node: ir.Condition) -> Json:
        return self.translate(node, want_pass=False)

    def translate(self, node: ir.Condition, want_pass: bool) -> Json:
        if isinstance(node, ir.Compare):
            return self.compare(node, want_pass)
        if isinstance(node, ir.Count):
            return self.count(node, want_pass)
        if isinstance(node, ir.Not):
            return self.translate(node.item, not want_pass)
        items = [self.translate(item, want_pass) for item in node.items]
        # allOf passes where all pass and fails where any fails; anyOf the other way round.
        return all_of(*items) if isinstance(node, ir.AllOf) == want_pass else any_of(*items)

    def compare(self, node: ir.Compare, want_pass: bool) -> Json:
        field = self.field(node.path)
        if field.unsupported:
            raise Unsupported("field", f"{node.path.text}: {field.unsupported}")
        holds = LEAVES[node.op](field, node.value, node.case_sensitive)
        if OPERATORS[node.op].presence:
            return holds if want_pass else negate(holds)
        outcome = ir.OnMissing.PASS if want_pass else ir.OnMissing.FAIL
        body = holds if want_pass else negate(holds)
        if self.on_missing(node) is outcome:
            return any_of(exists(field, False), body)
        return all_of(exists(field, True), body)

    def count(self, node: ir.Count, want_pass: bool) -> Json:
        field = self.field(node.path)
        if field.elements is None:
            raise Unsupported("count", f"count on {node.path.text}: {field.name} has no [*] alias "
                              "(Azure Policy counts only array aliases)")
        expression: Json = {"field": field.elements.name}
        if node.where is not None:
            if self.may_be_unknown(node.where):
                raise Unsupported("count", f"count on {node.path.text}: its where can be unknown for an "
                                  "element (onMissing: unknown); Azure Policy counts each element one way")
            inner = Translator(self.rule, self.resolve_path, field.elements)
            expression["where"] = inner.passes(node.where)
        counted = {"count": expression, node.op: node.value}
        return counted if want_pass else negate(counted)

    def may_be_unknown(self, node: ir.Condition) -> bool:
        """Whether ``node`` can be unknown where Azure sees all the data: only a comparison
        whose absent value is unknown can (Azure Policy reads everything it evaluates)."""
        if isinstance(node, ir.Compare):
            return not OPERATORS[node.op].presence and self.on_missing(node) is ir.OnMissing.UNKNOWN
        if isinstance(node, ir.Count):
            return node.where is not None and self.may_be_unknown(node.where)
        if isinstance(node, ir.Not):
            return self.may_be_unknown(node.item)
        return any(self.may_be_unknown(item) for item in node.items)
