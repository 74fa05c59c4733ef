"""Lambda functions: https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-lambda

They are ``lazy`` in the table: they get their arguments unevaluated, because the last one is a
``lambda(...)`` to call per element rather than a value. A lambda may appear only there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.values import (
    FunctionError,
    Lambda,
    need_array,
    need_bool,
    need_object,
    need_str,
)
from policyengine.unknown import Unknown

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]


class _Undecided(Exception):
    """A lambda answered with an unknown where the result depends on the answer."""

    def __init__(self, unknown: Unknown) -> None:
        super().__init__(unknown.text)
        self.unknown = unknown


def _run(ev: Evaluator, name: str, args: Args, params: int, body: Any) -> Any:
    """Evaluate the input, take the lambda, and run ``body(input, lambda)``; an unknown input
    or an undecided lambda makes the whole call unknown."""
    source = ev.eval(args[0])
    fn = ev.lambda_arg(args[-1], params)
    extra = [ev.eval(a) for a in args[1:-1]]
    if isinstance(source, Unknown):
        return ev.unknown_call(name, [source, *extra, fn], source.reason)
    try:
        return body(source, fn, *extra)
    except _Undecided as undecided:
        return ev.unknown_call(name, [source, *extra, fn], undecided.unknown.reason)


def _decided(value: Any) -> Any:
    if isinstance(value, Unknown):
        raise _Undecided(value)
    return value


def filter_(ev: Evaluator, args: Args) -> Any:
    def body(source: Any, fn: Lambda) -> list[Any]:
        return [item for item in need_array(source, "inputArray")
                if need_bool(_decided(ev.apply(fn, item)), "the lambda's result")]
    return _run(ev, "filter", args, 1, body)


def map_(ev: Evaluator, args: Args) -> Any:
    def body(source: Any, fn: Lambda) -> list[Any]:
        return [ev.apply(fn, item) for item in need_array(source, "inputArray")]
    return _run(ev, "map", args, 1, body)


def reduce(ev: Evaluator, args: Args) -> Any:
    def body(source: Any, fn: Lambda, initial: Any) -> Any:
        current = initial
        for item in need_array(source, "inputArray"):
            current = ev.apply(fn, current, item)
        return current
    return _run(ev, "reduce", args, 2, body)


def sort(ev: Evaluator, args: Args) -> Any:
    """The lambda says whether its first argument sorts before its second."""
    def body(source: Any, fn: Lambda) -> list[Any]:
        def order(a: Any, b: Any) -> int:
            if need_bool(_decided(ev.apply(fn, a, b)), "the lambda's result"):
                return -1
            return 1 if need_bool(_decided(ev.apply(fn, b, a)), "the lambda's result") else 0
        return sorted(need_array(source, "inputArray"), key=functools.cmp_to_key(order))
    return _run(ev, "sort", args, 2, body)


def to_object(ev: Evaluator, args: Args) -> Any:
    """An object keyed by the first lambda, valued by the second (or the element itself)."""
    source = ev.eval(args[0])
    key_fn = ev.lambda_arg(args[1], 1)
    value_fn = ev.lambda_arg(args[2], 1) if len(args) > 2 else None
    lambdas = [key_fn] + ([value_fn] if value_fn else [])
    if isinstance(source, Unknown):
        return ev.unknown_call("toObject", [source, *lambdas], source.reason)
    out: dict[str, Any] = {}
    for item in need_array(source, "inputArray"):
        key = ev.apply(key_fn, item)
        if isinstance(key, Unknown):
            return ev.unknown_call("toObject", [source, *lambdas], key.reason)
        out[need_str(key, "every key")] = ev.apply(value_fn, item) if value_fn else item
    return out


def group_by(ev: Evaluator, args: Args) -> Any:
    def body(source: Any, fn: Lambda) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for item in need_array(source, "inputArray"):
            out.setdefault(need_str(_decided(ev.apply(fn, item)), "every key"), []).append(item)
        return out
    return _run(ev, "groupBy", args, 1, body)


def map_values(ev: Evaluator, args: Args) -> Any:
    def body(source: Any, fn: Lambda) -> dict[str, Any]:
        return {k: ev.apply(fn, v) for k, v in need_object(source, "inputObject").items()}
    return _run(ev, "mapValues", args, 1, body)


def lambda_(_: Evaluator, args: Args) -> Any:
    raise FunctionError("can only be an argument of filter, groupBy, map, mapValues, reduce, sort, toObject")


def lambda_variables(ev: Evaluator, args: Args) -> Any:
    name = need_str(args[0], "the variable name")
    if name.lower() not in ev.lambdas:
        raise FunctionError(f"no enclosing lambda declares {name!r}")
    return ev.lambdas[name.lower()]
