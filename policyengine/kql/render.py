"""Rule conditions as KQL expressions, with the evaluator's three-valued logic.

A condition becomes a pair of expressions:

* its **value**, an integer — 0 fail, 1 unknown, 2 pass — so that Kleene's logic is a
  ``case()`` over the three truth values: ``allOf`` is the least of its items (fail if one
  fails, else unknown if one is unknown, else pass), ``anyOf`` the greatest, ``not`` is
  ``2 - v``. (``min_of``/``max_of`` would say it shorter, but have no public evidence that
  Resource Graph accepts them.) Each item of ``allOf``/``anyOf`` is extended as a column of
  its own (``['RULE condition.1']``) and the ``case()`` reads the columns, so that a nested
  condition's text is written once, not once per truth value;
* its **error**, a boolean: true where the evaluator would raise an operand error. As the
  evaluator evaluates every item of ``allOf``/``anyOf``, an error anywhere is an error.

A comparison on an absent value yields ``onMissing`` explicitly (``isnull()`` of a missing
dynamic path is true in KQL, and ``tostring()`` of it is ``""``, so nothing is left to
accident); on related data the query could not see (no row in the joined table), it yields
unknown, as the evaluator does for data that was not read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policyengine import ir
from policyengine.kql import quote, typed
from policyengine.kql.quote import KqlUnsupported
from policyengine.operators import COUNT_COMPARISONS, NUMERIC_PATTERN, OPERATORS
from policyengine.paths import FieldPath

FAIL, UNKNOWN, PASS = 0, 1, 2
_ON_MISSING = {ir.OnMissing.FAIL: FAIL, ir.OnMissing.UNKNOWN: UNKNOWN, ir.OnMissing.PASS: PASS}


@dataclass(frozen=True)
class Operand:
    """How the query reads one path: ``value`` (a dynamic expression), and ``observed``, a
    boolean expression that is false where the data was not seen at all (None: always seen)."""

    value: str
    observed: str | None = None
    #: The value is one of ARG's string columns (name, kind, location...), never dynamic:
    #: array and bag functions do not apply to it.
    string_column: bool = False


Resolve = Callable[[FieldPath], Operand]


@dataclass(frozen=True)
class Rendered:
    value: str
    error: str
    #: Columns to extend before ``value`` is read: ``(level, name, expression)``. A column
    #: reads only columns of lower levels, and Kusto reads no column an ``extend`` defines in
    #: that same ``extend``: the planner extends each level in an operator of its own.
    bindings: tuple[tuple[int, str, str], ...] = ()
    #: The highest level of the columns ``value`` reads (0: none).
    level: int = 0


def _any(parts: list[str]) -> str:
    parts = [p for p in parts if p != "false"]
    if not parts:
        return "false"
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _leaf(test_holds: str, test_error: str, operand: Operand, on_missing: int, presence: bool) -> Rendered:
    x = operand.value
    if presence:
        value = f"iff({test_holds}, {PASS}, {FAIL})"
        error = "false"
    else:
        value = f"iff(isnull({x}), {on_missing}, iff({test_holds}, {PASS}, {FAIL}))"
        error = "false" if test_error == "false" else f"(isnotnull({x}) and {test_error})"
    if operand.observed is not None:
        value = f"iff({operand.observed}, {value}, {UNKNOWN})"
        if error != "false":
            error = f"({operand.observed} and {error})"
    return Rendered(value, error)


def render(node: ir.Condition, rule: ir.Rule, resolve: Resolve, name: str | None = None) -> Rendered:
    """The KQL value and error expressions of ``node``; raises :class:`KqlUnsupported`.
    ``name`` prefixes the columns the items of ``allOf``/``anyOf`` are extended as."""
    name = name if name is not None else f"{rule.id} value"
    if isinstance(node, ir.Compare):
        if node.path.element:
            raise KqlUnsupported("'@' paths (array elements)")
        op = OPERATORS[node.op]
        operand = resolve(node.path)
        if operand.string_column and node.op == "hasValue":
            # ARG gives "" (never null) for an unset string column; "" has no value.
            holds = f"strlen({operand.value}) > 0"
            return _leaf(holds if node.value else f"not({holds})", "false", operand, PASS, True)
        test = typed.RENDERERS[node.op](operand.value, node.value, node.case_sensitive, NUMERIC_PATTERN)
        if operand.string_column:
            # One of ARG's string columns is never an array or an object (and array_length()
            # of a string does not type-check).
            structured = typed.is_structured(operand.value)
            test = typed.KqlTest(test.holds.replace(structured, "false"),
                                 test.error.replace(structured, "false"))
        on_missing = _ON_MISSING[node.on_missing or rule.on_missing]
        return _leaf(test.holds, test.error, operand, on_missing, op.presence)
    if isinstance(node, ir.Count):
        if node.where is not None:
            raise KqlUnsupported("count with a where condition (it needs mv-expand per element)")
        operand = resolve(node.path)
        if operand.string_column:
            # A string is never an array: the evaluator says error for every resource.
            return Rendered(f"{UNKNOWN}", "true")
        compare = typed.RENDERERS[node.op]
        holds = compare(f"array_length({operand.value})", node.value, True, NUMERIC_PATTERN).holds
        # An absent array counts zero elements: decided here, at compile time.
        empty = OPERATORS[node.op].predicate(0, node.value, True)
        x = operand.value
        value = f"iff(isnull({x}), {PASS if empty else FAIL}, iff({holds}, {PASS}, {FAIL}))"
        error = f"(isnotnull({x}) and isnull(array_length({x})))"
        if operand.observed is not None:
            value = f"iff({operand.observed}, {value}, {UNKNOWN})"
            error = f"({operand.observed} and {error})"
        return Rendered(value, error)
    if isinstance(node, ir.Not):
        inner = render(node.item, rule, resolve, f"{name}.1")
        return Rendered(f"({PASS} - {inner.value})", inner.error, inner.bindings, inner.level)
    items = [render(item, rule, resolve, f"{name}.{i}") for i, item in enumerate(node.items, 1)]
    if len(items) == 1:
        return items[0]
    bindings = [b for item in items for b in item.bindings]
    refs, level = [], 0
    for i, item in enumerate(items, 1):
        if item.value.isdigit():
            refs.append(item.value)
            continue
        bindings.append((item.level + 1, f"{name}.{i}", item.value))
        refs.append(quote.name(f"{name}.{i}"))
        level = max(level, item.level + 1)
    # allOf: fail if any fails, else unknown if any is unknown; anyOf: the mirror image.
    first, last = (FAIL, PASS) if isinstance(node, ir.AllOf) else (PASS, FAIL)
    branches = [f"{' or '.join(f'{r} == {v}' for r in refs)}, {v}" for v in (first, UNKNOWN)]
    value = f"case({', '.join(branches)}, {last})"
    return Rendered(value, _any([i.error for i in items]), tuple(bindings), level)


Binding = tuple[int, str, str]


def verdict_columns(rule: ir.Rule,
                    resolve: Resolve) -> tuple[list[Binding], list[tuple[str, str]], tuple[str, str]]:
    """The rule's verdict, decided as the evaluator decides it: an error in ``where`` first;
    then ``where`` fail (not_applicable) or unknown; then an error in the condition; then the
    condition's value. Returns the items' columns (:attr:`Rendered.bindings`), the value
    columns to extend next (``RULE where``, ``RULE condition``) and then the verdict column
    (``verdict RULE``), a string."""
    bindings: list[Binding] = []
    values: list[tuple[str, str]] = []
    branches: list[str] = []

    def decide(label: str, node: ir.Condition, outcomes: tuple[tuple[int, str], ...]) -> None:
        rendered = render(node, rule, resolve, f"{rule.id} {label}")
        bindings.extend(rendered.bindings)
        values.append((f"{rule.id} {label}", rendered.value))
        ref = quote.name(f"{rule.id} {label}")
        if rendered.error != "false":
            branches.append(f'{rendered.error}, "error"')
        branches.extend(f'{ref} == {code}, "{verdict}"' for code, verdict in outcomes)

    if rule.where is not None:
        decide("where", rule.where, ((FAIL, "not_applicable"), (UNKNOWN, "unknown")))
    decide("condition", rule.condition, ((PASS, "pass"), (FAIL, "fail")))
    text = "case(\n        " + ",\n        ".join(branches) + ',\n        "unknown")'
    return bindings, values, (f"verdict {rule.id}", text)


__all__ = ["COUNT_COMPARISONS", "Operand", "Rendered", "render", "verdict_columns"]
