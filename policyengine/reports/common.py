"""What the SARIF, JUnit, CSV and Markdown reports share: the order findings are listed in,
where a finding is, what it saw and how to fix it, and text made safe to embed."""

from __future__ import annotations

import re
from collections import Counter

from policyengine import ir
from policyengine.errors import Span
from policyengine.findings import Finding, Verdict
from policyengine.frameworks import Control, Framework, status
from policyengine.reports import Summary
from policyengine.status import ScanStatus

#: The verdicts that need someone's attention (waived: accepted, but still a known failure).
ATTENTION = (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN, Verdict.WAIVED)

# An input named by a URI scheme (``azure:<scope>`` for a live scan), or a placeholder such
# as ``<stdin>`` or ``(inferred from ...)``: not a file anyone can open. A Windows drive
# letter (``C:\``) is one letter, so it does not look like a scheme.
_NOT_A_PATH = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]+:|[<(]|-$)")

# Characters XML 1.0 forbids even as character references (C0 controls but tab, newline and
# carriage return; lone surrogates; U+FFFE and U+FFFF), which also garble a Markdown table
# or a terminal: https://www.w3.org/TR/xml/#charsets
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


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


def remediation_lines(rule: ir.Rule) -> list[str]:
    """How to fix a failure of ``rule``: what to do, then where in the portal, then the CLI."""
    remediation = rule.metadata.remediation
    lines = [f"Fix: {remediation.text.strip()}"]
    if remediation.portal:
        lines.append(f"Azure portal: {remediation.portal.strip()}")
    if remediation.cli:
        lines.append(f"Azure CLI: {remediation.cli.strip()}")
    return lines


def control_status(control: Control, summary: Summary) -> Verdict:
    """How ``control`` fares: the worst of its rules' verdicts (:func:`frameworks.status`)."""
    return status([summary.counts.get(rule.id, Counter()) for rule in control.rules])


def control_ids(rule: ir.Rule, framework: Framework) -> tuple[str, ...]:
    """The controls of ``framework`` that ``rule`` maps to."""
    for fid, controls in rule.metadata.controls:
        if fid.lower() == framework.id.lower():
            return controls
    return ()


def visible(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids written as ``\\xNN`` / ``\\uNNNN``: a
    hostile resource name stays readable and cannot break the document around it."""
    return _INVISIBLE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Markdown, for the Markdown report and SARIF's help.markdown.

# Characters Markdown (GitHub's flavour) gives a meaning inline; ``|`` ends a table cell even
# inside a code span, so it is escaped everywhere: https://github.github.com/gfm/#tables-extension-
_MARKDOWN = re.compile(r"([\\`*_\[\]|~#!])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md_text(text: str) -> str:
    """``text`` as literal Markdown on one line (for a table cell or a list item): Markdown
    punctuation backslash-escaped, HTML metacharacters as entities (a value can open no
    tag), line breaks as ``<br>``."""
    escaped = _MARKDOWN.sub(r"\\\1", visible(text))
    escaped = "".join(_HTML.get(c, c) for c in escaped)
    return "<br>".join(line.strip() for line in escaped.strip().splitlines())


def md_code_block(text: str, language: str = "") -> str:
    """A fenced code block holding ``text`` literally: the fence is longer than any run of
    backticks inside it (https://github.github.com/gfm/#fenced-code-blocks)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{visible(text).rstrip()}\n{fence}"
