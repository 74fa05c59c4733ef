"""Scalar expressions: operators and functions, with KQL's null, type and case rules.

A function or operator given operands of a kind Kusto would reject when it analyses the
query (``tolower()`` of a dynamic, ``==`` between a dynamic and a string) raises
:class:`OracleError`: the oracle's kinds are the static types, so such an error does not
depend on the data. Data never raises: a failed conversion is null, as in Kusto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from tests.kqloracle import syntax as s
from tests.kqloracle.regex import matches
from tests.kqloracle.values import (
    NULL_BOOL,
    NULL_DYNAMIC,
    NUMERIC,
    Kind,
    OracleError,
    Readings,
    Value,
    ascii_fold,
    boolean,
    dynamic,
    gettype,
    long,
    string,
    tobool,
    todouble,
    tolower,
    tostring,
)

Row = Mapping[str, Value]


@dataclass(frozen=True)
class Env:
    row: Row
    readings: Readings


def evaluate(expr: s.Expr, env: Env) -> Value:
    if isinstance(expr, s.Literal):
        return expr.value
    if isinstance(expr, s.Column):
        if expr.name not in env.row:
            # "Identifiers are case-sensitive" (https://learn.microsoft.com/kusto/query/schema-entities/entity-names)
            raise OracleError(f"no column named {expr.name!r} (columns: {', '.join(env.row)})")
        return env.row[expr.name]
    if isinstance(expr, (s.Member, s.Index)):
        return _access(expr, env)
    if isinstance(expr, s.Call):
        function = FUNCTIONS.get(expr.name)
        if function is None:
            raise OracleError(f"function {expr.name}() is outside the oracle's subset")
        return function([evaluate(arg, env) for arg in expr.args])
    if isinstance(expr, s.InList):
        return _in(expr, env)
    if isinstance(expr, s.Negate):
        return _arithmetic("-", long(0), evaluate(expr.operand, env))
    return _binary(expr.op, evaluate(expr.left, env), evaluate(expr.right, env))


# -- dynamic access -------------------------------------------------------------------------


def _access(expr: s.Member | s.Index, env: Env) -> Value:
    """``bag.key``, ``bag["key"]``, ``array[i]`` on a dynamic value. Dot and bracket notation
    "are equivalent" for a constant key; a negative index counts from the end
    (https://learn.microsoft.com/kusto/query/scalar-data-types/dynamic). A key is matched
    exactly, case and all, as a property bag "maps unique string values" to values; a key,
    index or type that is not there is null."""
    base = evaluate(expr.base, env)
    if base.kind is not Kind.DYNAMIC:
        raise OracleError(f"property access on a {base.kind.value}, which is not dynamic")
    data = base.v
    if isinstance(expr, s.Member):
        return dynamic(data.get(expr.key)) if isinstance(data, dict) else NULL_DYNAMIC
    if not isinstance(data, list):
        return NULL_DYNAMIC
    index = expr.index + len(data) if expr.index < 0 else expr.index
    return dynamic(data[index]) if 0 <= index < len(data) else NULL_DYNAMIC


# -- operators ------------------------------------------------------------------------------


def _need(value: Value, kinds: tuple[Kind, ...], what: str) -> None:
    if value.kind not in kinds:
        raise OracleError(f"{what} does not take a {value.kind.value}")


def _equal(left: Value, right: Value, what: str) -> bool | None:
    """Equality of two non-dynamic values of comparable kinds; None when one is null."""
    if left.kind is Kind.DYNAMIC or right.kind is Kind.DYNAMIC:
        # "Cannot compare dynamic values without explicit cast" (the engine's message).
        raise OracleError(f"{what} between a dynamic and a {right.kind.value if left.kind is Kind.DYNAMIC else left.kind.value}")
    numeric = left.kind in NUMERIC and right.kind in NUMERIC
    if not numeric and left.kind is not right.kind:
        raise OracleError(f"{what} between a {left.kind.value} and a {right.kind.value}")
    if left.v is None or right.v is None:
        return None
    return bool(left.v == right.v)


def _binary(op: str, left: Value, right: Value) -> Value:
    if op in ("and", "or"):
        _need(left, (Kind.BOOL,), op)
        _need(right, (Kind.BOOL,), op)
        # "and: returns true only if both operands are true"; "or: returns true if either of
        # the operands is true"; bool(null) and true is false, bool(null) or true is true
        # (https://learn.microsoft.com/kusto/query/logical-operators).
        if op == "and":
            return boolean(left.v is True and right.v is True)
        return boolean(left.v is True or right.v is True)
    if op in ("==", "!="):
        # null == null is null, null == x is false; null != null is null, null != x is true
        # (https://learn.microsoft.com/kusto/query/scalar-data-types/null-values).
        equal = _equal(left, right, op)
        if equal is None:
            both_null = left.v is None and right.v is None
            return NULL_BOOL if both_null else boolean(op == "!=")
        return boolean(equal if op == "==" else not equal)
    if op in ("<", "<=", ">", ">="):
        _need(left, NUMERIC, op)
        _need(right, NUMERIC, op)
        if left.v is None or right.v is None:
            return NULL_BOOL  # "val > 3" is null for a null val (null-values page)
        a, b = left.v, right.v
        return boolean({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])
    if op in ("+", "-", "*"):
        return _arithmetic(op, left, right)
    _need(left, (Kind.STRING,), op)
    _need(right, (Kind.STRING,), op)
    a, b = str(left.v), str(right.v)
    if op == "matches regex":
        return boolean(matches(a, b))
    if op in ("=~", "!~", "contains", "startswith", "endswith"):
        a, b = ascii_fold(a), ascii_fold(b)
    if op in ("=~", "!~"):
        return boolean((a == b) == (op == "=~"))
    # "RHS occurs as a subsequence of LHS", "RHS is an initial/closing subsequence of LHS"
    # (https://learn.microsoft.com/kusto/query/datatypes-string-operators).
    base = op.removesuffix("_cs")
    if base == "contains":
        return boolean(b in a)
    if base == "startswith":
        return boolean(a.startswith(b))
    if base == "endswith":
        return boolean(a.endswith(b))
    raise OracleError(f"operator {op!r} is outside the oracle's subset")


def _arithmetic(op: str, left: Value, right: Value) -> Value:
    _need(left, (Kind.LONG, Kind.INT), op)
    _need(right, (Kind.LONG, Kind.INT), op)
    if left.v is None or right.v is None:
        return long(None)
    a, b = int(left.v), int(right.v)
    return long(a + b if op == "+" else a - b if op == "-" else a * b)


# -- in -------------------------------------------------------------------------------------


def _flatten(data: object) -> Iterator[object]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    else:
        yield data


def _element(data: object, kind: Kind, readings: Readings) -> Value | None:
    """An element of a dynamic array on the right of ``in``, as a candidate for a left side
    of ``kind``; None where it can equal nothing (a null, or another type when elements
    are read as typed, see :class:`Readings`)."""
    if data is None:
        return None
    element = dynamic(data)
    if kind is Kind.STRING:
        same = isinstance(data, str)
    elif kind is Kind.BOOL:
        same = isinstance(data, bool)
    else:
        same = isinstance(data, (int, float)) and not isinstance(data, bool)
    if not same and readings.mixed_in == "typed":
        return None
    if kind is Kind.STRING:
        return tostring(element)
    return tobool(element) if kind is Kind.BOOL else todouble(element)


def _in(expr: s.InList, env: Env) -> Value:
    """``in`` / ``in~``: "Equals to any of the elements"; "Nested arrays are flattened into
    a single list of values" (https://learn.microsoft.com/kusto/query/in-operator); ``in~``
    ignores case as ``=~`` does (ASCII letters only). A null equals nothing."""
    left = evaluate(expr.left, env)
    if left.kind is Kind.DYNAMIC:
        raise OracleError(f"{expr.op} with a dynamic on the left")
    candidates: list[Value] = []
    for item in expr.items:
        value = evaluate(item, env)
        if value.kind is not Kind.DYNAMIC:
            candidates.append(value)
            continue
        for data in _flatten(value.v):
            element = _element(data, left.kind, env.readings)
            if element is not None:
                candidates.append(element)
    fold = expr.op.endswith("~") and left.kind is Kind.STRING
    found = False
    for candidate in candidates:
        equal = _equal(left, candidate, expr.op)  # checks the kinds too
        if fold and equal is not None:
            equal = ascii_fold(str(left.v)) == ascii_fold(str(candidate.v))
        if equal:
            found = True
            break
    return boolean(found != expr.op.startswith("!"))


# -- functions ------------------------------------------------------------------------------


def _arity(name: str, args: list[Value], count: int) -> None:
    if len(args) != count:
        raise OracleError(f"{name}() takes {count} argument(s), not {len(args)}")


def _gettype(args: list[Value]) -> Value:
    _arity("gettype", args, 1)
    return string(gettype(args[0]))


def _tostring(args: list[Value]) -> Value:
    _arity("tostring", args, 1)
    return tostring(args[0])


def _todouble(args: list[Value]) -> Value:
    _arity("todouble", args, 1)
    return todouble(args[0])


def _tobool(args: list[Value]) -> Value:
    _arity("tobool", args, 1)
    return tobool(args[0])


def _tolower(args: list[Value]) -> Value:
    _arity("tolower", args, 1)
    _need(args[0], (Kind.STRING,), "tolower()")
    return string(tolower(str(args[0].v)))


def _isnull(args: list[Value]) -> Value:
    """"String values can't be null"; ``isnull("")`` and ``isnull(parse_json("[]"))`` are
    false, ``isnull(parse_json(""))`` is true (https://learn.microsoft.com/kusto/query/isnull-function).
    A missing property is null too (see :func:`_access`)."""
    _arity("isnull", args, 1)
    return boolean(args[0].kind is not Kind.STRING and args[0].v is None)


def _isnotnull(args: list[Value]) -> Value:
    return boolean(not _isnull(args).v)


def _not(args: list[Value]) -> Value:
    """"Reverses the value of its bool argument" (https://learn.microsoft.com/kusto/query/not-function).
    The page does not say what ``not(bool(null))`` is; the oracle keeps null. No verdict
    hinges on it: the compiled queries apply ``not()`` to ``and``/``or``/``in`` results and to
    comparisons with a literal, none of which is ever null."""
    _arity("not", args, 1)
    _need(args[0], (Kind.BOOL,), "not()")
    return NULL_BOOL if args[0].v is None else boolean(not args[0].v)


def _same_kind(name: str, values: list[Value]) -> Kind:
    kinds = {v.kind for v in values}
    if len(kinds) != 1:
        raise OracleError(f"{name}() mixes {', '.join(sorted(k.value for k in kinds))}: "
                          "all its results must be of the same type")
    return kinds.pop()


def _iff(args: list[Value]) -> Value:
    """The second argument if the predicate is true, else the third: a null predicate is not
    true (https://learn.microsoft.com/kusto/query/iff-function)."""
    _arity("iff", args, 3)
    _need(args[0], (Kind.BOOL,), "iff() predicate")
    _same_kind("iff", args[1:])
    return args[1] if args[0].v is True else args[2]


def _case(args: list[Value]) -> Value:
    """"The value of the first then_i whose predicate_i evaluates to true, or the value of
    else if neither of the predicates are satisfied"
    (https://learn.microsoft.com/kusto/query/case-function)."""
    if len(args) < 3 or len(args) % 2 == 0:
        raise OracleError("case() takes predicate/value pairs and an else value")
    _same_kind("case", [*args[1::2], args[-1]])
    for predicate, then in zip(args[:-1:2], args[1::2], strict=True):
        _need(predicate, (Kind.BOOL,), "case() predicate")
        if predicate.v is True:
            return then
    return args[-1]


def _extreme(name: str, pick: Callable[[list[int | float]], int | float]) -> Callable[[list[Value]], Value]:
    def function(args: list[Value]) -> Value:
        """"All arguments must be of the same type"; "Non-null values take precedence to
        null values" (https://learn.microsoft.com/kusto/query/min-of-function, max-of-function)."""
        if not 2 <= len(args) <= 64:
            raise OracleError(f"{name}() takes 2 to 64 arguments")
        kind = _same_kind(name, args)
        if kind not in NUMERIC:
            raise OracleError(f"{name}() of {kind.value} values is outside the oracle's subset")
        present = [a.v for a in args if a.v is not None]
        return Value(kind, pick(present) if present else None)

    return function


def _array_length(args: list[Value]) -> Value:
    """"The number of elements in array, or null if array isn't an array"
    (https://learn.microsoft.com/kusto/query/array-length-function)."""
    _arity("array_length", args, 1)
    _need(args[0], (Kind.DYNAMIC,), "array_length()")
    return long(len(args[0].v)) if isinstance(args[0].v, list) else long(None)


def _strlen(args: list[Value]) -> Value:
    _arity("strlen", args, 1)
    _need(args[0], (Kind.STRING,), "strlen()")
    return long(len(str(args[0].v)))  # characters, not bytes (strlen-function page)


def _bag_keys(args: list[Value]) -> Value:
    """The root keys of a property bag; null for anything else, as the page's examples show
    for null, a string and an array (https://learn.microsoft.com/kusto/query/bag-keys-function)."""
    _arity("bag_keys", args, 1)
    _need(args[0], (Kind.DYNAMIC,), "bag_keys()")
    data = args[0].v
    return dynamic(list(data)) if isinstance(data, dict) else NULL_DYNAMIC


def _bag_pack(args: list[Value]) -> Value:
    """A property bag from alternating keys and values
    (https://learn.microsoft.com/kusto/query/pack-function)."""
    if len(args) % 2:
        raise OracleError("bag_pack() takes an even number of arguments")
    bag: dict[str, object] = {}
    for key, value in zip(args[::2], args[1::2], strict=True):
        _need(key, (Kind.STRING,), "bag_pack() key")
        bag[str(key.v)] = value.v
    return dynamic(bag)


def _strcat(args: list[Value]) -> Value:
    """The arguments converted to strings and joined, 1 to 64 of them
    (https://learn.microsoft.com/kusto/query/strcat-function)."""
    if not 1 <= len(args) <= 64:
        raise OracleError("strcat() takes 1 to 64 arguments")
    return string("".join(str(tostring(a).v) for a in args))


def _indexof(args: list[Value]) -> Value:
    """"The zero-based index position of lookup", -1 when it does not occur; the comparison
    is ordinal, case and all (https://learn.microsoft.com/kusto/query/indexof-function).
    Only the two-argument form is in the subset; both sides are strings here."""
    _arity("indexof", args, 2)
    _need(args[0], (Kind.STRING,), "indexof() source")
    _need(args[1], (Kind.STRING,), "indexof() lookup")
    return long(str(args[0].v).find(str(args[1].v)))


def _substring(args: list[Value]) -> Value:
    """The characters from ``startingIndex`` (zero-based) to the end, or ``length`` of them;
    "if a negative number, the substring will be retrieved from the end of the source
    string" (https://learn.microsoft.com/kusto/query/substring-function). A start past the
    end gives the empty string."""
    if len(args) not in (2, 3):
        raise OracleError("substring() takes a string, a start and an optional length")
    _need(args[0], (Kind.STRING,), "substring()")
    for arg in args[1:]:
        _need(arg, (Kind.LONG, Kind.INT), "substring() position")
    text, start = str(args[0].v), args[1].v
    if start is None:
        return string("")
    start = max(0, start + len(text)) if start < 0 else start
    if len(args) == 2:
        return string(text[start:])
    length = args[2].v
    if length is None or length < 0:
        raise OracleError("substring() with a negative length is outside the subset")
    return string(text[start:start + length])


FUNCTIONS: dict[str, Callable[[list[Value]], Value]] = {
    "gettype": _gettype, "tostring": _tostring, "todouble": _todouble, "tobool": _tobool,
    "tolower": _tolower, "isnull": _isnull, "isnotnull": _isnotnull, "not": _not, "iff": _iff,
    "case": _case, "min_of": _extreme("min_of", min), "max_of": _extreme("max_of", max),
    "array_length": _array_length, "strlen": _strlen, "bag_keys": _bag_keys, "bag_pack": _bag_pack,
    "pack": _bag_pack, "strcat": _strcat, "indexof": _indexof, "substring": _substring,
}

__all__ = ["FUNCTIONS", "Env", "evaluate"]
