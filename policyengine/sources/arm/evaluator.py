"""Evaluating expressions and template JSON: calls through the function table, member and
index access, copy loops, lambdas, user-defined functions, and the Unknown rules.

The rules for values not known before deployment live here, once: a function that gets an
unknown argument returns an unknown whose text is the call with its known arguments written
as literals (``toLower(parameters('x'))``), unless the function is marked in the table as
answering for unknowns itself (``length`` of an array that holds one, ``if`` with a known
condition, ``concat`` building a name from known and unknown pieces).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.expressions import (
    Call,
    Expr,
    Literal,
    Member,
    TemplateError,
    canonical,
    member_text,
)
from policyengine.sources.arm.functions import FUNCTIONS, Function
from policyengine.sources.arm.values import (
    FunctionError,
    Lambda,
    Mode,
    Unsupported,
    check_size,
    conforms,
    has_unknown,
    literal,
    type_name,
)
from policyengine.sources.jsonpos import span_at
from policyengine.unknown import Unknown

if TYPE_CHECKING:
    from policyengine.sources.arm.scope import TemplateScope

# https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-properties#copy-limits
MAX_COPY = 800


@dataclass(frozen=True)
class Loop:
    """One copy loop around an expression; property and variable loops answer only to
    ``copyIndex('name')``, resource and output loops also to ``copyIndex()``."""

    name: str
    index: int | Unknown  # unknown: one instance stands for a loop whose count is known only at deployment
    named_only: bool = False


class Evaluator:
    """Evaluates within one scope, under given copy loops, lambda variables and mode."""

    def __init__(self, scope: TemplateScope, loops: Sequence[Loop] = (), *, mode: Mode = Mode.TEMPLATE,
                 lambdas: Mapping[str, Any] | None = None, args: Mapping[str, Any] | None = None) -> None:
        self.scope = scope
        self.loops = tuple(loops)
        self.mode = mode
        self.lambdas = dict(lambdas or {})
        self.args = dict(args or {})  # a user-defined function's parameters, by lower-case name

    def child(self, *, loop: Loop | None = None, lambdas: Mapping[str, Any] | None = None) -> Evaluator:
        return Evaluator(self.scope, self.loops + ((loop,) if loop else ()), mode=self.mode,
                         lambdas={**self.lambdas, **(lambdas or {})}, args=self.args)

    # -- template JSON

    def walk(self, value: Any, container: Any = None, key: str | int | None = None) -> Any:
        """A template JSON value with every expression evaluated and property copy loops expanded."""
        budget = self.scope.budget
        budget.enter()
        try:
            budget.charge()
            if isinstance(value, str):
                return self._string(value, container, key)
            # Plain loops rather than comprehensions: each comprehension is one more stack frame.
            if isinstance(value, dict):
                copies = value.get("copy")
                loops: list[Any] = copies if isinstance(copies, list) and is_property_copy(copies) else []
                out: dict[str, Any] = {}
                for k, v in value.items():
                    if not (loops and k == "copy"):
                        out[k] = self.walk(v, value, k)
                for spec in loops:
                    out[spec["name"]] = self.copy_array(spec, spec["name"], named_only=True)
                return out
            if isinstance(value, list):
                items: list[Any] = []
                for i, item in enumerate(value):
                    items.append(self.walk(item, value, i))
                return items
            return value
        finally:
            budget.leave()

    def _string(self, text: str, container: Any, key: str | int | None) -> Any:
        outer_where = self.scope.where
        try:
            parsed = self.scope.parse(text)
            if isinstance(parsed, str):
                return parsed
            if container is not None and key is not None:
                self.scope.where = span_at(container, key)
            return self.eval(parsed)
        except TemplateError as exc:
            if exc.span is None and container is not None and key is not None:
                exc.span = span_at(container, key)
            raise
        finally:
            self.scope.where = outer_where

    def copy_array(self, spec: Mapping[str, Any], name: str, *, named_only: bool) -> Any:
        """The array a ``copy`` element builds: ``count`` evaluations of ``input``."""
        if "count" not in spec or "input" not in spec:
            raise TemplateError(f"copy loop {name!r} needs both 'count' and 'input'", span_at(spec, "name"))
        count = self.walk(spec["count"], spec, "count")
        if isinstance(count, Unknown):
            # No expression stands for this array; the pseudo-call names all it depends on (the
            # input as written and the enclosing loops), so equal texts still mean equal values.
            written = json.dumps(spec["input"], sort_keys=True, default=str)
            loops = "".join(f", {literal(loop.name)}, {loop.index}" for loop in self.loops)
            return Unknown(f"copy({literal(name)}, {count.text}, {literal(written)}{loops})", count.reason)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COPY:
            shown = count if isinstance(count, int) else type_name(count)
            raise TemplateError(f"copy loop {name!r}: count must be an int from 0 to {MAX_COPY}, not {shown}",
                                span_at(spec, "count"))
        return [self.child(loop=Loop(name, i, named_only)).walk(spec["input"], spec, "input")
                for i in range(count)]

    # -- expressions

    def eval(self, expr: Expr) -> Any:
        budget = self.scope.budget
        budget.enter()
        try:
            budget.charge()
            if isinstance(expr, Literal):
                return expr.value
            if isinstance(expr, Call):
                return self._call(expr)
            if isinstance(expr, Member):
                return self.member(self.eval(expr.base), expr.name)
            return self.index(self.eval(expr.base), self.eval(expr.index))
        finally:
            budget.leave()

    def member(self, base: Any, name: str) -> Any:
        """``base.name``: object properties match case-insensitively, as ARM's do."""
        if isinstance(base, Unknown):
            return Unknown(member_text(base.text, name), base.reason)
        if not isinstance(base, dict):
            raise TemplateError(f"cannot read property {name!r} of {type_name(base)}")
        if name in base:
            return base[name]
        for key, value in base.items():
            if key.lower() == name.lower():
                return value
        shown = ", ".join(list(base)[:20]) or "none"
        raise TemplateError(f"the object has no property {name!r} (its properties: {shown})")

    def index(self, base: Any, index: Any) -> Any:
        """``base[index]``: an array element, or an object property by name."""
        if isinstance(index, Unknown):
            return Unknown(f"{literal(base)}[{index.text}]", index.reason)
        if isinstance(index, str):
            return self.member(base, index)
        if isinstance(base, Unknown):
            return Unknown(f"{base.text}[{literal(index)}]", base.reason)
        if not isinstance(base, list):
            raise TemplateError(f"cannot index {type_name(base)} with {type_name(index)}")
        if isinstance(index, bool) or not isinstance(index, int):
            raise TemplateError(f"an array index must be an int, not {type_name(index)}")
        if not 0 <= index < len(base):
            raise TemplateError(f"index {index} is out of range for an array of {len(base)} items")
        return base[index]

    def _call(self, node: Call) -> Any:
        fn = FUNCTIONS.get(node.name.lower())
        if fn is None:
            return self._other_call(node)
        count = len(node.args)
        if count < fn.min_args or (fn.max_args is not None and count > fn.max_args):
            raise TemplateError(f"{fn.name}() takes {arity_text(fn)}, not {count}")
        args: list[Any] = []
        if fn.kind == "lazy":
            args.extend(node.args)
        else:
            for arg in node.args:
                args.append(self.eval(arg))
            if fn.kind == "plain":
                for arg in args:
                    found = has_unknown(arg, self.scope.budget)
                    if found is not None:
                        return self.unknown_call(fn.name, args, found.reason)
        try:
            result = fn.impl(self, args)
            check_size(result)
        except FunctionError as exc:
            raise TemplateError(f"{fn.name}(): {exc}") from None
        except Unsupported as exc:
            return self.unsupported(node, f"{fn.name}(): {exc} is not supported by this scanner")
        if isinstance(result, str | list):
            self.scope.budget.charge(len(result) // (64 if isinstance(result, str) else 8))
        return result

    def _other_call(self, node: Call) -> Any:
        """A name outside the table: a user-defined function, a ``list*`` runtime call, or
        a function this scanner does not know (an Unknown and a note, never a crash)."""
        if "." in node.name:
            return self._user_call(node)
        if node.name.lower().startswith("list"):
            if self.mode is not Mode.TEMPLATE:
                raise TemplateError(f"{node.name}() cannot be used in a {self.mode.value}")
            values: list[Any] = []
            for arg in node.args:
                values.append(self.eval(arg))
            return self.unknown_call(node.name, values, f"{node.name}() returns a resource's runtime values")
        return self.unsupported(node, f"unsupported function {node.name!r}")

    def unsupported(self, node: Call, reason: str) -> Unknown:
        self.scope.note(reason)
        return Unknown(f"{node.name}({', '.join(self.text_of(a) for a in node.args)})", reason)

    def _user_call(self, node: Call) -> Any:
        found = self.scope.user_function(node.name)
        if found is None:
            raise TemplateError(f"{node.name}(): the template defines no such user-defined function")
        if self.mode is Mode.FUNCTION and not self.scope.language_v2:
            # https://learn.microsoft.com/azure/azure-resource-manager/templates/user-defined-functions#limitations
            raise TemplateError(f"{node.name}(): a user-defined function can't call another one")
        params, output = found
        if len(node.args) != len(params):
            raise TemplateError(f"{node.name}() takes {len(params)} argument(s), not {len(node.args)}")
        args: dict[str, Any] = {}
        for param, arg in zip(params, node.args, strict=True):
            value = self.eval(arg)
            if not conforms(value, str(param.get("type", ""))):
                raise TemplateError(f"{node.name}(): parameter {param.get('name')!r} must be "
                                    f"{param.get('type')}, not {type_name(value)}")
            args[str(param.get("name", "")).lower()] = value
        body = Evaluator(self.scope, mode=Mode.FUNCTION, args=args)
        result = body.walk(output.get("value"), output, "value")
        if not conforms(result, str(output.get("type", ""))):
            raise TemplateError(f"{node.name}() must return {output.get('type')}, not {type_name(result)}")
        return result

    # -- helpers for the functions

    def unknown_call(self, name: str, args: Sequence[Any], reason: str) -> Unknown:
        """The unknown result of ``name(args)``, its known arguments written as literals."""
        try:
            return Unknown(f"{name}({', '.join(literal(a) for a in args)})", reason)
        except FunctionError as exc:
            raise TemplateError(f"{name}(): {exc}") from None

    def text_of(self, expr: Expr) -> str:
        """An argument as it reads in an unknown's text: its value as a literal, or, where it
        cannot be evaluated (an untaken ``if`` branch that ARM never evaluates), as written."""
        try:
            return literal(self.eval(expr))
        except (TemplateError, FunctionError):
            return canonical(expr)

    def lambda_arg(self, expr: Any, params: int) -> Lambda:
        """The ``lambda(...)`` argument of a lambda function, with ``params`` variables."""
        if not (isinstance(expr, Call) and expr.name == "lambda"):
            raise FunctionError("the last argument must be lambda(...)")
        names = [self.eval(a) for a in expr.args[:-1]]
        if len(names) != params or not all(isinstance(n, str) for n in names):
            raise FunctionError(f"the lambda must declare {params} variable name(s) as strings")
        return Lambda(tuple(names), expr.args[-1])

    def apply(self, fn: Lambda, *values: Any) -> Any:
        """The lambda's body with its variables bound."""
        bound = {name.lower(): value for name, value in zip(fn.params, values, strict=True)}
        return self.child(lambdas=bound).eval(fn.body)

    def copy_index(self, name: str | None) -> int | Unknown:
        """The innermost loop's index, or the named loop's."""
        for loop in reversed(self.loops):
            if name is None and not loop.named_only:
                return loop.index
            if name is not None and loop.name.lower() == name.lower():
                return loop.index
        if name is None:
            raise FunctionError("used outside a copy loop (a property or variable loop needs its name: "
                                "copyIndex('name'))")
        raise FunctionError(f"no enclosing copy loop is named {name!r}")


def is_property_copy(value: Any) -> bool:
    """A ``copy`` member that is a list of ``{name, count, input}`` loops (a resource's own
    ``copy`` is an object and is the resource expander's business)."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(spec, dict) and isinstance(spec.get("name"), str) and "input" in spec for spec in value)


def arity_text(fn: Function) -> str:
    if fn.max_args == fn.min_args:
        return f"{fn.min_args} argument{'s' if fn.min_args != 1 else ''}"
    if fn.max_args is None:
        return f"at least {fn.min_args} argument{'s' if fn.min_args != 1 else ''}"
    return f"{fn.min_args} to {fn.max_args} arguments"
