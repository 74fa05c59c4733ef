"""Array and object functions (and the ones strings share with arrays):
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-array and
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-object

Functions marked ``unknowns`` in the table answer for unknown values themselves: the length of
an array that holds an unknown element is still known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.expressions import TemplateError
from policyengine.sources.arm.values import (
    MAX_ITEMS,
    MAX_VALUE_DEPTH,
    FunctionError,
    deep_equal,
    has_unknown,
    literal,
    need_array,
    need_int,
    need_object,
    need_str,
    parse_json,
    text_order,
    type_name,
    value_key,
)
from policyengine.unknown import Unknown

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]

# range(): "numberOfElements ... up to 10000"; "the sum of startIndex and numberOfElements must
# be no greater than 2147483647": https://learn.microsoft.com/azure/azure-resource-manager/
# templates/template-functions-array#range
MAX_RANGE = 10_000


def _unknown_arg(ev: Evaluator, name: str, args: Args) -> Unknown | None:
    """The unknown result of ``name(args)`` when an argument itself is unknown."""
    found = next((a for a in args if isinstance(a, Unknown)), None)
    return None if found is None else ev.unknown_call(name, args, found.reason)


def array(ev: Evaluator, args: Args) -> Any:
    value = args[0]
    if isinstance(value, Unknown):
        return ev.unknown_call("array", args, value.reason)
    return value if isinstance(value, list) else [value]


def create_array(_: Evaluator, args: Args) -> list[Any]:
    return list(args)


def create_object(ev: Evaluator, args: Args) -> Any:
    if len(args) % 2:
        raise FunctionError("takes keys and values in pairs (an even number of arguments)")
    out: dict[str, Any] = {}
    for key, value in zip(args[::2], args[1::2], strict=True):
        if isinstance(key, Unknown):
            return ev.unknown_call("createObject", args, key.reason)
        out[need_str(key, "every key")] = value
    return out


def empty(ev: Evaluator, args: Args) -> Any:
    value = args[0]
    if isinstance(value, Unknown):
        return ev.unknown_call("empty", args, value.reason)
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return not value
    raise FunctionError(f"takes an array, object or string, not {type_name(value)}")


def length(ev: Evaluator, args: Args) -> Any:
    value = args[0]
    if isinstance(value, Unknown):
        return ev.unknown_call("length", args, value.reason)
    if isinstance(value, str | list | dict):
        return len(value)
    raise FunctionError(f"takes an array, object or string, not {type_name(value)}")


def first(ev: Evaluator, args: Args) -> Any:
    """The first element (null for an empty array) or character ('' for an empty string)."""
    return _end(ev, "first", args, 0)


def last(ev: Evaluator, args: Args) -> Any:
    return _end(ev, "last", args, -1)


def _end(ev: Evaluator, name: str, args: Args, at: int) -> Any:
    value = args[0]
    if isinstance(value, Unknown):
        return ev.unknown_call(name, args, value.reason)
    if isinstance(value, list):
        return value[at] if value else None
    return need_str(value, "the argument (an array or string)")[at:][:1]


def take(ev: Evaluator, args: Args) -> Any:
    return _slice(ev, "take", args, lambda value, n: value[:max(n, 0)])


def skip(ev: Evaluator, args: Args) -> Any:
    return _slice(ev, "skip", args, lambda value, n: value[max(n, 0):])


def _slice(ev: Evaluator, name: str, args: Args, cut: Callable[[Any, int], Any]) -> Any:
    unknown = _unknown_arg(ev, name, args)
    if unknown is not None:
        return unknown
    value, count = args[0], need_int(args[1], "the count")
    if not isinstance(value, list | str):
        raise FunctionError(f"takes an array or string, not {type_name(value)}")
    return cut(value, count)


def contains(_: Evaluator, args: Args) -> bool:
    """Arrays hold a value (deep equality), objects a key (case-insensitive), strings a
    substring (case-sensitive), as documented."""
    container, item = args
    if isinstance(container, list):
        return any(deep_equal(element, item) for element in container)
    if isinstance(container, dict):
        number = isinstance(item, int) and not isinstance(item, bool)
        key = str(item) if number else need_str(item, "itemToFind")
        return any(k.lower() == key.lower() for k in container)
    if isinstance(container, str):
        return need_str(item, "itemToFind") in container
    raise FunctionError(f"takes an array, object or string, not {type_name(container)}")


def index_of(_: Evaluator, args: Args) -> int:
    """The first position of a value in an array (deep equality) or of text in a string
    (case-insensitive, as documented); -1 when absent."""
    return _find(args, last=False)


def last_index_of(_: Evaluator, args: Args) -> int:
    return _find(args, last=True)


def _find(args: Args, *, last: bool) -> int:
    container, item = args
    if isinstance(container, list):
        positions = range(len(container) - 1, -1, -1) if last else range(len(container))
        return next((i for i in positions if deep_equal(container[i], item)), -1)
    text = need_str(container, "the first argument (an array or string)").lower()
    sought = need_str(item).lower()
    if len(text) != len(container):  # lower-casing changed the length: compare in place
        size = len(item)
        positions = range(len(container) - size, -1, -1) if last else range(len(container) - size + 1)
        return next((i for i in positions if container[i:i + size].lower() == sought), -1)
    return text.rfind(sought) if last else text.find(sought)


def range_(_: Evaluator, args: Args) -> list[int]:
    start, count = need_int(args[0], "startIndex"), need_int(args[1], "numberOfElements")
    if not 0 <= count <= MAX_RANGE:
        raise FunctionError(f"numberOfElements must be from 0 to {MAX_RANGE}, not {count}")
    if start + count > 2_147_483_647:
        raise FunctionError("startIndex + numberOfElements must not exceed 2147483647")
    return list(range(start, start + count))


def json_(_: Evaluator, args: Args) -> Any:
    return parse_json(need_str(args[0]))


def null(_: Evaluator, args: Args) -> None:
    return None


def items(ev: Evaluator, args: Args) -> Any:
    """``[{key, value}]`` sorted by key, as the documented output shows."""
    value = args[0]
    if isinstance(value, Unknown):
        return ev.unknown_call("items", args, value.reason)
    obj = need_object(value)
    return [{"key": k, "value": obj[k]} for k in sorted(obj, key=text_order)]


def object_keys(ev: Evaluator, args: Args) -> Any:
    value = args[0]
    if isinstance(value, Unknown):
        return ev.unknown_call("objectKeys", args, value.reason)
    return list(need_object(value))


# -- set-like functions


def union(ev: Evaluator, args: Args) -> Any:
    """Arrays: elements in order, each once. Objects: merged deeply, later values winning;
    nested arrays are replaced, not merged (the documented deep-merge example)."""
    unknown = _unknown_arg(ev, "union", args)
    if unknown is not None:
        return unknown
    if all(isinstance(a, list) for a in args):
        found = has_unknown(list(args), ev.scope.budget)
        if found is not None:
            return ev.unknown_call("union", args, found.reason)
        out: list[Any] = []
        seen: set[Any] = set()
        for array in args:
            for element in array:
                key = value_key(element)
                if key not in seen:
                    seen.add(key)
                    out.append(element)
        return out
    if all(isinstance(a, dict) for a in args):
        merged: dict[str, Any] = {}
        for obj in args:
            merged = _merge(merged, obj, 0)
        return merged
    raise FunctionError("takes arrays or objects, not a mix: " + ", ".join(type_name(a) for a in args))


def _merge(old: dict[str, Any], new: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_VALUE_DEPTH:
        raise TemplateError(f"a value nests more than {MAX_VALUE_DEPTH} deep")
    out = dict(old)
    spelled = {k.lower(): k for k in out}  # ARM's property names are case-insensitive
    for key, value in new.items():
        existing = spelled.setdefault(key.lower(), key)
        before = out.get(existing)
        if isinstance(before, dict) and isinstance(value, dict):
            out[existing] = _merge(before, value, depth + 1)
        elif isinstance(before, Unknown) and isinstance(value, dict):
            out[existing] = Unknown(f"union({before.text}, {literal(value)})", before.reason)
        elif isinstance(before, dict) and isinstance(value, Unknown):
            out[existing] = Unknown(f"union({literal(before)}, {value.text})", value.reason)
        else:
            out[existing] = value
    return out


def intersection(_: Evaluator, args: Args) -> Any:
    if all(isinstance(a, list) for a in args):
        others = [{value_key(x) for x in other} for other in args[1:]]
        out: list[Any] = []
        seen: set[Any] = set()
        for element in args[0]:
            key = value_key(element)
            if key not in seen and all(key in other for other in others):
                seen.add(key)
                out.append(element)
        return out
    if all(isinstance(a, dict) for a in args):
        first_obj = args[0]
        return {k: v for k, v in first_obj.items()
                if all(k in other and deep_equal(other[k], v) for other in args[1:])}
    raise FunctionError("takes arrays or objects, not a mix: " + ", ".join(type_name(a) for a in args))


def _unknown_in(items: Any) -> Unknown | None:
    """The array itself if unknown, else its first unknown element (an array is required)."""
    if isinstance(items, Unknown):
        return items
    return next((i for i in need_array(items) if isinstance(i, Unknown)), None)


def shallow_merge(ev: Evaluator, args: Args) -> Any:
    """An array of objects merged at the top level only, later keys winning."""
    objects = args[0]
    unknown = _unknown_in(objects)
    if unknown is not None:
        return ev.unknown_call("shallowMerge", args, unknown.reason)
    out: dict[str, Any] = {}
    for obj in objects:
        out.update(need_object(obj, "every element"))
    return out


def flatten(ev: Evaluator, args: Args) -> Any:
    arrays = args[0]
    unknown = _unknown_in(arrays)
    if unknown is not None:
        return ev.unknown_call("flatten", args, unknown.reason)
    out: list[Any] = []
    for array in arrays:
        out.extend(need_array(array, "every element"))
        if len(out) > MAX_ITEMS:
            raise FunctionError(f"the result has more than {MAX_ITEMS:,} items")
    return out


def try_get(ev: Evaluator, args: Args) -> Any:
    """A property or element, or null where there is none (Bicep's ``.?``)."""
    value = args[0]
    for at, key in enumerate(args[1:], start=1):
        if isinstance(value, Unknown) or isinstance(key, Unknown):
            unknown = value if isinstance(value, Unknown) else key
            return ev.unknown_call("tryGet", [value, *args[at:]], unknown.reason)
        if value is None:
            return None
        if isinstance(value, dict):
            name = need_str(key, "a key of an object")
            value = next((v for k, v in value.items() if k.lower() == name.lower()), None)
        elif isinstance(value, list):
            index = need_int(key, "an index of an array")
            value = value[index] if 0 <= index < len(value) else None
        else:
            raise FunctionError(f"cannot look into {type_name(value)}")
    return value
