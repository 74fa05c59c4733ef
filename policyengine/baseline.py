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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from policyengine.errors import InputError, Span
from policyengine.findings import Finding
from policyengine.sources.jsonstream import JsonStream
from policyengine.status import InputProblem

KNOWN = frozenset({"fail", "error", "unknown", "waived"})


def load_baseline(path: Path) -> frozenset[str]:
    """The fingerprints of the findings that needed attention in the report at ``path``."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the baseline: {exc.strerror or exc}", Span(str(path))) from None
    fingerprints: set[str] = set()
    tool: Any = None
    with handle:
        # The export reader's strict stream (sources/strictjson.py): what it refuses in a
        # finding is an error of the whole baseline, which is trusted or not at all.
        stream = JsonStream(handle, str(path))
        try:
            for key, value, line in stream.members("findings"):
                if isinstance(value, InputProblem):
                    raise InputError(value.message, value.span)
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
