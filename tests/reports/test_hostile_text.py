"""Hostile text in every report format: a resource id, evidence, an input error and a missing-
data command carrying a lone surrogate, ESC/OSC/CSI sequences, NUL, a C1 control, U+2028, an
@mention, markup, a table bar, an infinity (``1e400``) and NaN. Every format writes to a real
UTF-8 file, parses back strictly, and lets no raw control character through."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policyengine.errors import Span
from policyengine.findings import Evidence, Finding, Verdict
from policyengine.loading.schema import load_schema
from policyengine.reports import FORMAT_NAMES, ReportContext, formats
from policyengine.reports.common import json_text, terminal, visible
from policyengine.status import InputProblem, Missing, ScanStatus, Stats, Unit
from tests.reports.scans import ROOT, estate, first, live, rules, summary_of
from tests.reports.test_html import island, parse
from tests.reports.test_junit import conforms
from tests.reports.test_markdown import table_shapes
from tests.reports.test_sarif import validator
from tests.reports.test_script import run_script

OSC_LINK = "\x1b]8;;http://x\x07link\x1b]8;;\x07"  # a terminal hyperlink
CLEAR = "\x1b[2J"  # clears the screen
#: Every kind of trouble in one string.
TEXT = (f"pg\ud800 {OSC_LINK} {CLEAR} nul\x00 csi\x9b31m line\u2028sep @someone @org/team "
        "<script>alert(1)</script> a|b")
INFINITY = json.loads("1e400")  # what an input's 1e400 becomes
#: Characters that must never reach an output raw: NUL, BEL (ends an OSC), ESC, CSI (C1).
RAW = ("\x00", "\x07", "\x1b", "\x9b")


def hostile_findings() -> list[Finding]:
    """A failing finding of the example estate, its id and evidence made hostile; the same
    finding as a live scan gives it (no file: the id is its location); and an unknown one."""
    failing = first(estate(), Verdict.FAIL)
    evidence = (
        Evidence("properties.note", 'equals "on"', TEXT, True, Verdict.FAIL, note=TEXT),
        Evidence("properties.size", "at most 5", INFINITY, True, Verdict.FAIL),
        Evidence("properties.ratio", "at most 5", float("nan"), True, Verdict.FAIL),
        Evidence("tags", "no tags", {f"k{TEXT}": [-INFINITY, TEXT, float("nan")]}, True, Verdict.FAIL),
    )
    bad = dataclasses.replace(failing, resource_id=failing.resource_id + TEXT, subscription_id=TEXT,
                              evidence=evidence)
    unknown = first(estate(), Verdict.UNKNOWN)
    unknown = dataclasses.replace(unknown, resource_id=unknown.resource_id + TEXT, evidence=(
        Evidence("properties.x", TEXT, None, False, Verdict.UNKNOWN, note=TEXT),))
    return [bad, live(dataclasses.replace(bad, resource_id="/subscriptions/" + TEXT)), unknown]


SCAN = ScanStatus(
    input_errors=[InputProblem(Span(f"in{CLEAR}put.ndjson", 3, 7), f"bad row: {TEXT}", Unit.ROW,
                               resource=f"/subscriptions/{TEXT}"),
                  InputProblem(Span("<stdin>", 1, 1), TEXT)],
    missing=[Missing(f"server parameters {TEXT}", 2, ("PG-FLEX-001",),
                     f"policyengine collect --azure --subscription '{TEXT}' -o snapshot.ndjson")],
)


def write(name: str, folder: Path) -> str:
    """The report of :func:`hostile_findings` in format ``name``, written to a file opened as
    the CLI opens its outputs (strict UTF-8), and read back strictly."""
    findings = hostile_findings()
    path = folder / f"report.{name}"
    with contextlib.chdir(ROOT), path.open("w", encoding="utf-8", newline="") as out:
        reporter = formats()[name](out, rules())
        for finding in findings:
            reporter.add(finding)
        stats = Stats(rows=1, notes=[f"input.ndjson:2: {TEXT}"], resources=Counter({TEXT: 1}))
        reporter.finish(summary_of(findings), ReportContext((f"in{CLEAR}put.ndjson",), stats, SCAN))
    return path.read_bytes().decode("utf-8")


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def check_json(text: str) -> None:
    doc = strict_json(text)
    jsonschema.Draft202012Validator(load_schema("report.schema.json")).validate(doc)
    ids = {f["resource"]["id"] for f in doc["findings"]}
    assert {f.resource_id for f in hostile_findings()} <= ids  # escaped, not altered: it reads back the same
    actual = {e["path"]: e.get("actual") for f in doc["findings"] for e in f["evidence"]}
    assert (actual["properties.size"], actual["properties.ratio"]) == ("Infinity", "NaN")
    assert actual["tags"] == {f"k{TEXT}": ["-Infinity", TEXT, "NaN"]}
    assert doc["summary"]["exitCode"] == 2
    assert "\\ud800" in text and "\\u2028" in text and "\\u009b" in text


def check_sarif(text: str) -> None:
    log = strict_json(text)
    assert [f"{e.json_path}: {e.message}" for e in validator().iter_errors(log)] == []
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes][:3] == ["input-error", "input-error", "missing-data"]


def check_junit(text: str) -> None:
    root = ET.fromstring(text.encode("utf-8"))
    assert conforms(root) == []
    assert root.get("errors") == "2"


def check_csv(text: str) -> None:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["verdict"] for r in rows][-3:] == ["input-error", "input-error", "missing-data"]
    assert any(visible(TEXT) in r["resource_id"] for r in rows)


def check_markdown(text: str) -> None:
    table_shapes(text)  # every table row has its header's cells: no `|` escaped a cell
    prose = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)  # code is shown as it is
    assert "<script>" not in prose
    assert not re.search(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]", prose)  # GitHub's mention pattern
    assert "@\u200dsomeone" in prose and "@\u200dorg/team" in prose


def check_html(text: str) -> None:
    parser = parse(text)  # well formed: the markup closes every element it opens
    assert parser.tags["script"] == 3 and "<script>alert" not in text
    rows = island(parser, "findings")
    assert visible(TEXT) in {row["subscription"] for row in rows}  # shown as the markup shows it
    for _, attrs, body in parser.raw:
        if attrs.get("type") == "application/json":
            strict_json(body)
    assert 'id="input-errors"' in text and 'id="missing-data"' in text


def check_table(text: str) -> None:
    assert "\u2028" not in text and "\ud800" not in text
    assert terminal(OSC_LINK) in text and "\\u2028" in text
    assert "INPUT ERRORS (2)" in text and "MISSING DATA (1)" in text


def check_script(text: str) -> None:
    ran = run_script(text)
    assert ran.returncode == 0, ran.stderr
    calls = ran.calls
    assert calls and all(call[0] in ("account", "postgres", "security", "resource") for call in calls)
    assert any(terminal(TEXT, one_line=True) in arg for call in calls for arg in call)  # quoted, whole


CHECKS: dict[str, Callable[[str], None]] = {
    "table": check_table, "json": check_json, "sarif": check_sarif, "junit": check_junit,
    "csv": check_csv, "markdown": check_markdown, "html": check_html, "script": check_script,
}


def test_every_format_is_checked() -> None:
    assert set(CHECKS) == set(FORMAT_NAMES)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_hostile_text_is_written_escaped_and_parses(name: str, tmp_path: Path) -> None:
    text = write(name, tmp_path)
    assert [c for c in RAW if c in text] == []
    CHECKS[name](text)


@pytest.mark.parametrize(("value", "written"), [
    (float("nan"), '"NaN"'), (INFINITY, '"Infinity"'), (-INFINITY, '"-Infinity"'),
    ({"a": [1.5, INFINITY]}, '{"a": [1.5, "Infinity"]}'), ({"b": 1, "a": "x"}, '{"a": "x", "b": 1}'),
    ("\ud800\x7f\x9b\u2028\u2029é\x1b", '"\\ud800\\u007f\\u009b\\u2028\\u2029é\\u001b"'),
])
def test_json_text_is_strict_and_writable(value: Any, written: str) -> None:
    text = json_text(value)
    assert text == written
    text.encode("utf-8")
    strict_json(text)


@pytest.mark.parametrize(("text", "one_line", "shown"), [
    ("a\x1b[2Jb", False, "a\\x1b[2Jb"),
    ("\x9b31m", False, "\\x9b31m"),
    ("tab\tcr\rnl\n", False, "tab\\x09cr\\x0dnl\n"),
    ("nl\n", True, "nl\\x0a"),
    ("\u202eevil\u2066", False, "\\u202eevil\\u2066"),
    ("\ud800 é 🐘", False, "\\ud800 é 🐘"),
])
def test_terminal_escapes_what_a_terminal_would_obey(text: str, one_line: bool, shown: str) -> None:
    assert terminal(text, one_line=one_line) == shown
