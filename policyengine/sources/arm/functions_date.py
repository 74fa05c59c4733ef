"""Date functions: https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-date

``dateTimeAdd`` takes ``P1Y`` as 365 days and ``P1M`` as 30 days, as documented (so one year
after 2024-01-01 is 2024-12-31). Output formats are .NET's standard and custom date and time
format strings under the invariant culture; ``utcNow`` is an unknown (see the deployment module).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.values import FunctionError, Unsupported, need_int, need_str

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(rf"(-)?P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                       rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?")
_DAYS = (365, 30, 7, 1)  # Y M W D: no calendar arithmetic, as documented

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DAYNAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# .NET standard date and time formats in the invariant culture
# (https://learn.microsoft.com/dotnet/standard/base-types/standard-date-and-time-format-strings).
_STANDARD = {
    "d": "MM/dd/yyyy", "D": "dddd, dd MMMM yyyy", "t": "HH:mm", "T": "HH:mm:ss",
    "f": "dddd, dd MMMM yyyy HH:mm", "F": "dddd, dd MMMM yyyy HH:mm:ss", "g": "MM/dd/yyyy HH:mm",
    "G": "MM/dd/yyyy HH:mm:ss", "M": "MMMM dd", "m": "MMMM dd", "Y": "yyyy MMMM", "y": "yyyy MMMM",
    "o": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK", "O": "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
    "s": "yyyy'-'MM'-'dd'T'HH':'mm':'ss", "u": "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
    "r": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "R": "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
}


def parse_datetime(text: str, what: str = "the datetime") -> datetime:
    """An ISO 8601 timestamp (``2020-04-07 14:53:14Z``, ``2020-04-07T14:53:14+02:00``,
    ``20190305T175318Z``)."""
    try:
        return datetime.fromisoformat(need_str(text, what).strip())
    except ValueError:
        raise FunctionError(f"{what} {text!r} is not an ISO 8601 datetime") from None


def date_time_add(_: Evaluator, args: Args) -> str:
    base = parse_datetime(args[0], "base")
    match = _DURATION.fullmatch(need_str(args[1], "duration").strip())
    if match is None or not any(match.groups()[1:]):
        raise FunctionError(f"duration {args[1]!r} is not an ISO 8601 duration (such as P1D or -PT1H)")
    number = [float(g.replace(",", ".")) if g else 0.0 for g in match.groups()[1:]]
    days = sum(n * d for n, d in zip(number[:4], _DAYS, strict=True))
    delta = timedelta(days=days, hours=number[4], minutes=number[5], seconds=number[6])
    try:
        result = base - delta if match[1] else base + delta
    except OverflowError:
        raise FunctionError("the result is outside the years 1 to 9999") from None
    if len(args) > 2:
        return format_datetime(result, need_str(args[2], "format"))
    return _iso(result)


def date_time_from_epoch(_: Evaluator, args: Args) -> str:
    seconds = need_int(args[0], "epochTime")
    try:
        return _iso(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        raise FunctionError(f"epoch time {seconds} is outside the years 1 to 9999") from None


def date_time_to_epoch(_: Evaluator, args: Args) -> int:
    moment = parse_datetime(args[0])
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() // 1)


def _iso(moment: datetime) -> str:
    """``2024-12-31T00:00:00Z``: the documented shape of a dateTimeAdd result."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    if moment.tzinfo is None:
        return text
    offset = moment.utcoffset() or timedelta(0)
    return text + ("Z" if not offset else _offset(offset, colon=True))


def _offset(offset: timedelta, *, colon: bool) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|\\.|%?([a-zA-Z])\1*|.", re.S)


def format_datetime(moment: datetime, spec: str) -> str:
    """A .NET standard (one letter) or custom date and time format string."""
    if len(spec) == 1:
        if spec not in _STANDARD:
            raise FunctionError(f"{spec!r} is not a .NET date and time format")
        if spec in "uUrR" and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        spec = _STANDARD[spec]
    out: list[str] = []
    for match in _TOKEN.finditer(spec):
        token = match.group().lstrip("%") or match.group()
        out.append(_datetime_token(moment, token))
    return "".join(out)


def _datetime_token(moment: datetime, token: str) -> str:
    letter, size = token[0], len(token)
    if letter in "'\"":
        return token[1:-1]
    if letter == "\\":
        return token[1:]
    if not letter.isalpha():
        return token
    hour12 = moment.hour % 12 or 12
    values = {
        "y": (f"{moment.year % 100:0{size}d}" if size <= 2 else f"{moment.year:0{size}d}"),
        "M": (f"{moment.month:0{size}d}" if size <= 2 else
              _MONTHS[moment.month - 1][:3] if size == 3 else _MONTHS[moment.month - 1]),
        "d": (f"{moment.day:0{size}d}" if size <= 2 else
              _DAYNAMES[moment.weekday()][:3] if size == 3 else _DAYNAMES[moment.weekday()]),
        "H": f"{moment.hour:0{min(size, 2)}d}",
        "h": f"{hour12:0{min(size, 2)}d}",
        "m": f"{moment.minute:0{min(size, 2)}d}",
        "s": f"{moment.second:0{min(size, 2)}d}",
        "f": f"{moment.microsecond:06d}0"[:size],
        "F": f"{moment.microsecond:06d}0"[:size].rstrip("0"),
        "t": ("AM" if moment.hour < 12 else "PM")[:size],
    }
    if letter in values and size <= 7:
        return values[letter]
    if letter == "K":
        offset = moment.utcoffset()
        return "" if offset is None else "Z" if not offset else _offset(offset, colon=True)
    if letter == "z" and moment.tzinfo is not None:
        text = _offset(moment.utcoffset() or timedelta(0), colon=True)  # +hh:mm
        if size >= 3:
            return text
        return text[:3] if size == 2 else text[0] + str(int(text[1:3]))
    raise Unsupported(f"the date and time format {token!r}")
