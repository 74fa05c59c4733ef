"""What the report formats share: the order findings are listed in, where a finding is, what
it saw and how to fix it, the exit code a report states, and text made safe to embed.

Text from the input (resource ids, values, file names, even a custom rule's title) is hostile
until it has gone through one of the functions at the end of this module: :func:`visible`
for documents, :func:`terminal` for a terminal, :func:`json_text` for JSON and :func:`md_text`
for Markdown. Each format's module says which it uses; ``tests/reports/test_hostile_text.py``
holds all seven formats to it.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from typing import Any

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.frameworks import Control, ControlStatus, Framework, status
from policyengine.reports import Summary
from policyengine.status import ScanStatus

#: Input errors a report for people (the table, Markdown) lists before it says how many more
#: there are: a broken export can have a bad row per line.
SHOWN_PROBLEMS = 50

#: The verdicts that need someone's attention (waived: accepted, but still a known failure).
ATTENTION = (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN, Verdict.WAIVED)

# An input named by a URI scheme (``azure:<scope>`` for a live scan), or a placeholder such
# as ``<stdin>`` or ``(inferred from ...)``: not a file anyone can open. A Windows drive
# letter (``C:\``) is one letter, so it does not look like a scheme.
_NOT_A_PATH = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]+:|[<(]|-$)")

# Characters XML 1.0 forbids even as character references (C0 controls but tab, newline and
# carriage return; lone surrogates, which no UTF-8 file can hold; U+FFFE and U+FFFF), which
# also garble a Markdown table or a terminal (https://www.w3.org/TR/xml/#charsets), and the C1
# controls U+0080-U+009F, which XML merely discourages but a terminal may obey: U+009B is CSI,
# as ESC [ is.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# What a terminal must not receive raw besides: tab and carriage return (which move the
# cursor, so a value could hide what was written before it on the line), the Unicode line and
# paragraph separators, and the bidirectional overrides and isolates, which reorder what is
# shown ("Trojan Source", CVE-2021-42574). A newline too, where one line is expected.
_TERMINAL = "\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_TERMINAL_TEXT = re.compile(f"[{_TERMINAL}]")
_TERMINAL_LINE = re.compile(f"[\n{_TERMINAL}]")
# What JSON allows raw in a string but a reader may not: lone surrogates (no UTF-8 file can
# hold one, so ``json.dumps(ensure_ascii=False)`` would make the report unwritable), DEL and
# the C1 controls (a terminal showing the file), and U+2028/U+2029 (line ends to JavaScript
# before ES2019). Each is written as its ``\uXXXX`` escape, which reads back as the same string.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def finding_order(finding: Finding) -> tuple[str, str, str, int, int]:
    """Findings sorted by rule, then resource (case-insensitive, as ARM compares ids), then
    source position: the same inputs give the same report whatever order they were read in."""
    origin = finding.origin
    return (finding.rule.id, finding.resource_id.lower(), origin.file, origin.line, origin.column)


def is_path(name: str) -> bool:
    """Whether an origin's ``file`` names a file (an export, a template), not a live scan."""
    return bool(name) and not _NOT_A_PATH.match(name)


def declared_at(finding: Finding) -> str:
    """Where a template or plan declares the resource: ``file:line:col``, or the file."""
    origin = finding.origin
    return Span(origin.file, origin.line, origin.column).prefix()


def place(finding: Finding) -> str:
    """The resource as a person finds it: an observed resource by its id; a declared one by
    where it is written and its address (``resources[0]``, a plan's ``azurerm_x.name``),
    since a template's resource id holds expressions no one searches for."""
    if finding.origin.kind is not ir.SourceKind.DECLARED:
        return finding.resource_id
    return f"{declared_at(finding)} {finding.origin.address or finding.resource_id}"


def parse_site(site: str) -> tuple[str, int, int] | None:
    """``file:line:col`` (an evidence site) -> its parts; None if it is not of that shape."""
    parts = site.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def evidence_lines(finding: Finding) -> list[str]:
    """One sentence per comparison; the reason for a finding that could not be evaluated."""
    if finding.error is not None:
        return [finding.error]
    return [e.sentence() for e in finding.evidence]


def incomplete_lines(scan: ScanStatus) -> list[str]:
    """What an incomplete scan did not see, a line each; none for a complete scan."""
    if scan.complete:
        return []
    return scan.gap_lines() or ["the scan did not see everything it was asked to"]


def exit_code(summary: Summary, scan: ScanStatus) -> int | None:
    """The exit code a report can state: 2 when there are input errors (whatever else, as
    the scan pipeline decides: docs/architecture.md, "Exit codes"); the findings' code for a
    complete scan; None for an incomplete one, whose code depends on ``--allow-incomplete``,
    which a report is not told."""
    if scan.input_errors:
        return 2
    return summary.exit_code if scan.complete else None


def remediation_lines(rule: ir.Rule) -> list[str]:
    """How to fix a failure of ``rule``: what to do, then where in the portal, then the CLI."""
    remediation = rule.metadata.remediation
    lines = [f"Fix: {remediation.text.strip()}"]
    if remediation.portal:
        lines.append(f"Azure portal: {remediation.portal.strip()}")
    if remediation.cli:
        lines.append(f"Azure CLI: {remediation.cli.strip()}")
    return lines


def control_status(control: Control, summary: Summary) -> ControlStatus:
    """How ``control`` fares: the worst of its rules' verdicts, or not covered when no rule
    maps to it (:func:`frameworks.status`)."""
    return status([summary.counts.get(rule.id, Counter()) for rule in control.rules])


def control_ids(rule: ir.Rule, framework: Framework) -> tuple[str, ...]:
    """The controls of ``framework`` that ``rule`` maps to."""
    for fid, controls in rule.metadata.controls:
        if fid.lower() == framework.id.lower():
            return controls
    return ()


def visible(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids, and the C1 controls, written as
    ``\\xNN`` / ``\\uNNNN``: a hostile resource name stays readable, cannot break the
    document around it, and can be written to a UTF-8 file (a lone surrogate cannot)."""
    return _INVISIBLE.sub(_escape_char, text)


def terminal(text: str, *, one_line: bool = False) -> str:
    """``text`` made safe to print on a terminal: no escape sequence (ESC, CSI, OSC), no
    cursor movement, no reordering; with ``one_line``, no line break either, so a value
    cannot fake a line of the report."""
    return (_TERMINAL_LINE if one_line else _TERMINAL_TEXT).sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_json(value: Any) -> Any:
    """A JSON-shaped value with every string (keys too) passed through :func:`visible` and
    every non-finite float through :func:`finite`: for a page that shows the values."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible_json(k): visible_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible_json(v) for v in value]
    return finite(value)


def finite(value: Any) -> Any:
    """``value`` with each non-finite float, at any depth, as the string JavaScript would
    print (``NaN``, ``Infinity``, ``-Infinity``): JSON has no such numbers, and a bare
    ``NaN`` makes the whole document unreadable to a strict parser. An input's ``1e400``
    arrives here as infinity."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {finite(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(value: Any, *, indent: int | None = None,
              separators: tuple[str, str] | None = None) -> str:
    """``value`` as strict JSON with sorted keys: non-ASCII text as itself, but the
    characters of :data:`_JSON_RAW` escaped, and non-finite floats as strings."""
    encoder = _encoder(indent, separators)
    try:
        text = encoder.encode(value)
    except ValueError:  # a NaN or an infinity somewhere: rare, so the value is walked only then
        text = encoder.encode(finite(value))
    if text.isascii() and "\x7f" not in text:  # the common case, scanned at C speed
        return text
    return _JSON_RAW.sub(_json_escape, text)


@functools.cache
def _encoder(indent: int | None, separators: tuple[str, str] | None) -> json.JSONEncoder:
    # One encoder per shape: json.dumps would build a new one on every call with these options.
    return json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False, indent=indent,
                            separators=separators)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# Markdown, for the Markdown report and SARIF's help.markdown.

# Characters Markdown (GitHub's flavour) gives a meaning inline; ``|`` ends a table cell even
# inside a code span, so it is escaped everywhere: https://github.github.com/gfm/#tables-extension-
_MARKDOWN = re.compile(r"([\\`*_\[\]|~#!])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# GitHub turns ``@name`` and ``@org/team`` into a mention, and notifies them, wherever an ``@``
# that follows no letter, digit or underscore is followed by a letter or digit. It finds them
# in the rendered text, after backslash escapes and entities are decoded, so neither stops it
# (html-pipeline's MentionFilter); a zero-width joiner after the ``@`` does, and is not seen.
# Code spans and blocks are never searched, so md_code_block needs none.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")


def md_text(text: str) -> str:
    """``text`` as literal Markdown on one line (for a table cell or a list item): Markdown
    punctuation backslash-escaped, HTML metacharacters as entities (a value can open no
    tag), an @mention made inert, line breaks as ``<br>``."""
    escaped = _MARKDOWN.sub(r"\\\1", _MENTION.sub("@\u200d", visible(text)))
    escaped = "".join(_HTML.get(c, c) for c in escaped)
    return "<br>".join(line.strip() for line in escaped.strip().splitlines())


def md_code_block(text: str, language: str = "") -> str:
    """A fenced code block holding ``text`` literally: the fence is longer than any run of
    backticks inside it (https://github.github.com/gfm/#fenced-code-blocks)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{visible(text).rstrip()}\n{fence}"
