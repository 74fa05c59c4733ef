"""The Markdown report: its summary, tables that hold whatever the estate names, and a
length that fits in a GitHub comment."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

from policyengine.findings import Verdict
from policyengine.reports.common import md_text
from policyengine.reports.fixes import fix_command
from policyengine.reports.markdown import LIMIT, MarkdownReporter
from policyengine.status import ScanStatus
from tests.conftest import Result
from tests.reports.scans import estate, first, hostile, render, templates, waived

# A ``|`` that ends a table cell: one not escaped by an odd number of backslashes.
_CELL_BAR = re.compile(r"(?<!\\)(?:\\\\)*\|")


def table_shapes(text: str) -> set[int]:
    """How many cell bars each table line has, per table (a well-formed table: one number)."""
    shapes: set[int] = set()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---"):
            width = len(_CELL_BAR.findall(lines[i - 1]))
            rows = [row for row in lines[i + 1:] if row.startswith("|")]
            rows = rows[:next((n for n, row in enumerate(lines[i + 1:]) if not row.startswith("|")), len(rows))]
            assert all(len(_CELL_BAR.findall(row)) == width for row in rows), rows
            shapes.add(width)
    return shapes


def finding_rows(text: str) -> int:
    """Table rows after the rule (and control) tables: one per finding shown."""
    after = text[text.index("### Failing"):] if "### Failing" in text else ""
    lines = after.splitlines()
    return sum(1 for i, line in enumerate(lines)
               if line.startswith("| ") and not (i + 1 < len(lines) and lines[i + 1].startswith("|---")))


def test_the_heading_and_a_summary_row_per_rule() -> None:
    text = render(MarkdownReporter, estate())
    assert text.startswith("## ❌ policyengine: 25 failing at or above `info`\n")
    assert "Exit status **1**. 276 verdicts" in text
    assert "| Rule | Severity | Title | Fail | Error | Unknown | Waived | Pass | N/A |" in text
    assert "| ❌ PG-FLEX-001 | high | Flexible servers accept only encrypted (TLS) connections | 3 | 0 | 2 | 0 | 9 | 1 |" \
        in text
    assert "Truncated" not in text
    assert len(text) < LIMIT
    table_shapes(text)


def test_failing_findings_come_grouped_by_rule_with_evidence_location_and_fix() -> None:
    finding = first(estate(), Verdict.FAIL)
    text = render(MarkdownReporter, estate())
    assert "### Failing (82)" in text
    group = text[text.index(f"#### {md_text(finding.rule.id)}:"):]
    # The rule's command for each failing resource, with its real names.
    fix = fix_command(finding)
    assert fix is not None and "<resource-group>" not in fix and "<server>" not in fix
    block = group[group.index("```sh\n"):group.index("\n```", group.index("```sh\n")) + 4]
    assert fix in block.splitlines()
    assert f"| examples/estate.json:{finding.origin.line} | {md_text(finding.evidence[0].sentence())} |" in group


def test_a_template_finding_is_located_by_file_line_and_column() -> None:
    text = render(MarkdownReporter, templates())
    assert "| examples/templates/flexible-insecure.json:32:5 resources\\[0\\]\\[0\\] |" in text
    assert "(set at examples/templates/flexible-insecure.json:66:18)" in text


def test_unknown_and_waived_findings_are_folded_away() -> None:
    accepted = waived(first(estate(), Verdict.FAIL))
    text = render(MarkdownReporter, [*estate(), accepted])
    assert "<details><summary>Unknown: could not be judged (33)</summary>" in text
    assert "<details><summary>Waived (1)</summary>" in text
    assert "Sandbox: no customer data \\| \"accepted\" &lt;risk&gt;" in text
    assert text.count("<details>") == text.count("</details>") == 2
    quiet = render(MarkdownReporter, [*estate(), accepted], quiet=True)
    assert "<details>" not in quiet and "### Failing" in quiet


def test_values_from_the_estate_are_escaped() -> None:
    finding = hostile(first(estate(), Verdict.FAIL))
    text = render(MarkdownReporter, [finding, hostile(first(estate(), Verdict.UNKNOWN))])
    # Outside code blocks (which GitHub shows literally) the markup is escaped.
    prose = re.sub(r"(?ms)^```.*?^```$", "", text)
    assert "<b>" not in prose and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in text
    assert "a\\|b \\`tick\\`" in text
    assert "\x01" not in text and "\x1b" not in text
    table_shapes(text)  # every row has as many cells as its header


def test_baselined_failures_are_shown_and_said_not_to_count() -> None:
    known = dataclasses.replace(first(estate(), Verdict.FAIL), baseline=True)
    text = render(MarkdownReporter, [known], baseline="previous.json")
    assert text.startswith("## ✅ policyengine: nothing failing")
    assert "1 failing finding(s) already in the baseline previous.json are reported but not counted." in text
    assert " (in the baseline) |" in text


def test_an_incomplete_scan_says_what_it_did_not_see() -> None:
    scan = ScanStatus("live", truncated=["microsoft.dbforpostgresql/servers"])
    text = render(MarkdownReporter, estate(), scan=scan)
    assert text.startswith("## ⚠️ policyengine: incomplete scan; 25 failing")
    assert "- truncated: microsoft.dbforpostgresql/servers" in text


def test_a_framework_adds_a_table_of_controls_with_their_status() -> None:
    text = render(MarkdownReporter, estate(), framework="cis-azure-3.0.0")
    assert "### Controls: CIS Microsoft Azure Foundations Benchmark 3.0.0" in text
    assert "| 5.2.1 | ❌ failing | PG-FLEX-001 | Ensure server parameter 'require\\_secure\\_transport'" in text
    assert "| 5.2.8 | ➖ not covered | — | \\[LEGACY\\] Ensure 'Infrastructure double encryption'" in text


def test_waivers_needing_attention_are_listed() -> None:
    entry = {"waiver": {"rule": "PG-X", "resource": "*", "justification": "j", "owner": "o",
                        "expires": "2020-01-01", "source": "w.yaml:3:5"}, "status": "expired", "matched": 0}
    text = render(MarkdownReporter, estate(), waivers=(entry,))
    assert "- w.yaml:3:5: the waiver of PG-X for \\* expired on 2020-01-01 and no longer applies" in text


def test_a_long_report_is_cut_at_a_row_with_a_note_counting_what_is_left_out() -> None:
    findings = [*estate(), waived(first(estate(), Verdict.FAIL))]
    whole = render(MarkdownReporter, findings)
    for limit in (2_500, 6_000, 9_000):
        text = render(functools.partial(MarkdownReporter, limit=limit), findings)
        assert len(text.encode("utf-16-le")) // 2 <= limit
        left_out = int(re.findall(r"\*\*Truncated\*\*: (\d+) more finding", text)[0])
        assert finding_rows(text) + left_out == finding_rows(whole)
        assert text.count("<details>") == text.count("</details>")
        table_shapes(text)


def test_the_cli_writes_markdown(cli: Callable[..., Result]) -> None:
    result = cli("scan", "--format", "markdown")
    assert result.code == 1
    assert result.out.startswith("## ❌ policyengine:")
