"""Baselines: a previous JSON report whose problems are known, so that only new ones fail.

``--baseline report.json`` reads the fingerprints (rule and resource, ``findings.fingerprint``)
of every finding that needed attention in that report — failing, erroneous, unknown or
waived. A finding of this scan with one of those fingerprints is marked ``baseline`` and
does not count toward the exit code; everything else counts as usual. A team can adopt the
tool on a large estate and fail only on what it makes worse.

The report is read as a stream (findings one by one), so a baseline of 10^5 servers never
sits in memory as a document. It is read as strict JSON, as policyengine writes it: ``NaN``,
``Infinity`` and numbers that overflow to infinity are refused, and so are integers of more
than 4,300 digits and nesting deeper than 256 levels, each at its ``file:line:col``. A lone
surrogate escape (``"\\ud800"``) is JSON and is read: a report escapes one it found in a
resource id, and that report must serve as a baseline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from policyengine.errors import InputError, Span
from policyengine.findings import Finding
from policyengine.sources.export import MAX_ROW, JsonStream

KNOWN = frozenset({"fail", "error", "unknown", "waived"})
#: Python's own default bound on reading an integer (``sys.get_int_max_str_digits``).
MAX_INT_DIGITS = 4300
#: As deep as a template may nest (``sources/jsonpos.py``); a report nests a dozen levels.
MAX_DEPTH = 256


class _Refused(ValueError):
    """A number strict JSON does not have, found while decoding; located afterwards."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits: at most {MAX_INT_DIGITS} are read")
    return int(text)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"{text[:40]} overflows to infinity, which JSON does not have")
    return number


_STRICT = json.JSONDecoder(parse_constant=_no_constant, parse_int=_int, parse_float=_float)
# The tokens of a JSON text up to where decoding stopped (which was valid JSON so far):
# strings are skipped whole, so that a digit or a bracket inside one is never taken for a token.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|(NaN|-?Infinity|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|([\[{])|([\]}])',
                     re.S)


def _offending(text: str, start: int) -> tuple[int, int]:
    """The offset of the first number strict JSON refuses at or after ``start``, and the offset
    where nesting first goes deeper than :data:`MAX_DEPTH` (-1 for either not found)."""
    number, deep, depth = -1, -1, 0
    for token in _TOKENS.finditer(text, start):
        if token.group(1) is not None and number < 0:
            literal = token.group(1)
            digits = len(literal.lstrip("-"))
            plain = literal.lstrip("-").isdigit()
            if (not literal[-1].isdigit() or (plain and digits > MAX_INT_DIGITS)
                    or (not plain and not math.isfinite(float(literal)))):
                number = token.start()
        elif token.group(2) is not None:
            depth += 1
            if depth > MAX_DEPTH and deep < 0:
                deep = token.start()
        elif token.group(3) is not None:
            depth -= 1
        if number >= 0 or deep >= 0:
            break
    return number, deep


class _StrictStream(JsonStream):
    """The report stream, decoding each value as strict JSON (see the module docstring)."""

    def value(self) -> tuple[Any, int]:
        self.skip_ws()
        start = self.pos
        while True:
            try:
                value, end = _STRICT.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # The value may just be cut by the chunk boundary: read on (bounded) and retry.
                if len(self.buf) - start < MAX_ROW and self.fill():
                    start = self.pos
                    continue
                raise self.error(f"invalid JSON: {exc.msg}", min(exc.pos, len(self.buf))) from None
            except _Refused as exc:
                number, _ = _offending(self.buf, self.pos)
                raise self.error(f"invalid JSON: {exc}", number if number >= 0 else self.pos) from None
            except RecursionError:
                _, deep = _offending(self.buf, self.pos)
                where = deep if deep >= 0 else self.pos
                raise self.error(f"invalid JSON: nested more than {MAX_DEPTH} levels deep", where) from None
            self.pos = end
            return value, self.line_at(start)


def load_baseline(path: Path) -> frozenset[str]:
    """The fingerprints of the findings that needed attention in the report at ``path``."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the baseline: {exc.strerror or exc}", Span(str(path))) from None
    fingerprints: set[str] = set()
    tool: Any = None
    with handle:
        stream = _StrictStream(handle, str(path))
        try:
            for key, value, line in stream.members("findings"):
                if key is None:
                    fingerprints.update(_fingerprint(value, str(path), line))
                elif key == "tool":
                    tool = value
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text: {exc.reason}", Span(str(path))) from None
        except OSError as exc:  # a directory opens, and fails on the first read
            raise InputError(f"cannot read the baseline: {exc.strerror or exc}", Span(str(path))) from None
    if not (isinstance(tool, dict) and tool.get("name") == "policyengine"):
        raise InputError("not a policyengine JSON report (scan --format json): no \"tool\": "
                         "{\"name\": \"policyengine\"}", Span(str(path), 1, 1))
    return frozenset(fingerprints)


def _fingerprint(finding: Any, file: str, line: int) -> Iterator[str]:
    if not isinstance(finding, dict) or not isinstance(finding.get("fingerprint"), str):
        raise InputError("a finding without a fingerprint", Span(file, line))
    if finding.get("verdict") in KNOWN:
        yield finding["fingerprint"]


def mark(finding: Finding, baseline: frozenset[str]) -> Finding:
    """The finding, marked ``baseline`` if the baseline knew it."""
    if baseline and finding.fingerprint in baseline:
        from dataclasses import replace

        return replace(finding, baseline=True)
    return finding
