""".NET composite and numeric formatting, as ARM's ``format()`` uses them.

``format`` "uses the same formatting options as the System.String.Format method in .NET"
(https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string#format):
format items ``{index[,alignment][:formatString]}``, ``{{`` and ``}}`` for braces, the standard
numeric formats (https://learn.microsoft.com/dotnet/standard/base-types/standard-numeric-format-strings)
under the invariant culture, and the ``0``/``#``/``,``/``.`` custom numeric formats. Anything else
is :class:`Unsupported`: its result becomes an Unknown, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from policyengine.sources.arm.values import MAX_STRING, FunctionError, Unsupported, to_string, type_name
from policyengine.unknown import Unknown


class UnknownFormatted(Exception):
    """An unknown argument with a format specifier or alignment: the whole result is unknown."""

_ITEM = re.compile(r"\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?(?::(.*))?", re.S)
_STANDARD = re.compile(r"([A-Za-z])(\d{0,2})")
_CUSTOM = re.compile(r"([#0,]*)(?:\.([#0]*))?")


def composite(template: str, args: Sequence[Any]) -> list[str | Unknown]:
    """``String.Format(template, args)`` as pieces: text, and the unknown arguments as they are
    (an unknown with a format specifier or alignment cannot be placed: :class:`UnknownFormatted`)."""
    pieces: list[str | Unknown] = []
    text: list[str] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch in "{}" and template.startswith(ch * 2, i):
            text.append(ch)
            i += 2
            continue
        if ch == "}":
            raise FunctionError(f"unmatched '}}' at character {i + 1} of the format string")
        if ch != "{":
            text.append(ch)
            i += 1
            continue
        end = template.find("}", i)
        item = _ITEM.fullmatch(template, i + 1, end) if end > 0 else None
        if item is None:
            raise FunctionError(f"invalid format item at character {i + 1} of the format string")
        index, width, spec = int(item[1]), int(item[2] or 0), item[3] or ""
        if index >= len(args):
            raise FunctionError(f"format item {{{index}}} has no argument (there are {len(args)})")
        value = args[index]
        if isinstance(value, Unknown):
            if width or spec:
                raise UnknownFormatted
            pieces.append("".join(text))
            pieces.append(value)
            text = []
        else:
            if abs(width) > MAX_STRING:
                raise FunctionError(f"alignment {width} is too wide")
            shown = format_value(value, spec)
            text.append(shown.rjust(width) if width > 0 else shown.ljust(-width))
        i = end + 1
    pieces.append("".join(text))
    return [p for p in pieces if p != ""]


def format_value(value: Any, spec: str) -> str:
    """One argument with its format string: numbers take numeric formats, strings ignore
    theirs (a .NET string is not formattable), booleans print ``True``/``False``."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return to_string(value)
    if isinstance(value, int | float):
        return number(value, spec)
    raise Unsupported(f"format() of {type_name(value)}")


def number(value: int | float, spec: str) -> str:
    """A number with a standard or custom .NET numeric format string."""
    if not spec:
        return to_string(value)
    standard = _STANDARD.fullmatch(spec)
    if standard:
        return _standard(value, standard[1], int(standard[2]) if standard[2] else None)
    custom = _CUSTOM.fullmatch(spec)
    if custom and ("0" in spec or "#" in spec):
        return _custom(value, custom[1], custom[2] or "")
    raise Unsupported(f"the numeric format {spec!r}")


def _standard(value: int | float, letter: str, precision: int | None) -> str:
    kind = letter.upper()
    if kind not in "BCDEFGNPRX":
        raise FunctionError(f"{letter!r} is not a .NET numeric format")  # .NET throws FormatException
    if kind == "D":
        if not isinstance(value, int):
            raise FunctionError("format 'D' needs an integer")
        digits = str(abs(value)).zfill(precision or 0)
        return ("-" if value < 0 else "") + digits
    if kind == "X":
        if not isinstance(value, int):
            raise FunctionError("format 'X' needs an integer")
        digits = format(value & 0xFFFFFFFFFFFFFFFF if value < 0 else value, "X" if letter == "X" else "x")
        return digits.zfill(precision or 0)
    if kind in ("N", "F", "P", "C"):
        scaled = value * 100 if kind == "P" else value
        digits = _fixed(scaled, 2 if precision is None else precision, grouped=kind != "F")
        if kind == "P":
            return digits + " %"
        if kind == "C":  # the invariant culture's currency sign and negative pattern
            return f"(¤{digits[1:]})" if digits.startswith("-") else f"¤{digits}"
        return digits
    if kind == "E":
        mantissa, exponent = f"{Decimal(value):.{6 if precision is None else precision}E}".split("E")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}{letter}{sign}{exponent.lstrip('+-').zfill(3)}"
    if kind == "G" and (precision is None or (isinstance(value, int) and precision >= len(str(abs(value))))):
        return to_string(value)
    raise Unsupported(f"the numeric format {letter}{precision if precision is not None else ''}")


def _fixed(value: int | float, decimals: int, *, grouped: bool) -> str:
    """Fixed-point text, halves rounded away from zero as .NET does."""
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{decimals}f}" if grouped else f"{rounded:.{decimals}f}"


def _custom(value: int | float, whole: str, fraction: str) -> str:
    """Custom formats built from ``0`` (a digit, padded), ``#`` (a digit if any), ``,``
    (grouping, between digit placeholders) and ``.``: ``000``, ``#,##0.00``, ``0.#``."""
    places = len(fraction)
    text = _fixed(value, places, grouped=False)
    sign = "-" if text.startswith("-") else ""
    integer, _, decimals = text.lstrip("-").partition(".")
    decimals = decimals.rstrip("0").ljust(fraction.count("0"), "0")
    integer = integer.lstrip("0").zfill(whole.count("0"))
    if "," in whole.strip(","):
        integer = f"{int(integer or 0):,}".zfill(whole.count("0")) if integer else ""
    text = integer + ("." + decimals if decimals else "")
    if sign and text.strip("0.") == "":
        sign = ""  # .NET writes -0.001 with format "0.0" as "0.0", and 0 with "#" as ""
    return sign + text
