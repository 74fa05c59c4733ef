"""Input errors and missing data in every report format: each file, row or resource that
could not be read is listed where it is, with its reason, and each kind of missing data with
the command that collects it; the reports that state an exit code say 2."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from policyengine.errors import Span
from policyengine.findings import Verdict
from policyengine.loading.schema import load_schema
from policyengine.reports import FORMAT_NAMES
from policyengine.reports.common import SHOWN_PROBLEMS
from policyengine.reports.csv_report import COLUMNS, CsvReporter
from policyengine.reports.html_report import HtmlReporter
from policyengine.reports.json_report import JsonReporter
from policyengine.reports.junit import JunitReporter
from policyengine.reports.markdown import MarkdownReporter
from policyengine.reports.table import TableReporter
from policyengine.status import Gap, InputProblem, Missing, ScanStatus, Unit
from tests.conftest import Result
from tests.reports.scans import ROOT, estate, render
from tests.reports.test_html import parse
from tests.reports.test_junit import conforms
from tests.reports.test_markdown import table_shapes
from tests.reports.test_sarif import sarif

BAD_ROW = InputProblem(Span("examples/estate.json", 12, 5), "invalid JSON: Expecting value", Unit.ROW)
BAD_FILE = InputProblem(Span("templates/broken.json", 3, 1), "expected a property name in double quotes")
BAD_RESOURCE = InputProblem(Span("templates/main.json", 40, 9), "the name 'rule1' has 1 segment(s)",
                            Unit.RESOURCE, resource="resources[4]")
FROM_STDIN = InputProblem(Span("<stdin>", 2, 0), "not a JSON object")
MISSING = Missing("server parameters (flexibleServers/configurations)", 3, ("PG-FLEX-001", "PG-FLEX-002"),
                  "policyengine collect --azure --subscription 1111 -o snapshot.ndjson")
SCAN = ScanStatus(input_errors=[BAD_ROW, BAD_FILE, BAD_RESOURCE, FROM_STDIN], missing=[MISSING])


def test_json_lists_them_and_exits_2() -> None:
    doc = json.loads(render(JsonReporter, estate(), scan=SCAN))
    jsonschema.Draft202012Validator(load_schema("report.schema.json")).validate(doc)
    assert doc["summary"]["exitCode"] == 2
    assert [e["file"] for e in doc["scan"]["inputErrors"]] == [
        "examples/estate.json", "templates/broken.json", "templates/main.json", "<stdin>"]
    assert doc["scan"]["missingData"] == [MISSING.to_json()]
    clean = json.loads(render(JsonReporter, estate()))
    assert clean["summary"]["exitCode"] == 1  # without input errors, the findings' code
    incomplete = json.loads(render(JsonReporter, estate(), scan=ScanStatus(truncated=["x"], input_errors=[BAD_ROW])))
    assert incomplete["summary"]["exitCode"] == 2


def test_sarif_says_the_execution_failed_and_notifies_each_error_where_it_is() -> None:
    log = sarif(estate(), scan=SCAN)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    notes = [n for n in invocation["toolExecutionNotifications"] if n["descriptor"]["id"] == "input-error"]
    assert [n["level"] for n in notes] == ["error"] * 4
    located = {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]:
               (n["locations"][0]["physicalLocation"].get("region"), n["message"]["text"], n["properties"]["unit"])
               for n in notes if "locations" in n}
    assert located == {
        "examples/estate.json": ({"startLine": 12, "startColumn": 5}, BAD_ROW.message, "row"),
        "templates/broken.json": ({"startLine": 3, "startColumn": 1}, BAD_FILE.message, "file"),
        "templates/main.json": ({"startLine": 40, "startColumn": 9}, BAD_RESOURCE.message, "resource"),
    }
    for note in notes:  # relative to the checkout, as the results' locations are
        if "locations" in note:
            assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    resource = next(n for n in notes if n["properties"]["unit"] == "resource")
    assert resource["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "resources[4]",
                                                            "kind": "resource"}]
    stdin = next(n for n in notes if "locations" not in n)  # no file to point at: the text says where
    assert stdin["message"]["text"] == "<stdin>:2: not a JSON object"
    [missing] = [n for n in invocation["toolExecutionNotifications"] if n["descriptor"]["id"] == "missing-data"]
    assert missing["level"] == "warning" and missing["message"]["text"] == MISSING.text()


def test_sarif_of_a_clean_scan_is_a_successful_execution() -> None:
    invocation = sarif(estate())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True and invocation["exitCode"] == 1
    assert "toolExecutionNotifications" not in invocation


def test_junit_has_a_suite_of_error_cases_counted_in_the_totals() -> None:
    clean = ET.fromstring(render(JunitReporter, estate()).encode("utf-8"))
    root = ET.fromstring(render(JunitReporter, estate(), scan=SCAN).encode("utf-8"))
    assert conforms(root) == []
    [suite] = [s for s in root.iter("testsuite") if s.get("name") == "input errors"]
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("4", "4", "0")
    assert int(root.get("errors", "")) == int(clean.get("errors", "")) + 4
    assert int(root.get("tests", "")) == int(clean.get("tests", "")) + 4
    cases = {c.get("name"): c.find("error") for c in suite.iter("testcase")}
    error = cases["templates/main.json:40:9"]
    assert error is not None
    assert (error.get("message"), error.get("type")) == (BAD_RESOURCE.text(), "resource")
    assert "Resource: resources[4]" in (error.text or "")
    for rule_id in MISSING.rules:
        [rule_suite] = [s for s in root.iter("testsuite") if (s.get("name") or "").startswith(rule_id + ":")]
        said = [p.get("value") for p in rule_suite.iter("property") if p.get("name") == "missing_data"]
        assert said == [MISSING.text()]
        assert rule_suite.findtext("system-err") == MISSING.text()


def test_csv_has_a_row_per_input_error_and_per_missing_data() -> None:
    text = render(CsvReporter, estate(), scan=SCAN)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(estate()) + 5
    extra = [r for r in rows if r["verdict"] in ("input-error", "missing-data")]
    assert [(r["verdict"], r["source_file"], r["line"], r["column"], r["resource_id"], r["evidence"]) for r in extra] \
        == [("input-error", "<stdin>", "2", "", "", "unit: file"),  # sorted by file, then place
            ("input-error", "examples/estate.json", "12", "5", "", "unit: row"),
            ("input-error", "templates/broken.json", "3", "1", "", "unit: file"),
            ("input-error", "templates/main.json", "40", "9", "resources[4]", "unit: resource"),
            ("missing-data", "", "", "", "", MISSING.command)]
    assert extra[-1]["rule_id"] == "PG-FLEX-001 PG-FLEX-002"
    assert all(len(r) == len(COLUMNS) for r in rows)


def test_markdown_lists_them_after_the_headline() -> None:
    text = render(MarkdownReporter, estate(), scan=SCAN)
    table_shapes(text)
    assert text.startswith("## ⚠️ policyengine: 4 input errors; ")
    assert "Exit status **2**" in text
    errors = text[text.index("### Input errors (4)"):text.index("### Missing data")]
    assert "| templates/main.json:40:9 | resource | resources\\[4\\] | the name 'rule1' has 1 segment(s) |" \
        in errors
    assert "| examples/estate.json:12:5 | row |  | invalid JSON: Expecting value |" in errors
    assert "```sh\n" + MISSING.command + "\n```" in text
    assert text.index("### Missing data") < text.index("| Rule | Severity |")


def test_markdown_and_table_show_so_many_input_errors_then_count_the_rest() -> None:
    many = ScanStatus(input_errors=[InputProblem(Span("big.ndjson", n, 1), "bad row", Unit.ROW)
                                    for n in range(1, SHOWN_PROBLEMS + 8)])
    text = render(MarkdownReporter, estate(), scan=many)
    assert text.count("| big.ndjson:") == SHOWN_PROBLEMS and "…and 7 more" in text
    table = render(TableReporter, estate(), scan=many)
    assert table.count("  big.ndjson:") == SHOWN_PROBLEMS and "... and 7 more" in table


def test_the_table_lists_them_within_its_width_and_names_the_command() -> None:
    long = InputProblem(Span("templates/main.json", 40, 9), " ".join(["word"] * 60), Unit.RESOURCE)
    text = render(TableReporter, estate(), scan=ScanStatus(input_errors=[long, BAD_ROW], missing=[MISSING]))
    section = text[text.index("INPUT ERRORS (2)"):text.index("MISSING DATA")]
    lines = section.splitlines()[1:]
    assert lines[0] == "  examples/estate.json:12:5: invalid JSON: Expecting value"
    assert lines[1].startswith("  templates/main.json:40:9: word word")
    assert all(len(line) <= 90 for line in lines) and len([ln for ln in lines if ln.strip()]) > 3
    assert f"\n    {MISSING.command}\n" in text  # whole, to be copied


def test_html_has_a_table_of_input_errors_and_says_how_many() -> None:
    page = render(HtmlReporter, estate(), scan=SCAN)
    parse(page)
    table = re.search(r'<table id="input-errors">.*?</table>', page, re.DOTALL)
    assert table is not None
    assert table.group().count('<tr data-unit="') == 4
    assert '<td class="mono">templates/main.json:40:9</td><td>resource</td>' in table.group()
    assert "<dt>Input errors</dt><dd><a href=\"#input-errors\"><strong>4 input errors</strong></a>" in page
    assert 'id="input-errors-state"' in page and "; exit code 2.</p>" in page
    assert re.search(r'<table id="missing-data">.*?' + re.escape(MISSING.command), page, re.DOTALL)
    assert '<a href="#not-judged">Not judged</a>' in page
    clean = render(HtmlReporter, estate())
    assert "<dt>Input errors</dt><dd>0 input errors</dd>" in clean and 'id="not-judged"' not in clean


def test_an_incomplete_scan_states_no_exit_code_it_cannot_know() -> None:
    scan = ScanStatus(not_evaluated=[Gap("microsoft.dbforpostgresql/flexibleservers", "timed out", ("s",))])
    invocation = sarif(estate(), scan=scan)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and "exitCode" not in invocation
    page = render(HtmlReporter, estate(), scan=scan)
    assert "exit code 3 (1 with <code>--allow-incomplete</code>)" in page


def test_the_cli_writes_every_format_with_the_input_errors(cli: Callable[..., Result], tmp_path: Path) -> None:
    """A folder holding a good template and a truncated one, scanned into all seven formats at
    once: each report names the broken file, and the scan exits with 2."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "templates" / "flexible-insecure.json", folder / "good.json")
    good = (folder / "good.json").read_text(encoding="utf-8")
    (folder / "broken.json").write_text(good[:good.index('"resources"') + 20], encoding="utf-8")
    argv: list[str] = ["scan", str(folder)]
    for name in FORMAT_NAMES:
        argv += ["--format", name, "--output", str(tmp_path / f"report.{name}")]
    result = cli(*argv)
    assert result.code == 2 and "broken.json" in result.err
    reports: dict[str, Any] = {name: (tmp_path / f"report.{name}").read_text(encoding="utf-8")
                               for name in FORMAT_NAMES}
    for name, text in reports.items():
        assert "broken.json" in text, name
    doc = json.loads(reports["json"])
    assert doc["summary"]["exitCode"] == 2 and doc["summary"]["verdicts"][Verdict.FAIL.value] > 0
    assert json.loads(reports["sarif"])["runs"][0]["invocations"][0]["executionSuccessful"] is False
