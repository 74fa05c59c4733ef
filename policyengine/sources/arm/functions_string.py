"""String functions: https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string

Each takes the evaluator and the evaluated arguments, and raises :class:`FunctionError` for an
argument ARM would reject (the caller names the function). Sizes are checked before a large
string is built, not after.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.netformat import UnknownFormatted, composite
from policyengine.sources.arm.values import (
    MAX_STRING,
    FunctionError,
    has_unknown,
    need_array,
    need_int,
    need_str,
    parse_json,
    to_string,
    type_name,
)
from policyengine.unknown import Unknown, joined

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]


def _fits(length: int) -> None:
    if length > MAX_STRING:
        raise FunctionError(f"the result would be longer than {MAX_STRING:,} characters")


def concat(ev: Evaluator, args: Args) -> Any:
    """Arrays concatenate into an array; anything else into a string. An unknown piece of a
    string stays a piece (``joined``), so a name built from one still splits on ``/``."""
    if any(isinstance(a, list) for a in args):
        unknown = next((a for a in args if isinstance(a, Unknown)), None)
        if unknown is not None:
            return ev.unknown_call("concat", args, unknown.reason)
        arrays = [need_array(a, "every argument (concat() of arrays)") for a in args]
        out: list[Any] = []
        for array in arrays:
            out.extend(array)
        return out
    pieces: list[str | Unknown] = []
    for arg in args:
        if isinstance(arg, Unknown | str):
            pieces.append(arg)
        elif isinstance(arg, bool | int):
            pieces.append(to_string(arg))
        else:
            raise FunctionError(f"takes strings or arrays, not {type_name(arg)}")
    _fits(sum(len(p) for p in pieces if isinstance(p, str)))
    if all(isinstance(p, str) for p in pieces):
        return "".join(str(p) for p in pieces)
    return joined(pieces)


def format_(ev: Evaluator, args: Args) -> Any:
    """.NET composite formatting; unknown arguments stay pieces of the result."""
    template, values = args[0], list(args[1:])
    inner = has_unknown(template, ev.scope.budget)
    for value in values:
        if inner is None and not isinstance(value, Unknown):
            inner = has_unknown(value, ev.scope.budget)
    if inner is not None:
        return ev.unknown_call("format", args, inner.reason)
    try:
        pieces = composite(need_str(template, "the format string"), values)
    except UnknownFormatted:
        reason = next(v for v in values if isinstance(v, Unknown)).reason
        return ev.unknown_call("format", args, reason)
    _fits(sum(len(p) for p in pieces if isinstance(p, str)))
    if all(isinstance(p, str) for p in pieces):
        return "".join(str(p) for p in pieces)
    return joined(pieces)


def string(_: Evaluator, args: Args) -> str:
    return to_string(args[0])


def to_lower(_: Evaluator, args: Args) -> str:
    return need_str(args[0]).lower()


def to_upper(_: Evaluator, args: Args) -> str:
    return need_str(args[0]).upper()


def trim(_: Evaluator, args: Args) -> str:
    return need_str(args[0]).strip()


def starts_with(_: Evaluator, args: Args) -> bool:
    """Case-insensitive, as documented."""
    return need_str(args[0]).lower().startswith(need_str(args[1]).lower())


def ends_with(_: Evaluator, args: Args) -> bool:
    """Case-insensitive, as documented."""
    return need_str(args[0]).lower().endswith(need_str(args[1]).lower())


def replace(_: Evaluator, args: Args) -> str:
    text, old, new = need_str(args[0]), need_str(args[1], "oldString"), need_str(args[2], "newString")
    if not old:
        raise FunctionError("oldString must not be empty")
    if len(new) > len(old):
        _fits(len(text) + text.count(old) * (len(new) - len(old)))
    return text.replace(old, new)


def split(_: Evaluator, args: Args) -> list[str]:
    """.NET ``String.Split(string[])``: at each position the first delimiter (in the given order)
    that matches cuts; empty delimiters are ignored."""
    text, delimiter = need_str(args[0]), args[1]
    if isinstance(delimiter, list):
        delimiters = [need_str(d, "every delimiter") for d in delimiter]
    else:
        delimiters = [need_str(delimiter, "the delimiter")]
    delimiters = [d for d in delimiters if d]
    if not delimiters:
        # .NET splits on white space when no delimiter is given
        return _split_on(text, lambda i: 1 if text[i].isspace() else 0)
    return _split_on(text, lambda i: next((len(d) for d in delimiters if text.startswith(d, i)), 0))


def _split_on(text: str, match: Callable[[int], int]) -> list[str]:
    """Cut ``text`` wherever ``match(i)`` is the length of a delimiter at ``i``."""
    out, start, i = [], 0, 0
    while i < len(text):
        size = match(i)
        if size:
            out.append(text[start:i])
            i += size
            start = i
        else:
            i += 1
    out.append(text[start:])
    return out


def substring(_: Evaluator, args: Args) -> str:
    text = need_str(args[0])
    start = need_int(args[1], "startIndex") if len(args) > 1 else 0
    length = need_int(args[2], "length") if len(args) > 2 else len(text) - start
    if start < 0 or length < 0 or start + length > len(text):
        raise FunctionError("the index and length parameters must refer to a location within the string: "
                            f"index {start}, length {length}, the string's length {len(text)}")
    return text[start:start + length]


def pad_left(_: Evaluator, args: Args) -> str:
    value = args[0]
    number = isinstance(value, int) and not isinstance(value, bool)
    text = str(value) if number else need_str(value, "valueToPad")
    width = need_int(args[1], "totalLength")
    pad = need_str(args[2], "paddingCharacter") if len(args) > 2 else " "
    if len(pad) != 1:
        raise FunctionError("paddingCharacter must be a single character")
    if width < 0:
        raise FunctionError("totalLength must not be negative")
    _fits(width)
    return text.rjust(width, pad)


def join(ev: Evaluator, args: Args) -> Any:
    """Strings joined by a delimiter; unknown elements stay pieces of the result."""
    items, delimiter = args
    if isinstance(items, Unknown) or isinstance(delimiter, Unknown):
        return ev.unknown_call("join", args, (items if isinstance(items, Unknown) else delimiter).reason)
    need_str(delimiter, "the delimiter")
    pieces: list[str | Unknown] = []
    for i, item in enumerate(need_array(items, "inputArray")):
        if i:
            pieces.append(delimiter)
        pieces.append(item if isinstance(item, Unknown) else need_str(item, "every element"))
    _fits(sum(len(p) for p in pieces if isinstance(p, str)))
    if all(isinstance(p, str) for p in pieces):
        return "".join(str(p) for p in pieces)
    return joined(pieces)


# -- encodings


def base64_(_: Evaluator, args: Args) -> str:
    return base64.b64encode(need_str(args[0]).encode("utf-8")).decode("ascii")


def base64_to_string(_: Evaluator, args: Args) -> str:
    return _decode(_unbase64(need_str(args[0])))


def base64_to_json(_: Evaluator, args: Args) -> Any:
    return parse_json(_decode(_unbase64(need_str(args[0]))))


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FunctionError("the value is not valid base64") from None


def _decode(data: bytes, charset: str = "utf-8") -> str:
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise FunctionError(f"the value is not valid {charset} text") from None


def data_uri(ev: Evaluator, args: Args) -> str:
    # the documented output: dataUri('Hello') is data:text/plain;charset=utf8;base64,SGVsbG8=
    return "data:text/plain;charset=utf8;base64," + base64_(ev, args)


def data_uri_to_string(_: Evaluator, args: Args) -> str:
    text = need_str(args[0])
    if not text.startswith("data:") or "," not in text:
        raise FunctionError("the value is not a data URI (data:[type][;charset=...][;base64],data)")
    header, _comma, data = text[5:].partition(",")
    options = header.split(";")
    charset = next((o[8:] for o in options if o.lower().startswith("charset=")), "utf-8")
    charset = "utf-8" if charset.lower() == "utf8" else charset
    if options[-1].lower() == "base64":
        return _decode(_unbase64(data), charset)
    return urllib.parse.unquote(data, encoding=charset, errors="strict")


def uri(_: Evaluator, args: Args) -> str:
    """``baseUri`` resolved with ``relativeUri`` (RFC 3986), except that a trailing slash on the
    base and a leading slash on the relative part merge into one, as documented
    (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string#uri)."""
    base, relative = need_str(args[0], "baseUri"), need_str(args[1], "relativeUri")
    if "://" not in base:
        raise FunctionError(f"baseUri {base!r} is not an absolute URI")
    if base.endswith("/") and relative.startswith("/"):
        return base + relative[1:]
    return urllib.parse.urljoin(base, relative)


def uri_component(_: Evaluator, args: Args) -> str:
    """.NET ``Uri.EscapeDataString``: everything but RFC 3986's unreserved characters."""
    return urllib.parse.quote(need_str(args[0]), safe="~")


def uri_component_to_string(_: Evaluator, args: Args) -> str:
    try:
        return urllib.parse.unquote(need_str(args[0]), errors="strict")
    except UnicodeDecodeError:
        raise FunctionError("the value is not valid percent-encoded UTF-8") from None


# -- values known only at deployment


def unique_string(ev: Evaluator, args: Args) -> Unknown:
    return _hash(ev, "uniqueString", args)


def guid(ev: Evaluator, args: Args) -> Unknown:
    return _hash(ev, "guid", args)


def _hash(ev: Evaluator, name: str, args: Args) -> Unknown:
    """``uniqueString`` and ``guid`` hash their arguments; no documented output lets this
    scanner check an implementation against ARM's, so they stay symbolic: two calls with the
    same arguments still compare equal."""
    for arg in args:
        need_str(arg, "every argument")
    return ev.unknown_call(name, args, f"{name}() is a hash computed at deployment")
