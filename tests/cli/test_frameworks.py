"""Framework definitions and the --framework view: every control of a framework's PostgreSQL
part is shown, covered or not, computed from the rules' control mappings and the bundled
definitions (policyengine/data/frameworks)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policyengine import frameworks
from policyengine.frameworks import ControlStatus, DefinitionError, definitions, known, parse_definition
from policyengine.loading.rules import load_rules
from policyengine.loading.schema import load_schema
from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "frameworks"
#: Stand-ins for PG-FLEX-005 (log_checkpoints, CIS 3.0.0 5.2.2) and PG-FLEX-009 (log retention,
#: 5.2.4): the bundled ones are written in parallel, and the view must fill in from any rule.
RULES = ("--no-bundled-rules", "--rules", str(FIXTURES / "rules"))
TEMPLATE = str(FIXTURES / "template.json")

#: What the sources cited in the definition files list (see each file's header).
CIS_3 = ["3.1.7.2", "3.1.12", "3.1.13", "3.1.14", *(f"5.2.{n}" for n in range(1, 9))]
CIS_2 = ["2.1.6", "2.1.18", "2.1.19", "2.1.20", *(f"4.3.{n}" for n in range(1, 9))]


def scan_json(cli: Callable[..., Result], *argv: str) -> dict[str, Any]:
    result = cli("scan", TEMPLATE, *RULES, "--format", "json", *argv)
    assert result.code in (0, 1), result.err
    doc: dict[str, Any] = json.loads(result.out)
    jsonschema.Draft202012Validator(load_schema("report.schema.json")).validate(doc)
    return doc


def test_the_definitions_list_the_controls_their_sources_give() -> None:
    defined = definitions()
    assert [c.id for c in defined["cis-azure-3.0.0"].controls] == CIS_3
    assert [c.id for c in defined["cis-azure-2.0.0"].controls] == CIS_2
    for definition in defined.values():
        assert definition.sources and all(s.startswith("https://github.com/") for s in definition.sources)
        assert all(c.title.strip() and "  " not in c.title for c in definition.controls)
    titles = {c.id: c.title for c in defined["cis-azure-3.0.0"].controls}
    assert titles["5.2.1"] == ("Ensure server parameter 'require_secure_transport' is set to 'ON' for "
                               "PostgreSQL flexible server")
    assert titles["5.2.5"].startswith("Ensure 'Allow public access from any Azure service within Azure")
    assert titles["3.1.13"] == "Ensure 'Additional email addresses' is Configured with a Security Contact Email"


def test_every_cis_control_a_bundled_rule_maps_to_is_defined() -> None:
    """A rule mapping to a CIS number its framework's definition does not list is a typo or a
    control whose title no one has looked up: either way, not to be shown as covered."""
    defined = definitions()
    for rule in load_rules([]):
        for fid, controls in rule.metadata.controls:
            definition = defined.get(fid.lower())
            if definition is not None:
                listed = {c.id for c in definition.controls}
                assert set(controls) <= listed, f"{rule.id} maps {fid} {sorted(set(controls) - listed)}"


def test_a_flexible_server_rule_maps_to_no_single_server_control() -> None:
    """CIS 3.0.0 titles its legacy recommendations "... for PostgreSQL single server": a rule
    on flexible servers mapped to one has the wrong number."""
    defined = definitions()
    wrong = []
    for rule in load_rules([]):
        if rule.resource_type.lower() != "microsoft.dbforpostgresql/flexibleservers":
            continue
        for fid, controls in rule.metadata.controls:
            titles = {c.id: c.title for c in defined[fid.lower()].controls} if fid.lower() in defined else {}
            wrong += [f"{rule.id} -> {fid} {cid}" for cid in controls
                      if titles.get(cid, "").endswith("single server")]
    assert wrong == []


def test_the_view_is_computed_from_the_rules_mappings(cli: Callable[..., Result]) -> None:
    doc = scan_json(cli, "--framework", "cis-azure-3.0.0")
    block = doc["framework"]
    controls = {c["id"]: c for c in block["controls"]}
    assert list(controls) == CIS_3  # every control, in the benchmark's order
    assert block["covered"] == 2 and block["scope"].startswith("section 5.2")
    assert controls["5.2.2"]["rules"] == ["PG-FLEX-005"]
    assert controls["5.2.2"]["status"] == "fail" and controls["5.2.2"]["verdicts"]["fail"] == 2
    assert controls["5.2.4"]["rules"] == ["PG-FLEX-009"] and controls["5.2.4"]["status"] == "fail"
    assert "reason" not in controls["5.2.2"]
    uncovered = {cid for cid, c in controls.items() if c["status"] == "not_covered"}
    assert uncovered == set(CIS_3) - {"5.2.2", "5.2.4"}
    assert all(controls[cid]["rules"] == [] and controls[cid]["reason"] for cid in uncovered)
    assert controls["5.2.8"]["reason"].startswith("single servers only")
    assert controls["5.2.1"]["reason"] == frameworks.NO_RULE


def test_a_passing_control_and_an_unlisted_one_a_rule_maps_to(write: Callable[[str, str], Path],
                                                              cli: Callable[..., Result]) -> None:
    rule = (FIXTURES / "rules" / "log-checkpoints.yaml").read_text()
    rule = rule.replace('cis-azure-2.0.0: ["4.3.2"]', 'cis-azure-2.0.0: ["4.3.2", "9.9"]')
    path = write("rules/r.yaml", rule)
    template = json.loads(Path(TEMPLATE).read_text())
    template["resources"][1]["properties"]["value"] = "on"
    del template["resources"][2]
    source = write("t.json", json.dumps(template))
    result = cli("scan", str(source), "--no-bundled-rules", "--rules", str(path.parent), "-f", "json",
                 "--framework", "CIS-Azure-2.0.0")
    controls = {c["id"]: c for c in json.loads(result.out)["framework"]["controls"]}
    assert controls["4.3.2"]["status"] == "pass"
    # A number the definition does not list is still shown (it is the rule's claim), untitled.
    assert list(controls)[-1] == "9.9" and "title" not in controls["9.9"]


def test_the_table_shows_every_control_within_80_columns(cli: Callable[..., Result],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("scan", TEMPLATE, *RULES, "--framework", "cis-azure-3.0.0")
    lines = result.out.splitlines()
    assert max(map(len, lines)) <= 80
    start = next(i for i, line in enumerate(lines) if line.startswith("CIS Microsoft Azure"))
    assert " 12 controls" in lines[start] + lines[start + 1]
    view = "\n".join(lines[start:])
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^(\d[\d.]*)\s+(fail|pass|unknown|n/a|not covered)\b",
                                                          view, re.M)}
    assert list(rows) == CIS_3
    assert rows["5.2.2"] == "fail" and rows["5.2.1"] == "not covered"
    assert "not covered: single servers only" in " ".join(view.split())


def test_the_markdown_html_and_sarif_views_hold_every_control(cli: Callable[..., Result],
                                                              tmp_path: Path) -> None:
    markdown, html, sarif = tmp_path / "r.md", tmp_path / "r.html", tmp_path / "r.sarif"
    cli("scan", TEMPLATE, *RULES, "--framework", "cis-azure-3.0.0", "-o", str(markdown), "-o", str(html),
        "-o", str(sarif))
    text = markdown.read_text()
    assert "| 5.2.2 | ❌ failing | PG-FLEX-005 | Ensure server parameter 'log\\_checkpoints'" in text
    assert "| 5.2.6 | ➖ not covered | — | \\[LEGACY\\] Ensure server parameter" in text
    page = html.read_text()
    assert page.count('<tr data-control="') == len(CIS_3)
    assert '<tr data-control="5.2.1" data-status="not_covered">' in page
    (taxonomy,) = json.loads(sarif.read_text())["runs"][0]["taxonomies"]
    taxa = {t["id"]: t for t in taxonomy["taxa"]}
    assert list(taxa) == CIS_3
    assert taxa["5.2.2"]["properties"]["status"] == "fail"
    assert taxa["5.2.8"]["properties"]["reason"].startswith("single servers only")
    assert taxa["5.2.2"]["shortDescription"]["text"].startswith("Ensure server parameter 'log_checkpoints'")


def test_frameworks_lists_each_with_how_many_controls_the_rules_cover(cli: Callable[..., Result],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("frameworks", *RULES)
    assert result.code == 0
    assert max(map(len, result.out.splitlines())) <= 80
    table = result.out.split("\n\n")[0].splitlines()[2:]
    rows = {line.split()[0]: line.split()[1:4] for line in table}
    assert list(rows) == ["cis-azure-2.0.0", "cis-azure-3.0.0"]  # no rule here maps to another
    assert rows["cis-azure-3.0.0"] == ["2", "of", "12"]
    assert rows["cis-azure-2.0.0"] == ["1", "of", "12"]
    # With the bundled rules, every framework they map to is listed too.
    bundled = cli("frameworks")
    assert {"azure-policy", "mcsb", "cis-azure-2.0.0", "cis-azure-3.0.0"} <= {
        line.split()[0] for line in bundled.out.split("\n\n")[0].splitlines()[2:]}


def test_frameworks_id_lists_every_control_with_its_rules_or_why_none(
        cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("frameworks", "cis-azure-3.0.0", *RULES)
    assert result.code == 0 and max(map(len, result.out.splitlines())) <= 80
    assert re.search(r"^5\.2\.2\s+PG-FLEX-005$", result.out, re.M)
    assert re.search(r"^5\.2\.8\s+not covered$", result.out, re.M)
    assert "  why: single servers only" in result.out


@pytest.mark.parametrize("argv", [("frameworks", "cis-azure-3.0"), ("scan", "--framework", "cis-azure-3.0")])
def test_an_unknown_framework_is_a_usage_error_with_the_closest(cli: Callable[..., Result],
                                                                argv: tuple[str, ...]) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert "unknown framework 'cis-azure-3.0' (did you mean cis-azure-3.0.0?)" in result.err
    assert "known: azure-policy, cis-azure-2.0.0, cis-azure-3.0.0, mcsb" in result.err


def test_a_control_s_status_is_the_worst_of_its_rules() -> None:
    from policyengine.findings import Verdict

    assert frameworks.status([]) is ControlStatus.NOT_COVERED
    assert frameworks.status([{Verdict.PASS: 2}, {Verdict.FAIL: 1}]) is ControlStatus.FAIL
    assert frameworks.status([{Verdict.PASS: 2}, {Verdict.ERROR: 1}]) is ControlStatus.UNKNOWN
    assert frameworks.status([{Verdict.WAIVED: 1}]) is ControlStatus.PASS
    assert frameworks.status([{}]) is ControlStatus.NOT_APPLICABLE


def test_frameworks_without_a_definition_list_the_mapped_controls_only() -> None:
    mcsb = known(load_rules([]))["mcsb"]
    assert mcsb.scope == "" and mcsb.covered == len(mcsb.controls) > 0


@pytest.mark.parametrize(("data", "message"), [
    ([], "not a mapping"),
    ({"id": "x", "title": "X", "scope": "s", "sources": ["u"], "controls": []}, "controls must be"),
    ({"id": "x", "title": "X", "scope": "s", "controls": [{"id": "1", "title": "t"}]}, "sources must"),
    ({"id": "x", "title": "X", "scope": "s", "sources": ["u"], "controls": [{"id": "1", "title": ""}]},
     "controls[0]: id and title"),
    ({"id": "x", "title": "X", "scope": "s", "sources": ["u"],
      "controls": [{"id": "1", "title": "t"}, {"id": "1", "title": "u"}]}, "control 1 is listed twice"),
    ({"id": "x", "title": "X", "scope": "s", "sources": ["u"], "controls": [{"id": "1", "name": "t"}]},
     "controls[0] must have"),
])
def test_a_malformed_definition_is_refused(data: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)):
        parse_definition(data, "x.yaml")


def test_the_reports_page_shows_the_real_listing_and_error(cli: Callable[..., Result],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_docs import REPORTS, assert_shown_is_real, shown_after_prompt

    monkeypatch.setenv("COLUMNS", "80")
    page = REPORTS.read_text("utf-8")
    assert_shown_is_real(shown_after_prompt(page, "$ policyengine frameworks"), cli("frameworks").out,
                         "docs/reports.md's `policyengine frameworks`")
    error = cli("scan", "--framework", "cis-azure-3.0")
    assert error.code == 2
    assert error.err == shown_after_prompt(page, "$ policyengine scan --framework cis-azure-3.0")
