"""Logical, comparison and numeric functions:
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-logical,
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-comparison,
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-numeric

``if``, ``and``, ``or`` and ``coalesce`` are ``lazy`` in the table: "only the path that applies
is evaluated" (if), and a known answer short-circuits an unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.values import (
    FunctionError,
    compare,
    deep_equal,
    has_unknown,
    int64,
    literal,
    need_array,
    need_bool,
    need_int,
    type_name,
)
from policyengine.unknown import Unknown

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]
_INTEGER = re.compile(r"\s*[-+]?\d+\s*")
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def if_(ev: Evaluator, args: Args) -> Any:
    condition = ev.eval(args[0])
    if isinstance(condition, Unknown):
        # Both branches might be taken: the same known value either way is still known.
        texts = [ev.text_of(args[1]), ev.text_of(args[2])]
        if texts[0] == texts[1] and not has_unknown(yes := ev.eval(args[1]), ev.scope.budget):
            return yes
        return Unknown(f"if({condition.text}, {texts[0]}, {texts[1]})", condition.reason)
    return ev.eval(args[1] if need_bool(condition, "the condition") else args[2])


def and_(ev: Evaluator, args: Args) -> Any:
    return _connective(ev, "and", args, stop=False)


def or_(ev: Evaluator, args: Args) -> Any:
    return _connective(ev, "or", args, stop=True)


def _connective(ev: Evaluator, name: str, args: Args, *, stop: bool) -> Any:
    """``and`` stops at a known false, ``or`` at a known true; otherwise an unknown operand
    leaves the answer unknown."""
    values: list[Any] = []
    for arg in args:
        value = ev.eval(arg)
        values.append(value)
        if not isinstance(value, Unknown) and need_bool(value, "every argument") is stop:
            return stop
    unknown = next((v for v in values if isinstance(v, Unknown)), None)
    return not stop if unknown is None else ev.unknown_call(name, values, unknown.reason)


def not_(_: Evaluator, args: Args) -> bool:
    return not need_bool(args[0])


def coalesce(ev: Evaluator, args: Args) -> Any:
    """The first argument that is not null; an unknown before it leaves the answer unknown."""
    for i, arg in enumerate(args):
        value = ev.eval(arg)
        if isinstance(value, Unknown):
            texts = [literal(None)] * i + [value.text] + [ev.text_of(rest) for rest in args[i + 1:]]
            return Unknown(f"coalesce({', '.join(texts)})", value.reason)
        if value is not None:
            return value
    return None


def true_(_: Evaluator, args: Args) -> bool:
    return True


def false_(_: Evaluator, args: Args) -> bool:
    return False


def bool_(_: Evaluator, args: Args) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise FunctionError(f"cannot convert {type_name(value)} {value!r} to a bool" if isinstance(value, str)
                        else f"cannot convert {type_name(value)} to a bool")


# -- comparison


def equals(_: Evaluator, args: Args) -> bool:
    return deep_equal(args[0], args[1])


def less(_: Evaluator, args: Args) -> bool:
    return compare(args[0], args[1]) < 0


def less_or_equals(_: Evaluator, args: Args) -> bool:
    return compare(args[0], args[1]) <= 0


def greater(_: Evaluator, args: Args) -> bool:
    return compare(args[0], args[1]) > 0


def greater_or_equals(_: Evaluator, args: Args) -> bool:
    return compare(args[0], args[1]) >= 0


# -- numbers: 64-bit integers; division and remainder truncate toward zero as in C#


def add(_: Evaluator, args: Args) -> int:
    return int64(need_int(args[0], "operand1") + need_int(args[1], "operand2"))


def sub(_: Evaluator, args: Args) -> int:
    return int64(need_int(args[0], "operand1") - need_int(args[1], "operand2"))


def mul(_: Evaluator, args: Args) -> int:
    return int64(need_int(args[0], "operand1") * need_int(args[1], "operand2"))


def div(_: Evaluator, args: Args) -> int:
    a, b = need_int(args[0], "operand1"), need_int(args[1], "operand2")
    if b == 0:
        raise FunctionError("division by zero")
    quotient = abs(a) // abs(b)
    return int64(quotient if (a < 0) == (b < 0) else -quotient)


def mod(_: Evaluator, args: Args) -> int:
    a, b = need_int(args[0], "operand1"), need_int(args[1], "operand2")
    if b == 0:
        raise FunctionError("division by zero")
    remainder = abs(a) % abs(b)
    return remainder if a >= 0 else -remainder


def min_(_: Evaluator, args: Args) -> int:
    return min(_numbers(args))


def max_(_: Evaluator, args: Args) -> int:
    return max(_numbers(args))


def _numbers(args: Args) -> list[int]:
    values = need_array(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    if not values:
        raise FunctionError("needs at least one integer")
    return [need_int(v, "every value") for v in values]


def int_(_: Evaluator, args: Args) -> int:
    value = args[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int64(int(value))
    if isinstance(value, float):
        return int64(round(value))  # .NET Convert.ToInt64 rounds halves to even, as round() does
    raise FunctionError(f"cannot convert {type_name(value)} to an int"
                        + (f": {value!r} is not an integer" if isinstance(value, str) else ""))


def float_(_: Evaluator, args: Args) -> float:
    value = args[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    raise FunctionError(f"cannot convert {type_name(value)} to a number")
